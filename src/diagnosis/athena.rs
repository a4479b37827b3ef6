//! The Athena query over a CloudTrail table that finds a key's policy changes: written once, for
//! `history --athena-table`, `--print-athena-sql`, the recovery of the policy in force and the
//! next steps that print it.

/// The Athena query over a CloudTrail table that finds the key's policy changes.
pub fn athena_sql(table: &str, key_id: &str, since: Option<&str>, until: Option<&str>) -> String {
    let mut sql = format!(
        "SELECT eventtime, eventname, eventid, useridentity.arn AS author,\n       \
         useridentity.sessioncontext.sessionissuer.arn AS role_arn, sourceipaddress, useragent,\n       \
         errorcode, requestparameters, responseelements\n\
         FROM {table}\n\
         WHERE eventsource = 'kms.amazonaws.com'\n  \
         AND eventname IN ('PutKeyPolicy', 'CreateKey', 'ReplicateKey')\n  \
         AND (requestparameters LIKE '%{key_id}%' OR responseelements LIKE '%{key_id}%')"
    );
    if let Some(s) = since {
        sql.push_str(&format!("\n  AND eventtime >= '{s}'"));
    }
    if let Some(u) = until {
        sql.push_str(&format!("\n  AND eventtime <= '{u}'"));
    }
    sql.push_str("\nORDER BY eventtime ASC");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_athena_query_names_the_key_and_the_window() {
        let sql = athena_sql("cloudtrail_logs", "k1", Some("2026-01-01T00:00:00Z"), None);
        assert!(sql.contains("FROM cloudtrail_logs"));
        assert!(sql.contains("'%k1%'"));
        assert!(sql.contains("eventtime >= '2026-01-01T00:00:00Z'"));
    }
}
