//! A CloudTrail record, read once for every source (the event history, log files, Athena
//! rows): is it a policy change of this key, and what did it set?

use crate::diagnosis::model::{
    AccountId, EventId, PolicyEvent, PolicyEventName, SourceIp, Timestamp, UserAgent,
};
use serde_json::Value;

/// The key, as events may name it.
#[derive(Debug, Clone, Default)]
pub struct KeyRef {
    pub arn: Option<String>,
    pub key_id: Option<String>,
    /// A multi-Region replica: its primary key's Region (DescribeKey said so).
    pub primary_region: Option<String>,
}

impl KeyRef {
    /// The key as the gathered facts name it.
    pub fn of(key: &crate::diagnosis::model::KeyFacts) -> KeyRef {
        KeyRef {
            arn: key.arn.clone(),
            key_id: key.key_id.as_ref().map(|k| k.to_string()),
            primary_region: key.primary_region.clone(),
        }
    }

    /// A key as `scan` read it.
    pub fn of_scanned(key: &crate::diagnosis::model::KeyEvidence) -> KeyRef {
        KeyRef {
            arn: key.arn.clone(),
            key_id: Some(key.key_id.to_string()),
            primary_region: key.primary_region.clone(),
        }
    }

    fn is(&self, s: &str) -> bool {
        self.arn.as_deref() == Some(s) || self.key_id.as_deref() == Some(s)
    }
}

/// Which key (of one or of many) a record names.
pub trait KeyMatch {
    /// What identifies the key matched.
    type Id: Copy;
    fn find(&self, id_or_arn: &str) -> Option<Self::Id>;
    /// The key's ARN is not known (only then may a replica's key ID stand for it).
    fn known_by_id_alone(&self) -> bool {
        false
    }
    /// The Region of the key(s), when known: a multi-Region key ID (`mrk-…`) is shared by the
    /// related keys of every Region, so a record names this key by it only in its Region.
    fn region(&self) -> Option<&str> {
        None
    }
    /// The key matched is known to be a multi-Region replica.
    fn replica(&self, id: Self::Id) -> bool;
}

impl KeyMatch for KeyRef {
    type Id = ();
    fn find(&self, s: &str) -> Option<()> {
        self.is(s).then_some(())
    }
    fn known_by_id_alone(&self) -> bool {
        self.arn.is_none()
    }
    fn replica(&self, (): ()) -> bool {
        self.primary_region.is_some()
    }
    fn region(&self) -> Option<&str> {
        self.arn
            .as_deref()
            .and_then(|a| a.split(':').nth(3))
            .filter(|r| !r.is_empty())
    }
}

/// Many keys at once (a Region's, for `scan`): each by ID and by ARN, as its index.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    by_name: std::collections::HashMap<String, usize>,
    /// The keys' Region (one scan's set is one Region's), from their ARNs.
    region: Option<String>,
    /// The indexes of the multi-Region replicas.
    replicas: std::collections::HashSet<usize>,
}

impl KeySet {
    pub fn insert(&mut self, index: usize, key: &KeyRef) {
        if self.region.is_none() {
            self.region = key.region().map(str::to_owned);
        }
        for name in [&key.arn, &key.key_id].into_iter().flatten() {
            self.by_name.insert(name.clone(), index);
        }
        if key.primary_region.is_some() {
            self.replicas.insert(index);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl KeyMatch for KeySet {
    type Id = usize;
    fn find(&self, s: &str) -> Option<usize> {
        self.by_name.get(s).copied()
    }
    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    fn replica(&self, id: usize) -> bool {
        self.replicas.contains(&id)
    }
}

/// A CloudTrail record that cannot be read: it is skipped and counted.
#[derive(Debug, PartialEq, Eq)]
pub struct UnreadableRecord;

/// Reads one CloudTrail record's text; `Ok(None)` if it is not about this key.
pub fn read_record(record: &str, key: &KeyRef) -> Result<Option<PolicyEvent>, UnreadableRecord> {
    Ok(read_record_of(record, key)?.map(|((), e)| e))
}

/// Reads one CloudTrail record's text; `Ok(None)` if it is about none of `keys`.
pub fn read_record_of<M: KeyMatch>(
    record: &str,
    keys: &M,
) -> Result<Option<(M::Id, PolicyEvent)>, UnreadableRecord> {
    let v: Value = serde_json::from_str(record).map_err(|_| UnreadableRecord)?;
    read_value_of(&v, keys)
}

/// Reads one CloudTrail record, already parsed (Athena rows are built as values).
pub fn read_record_value(v: &Value, key: &KeyRef) -> Result<Option<PolicyEvent>, UnreadableRecord> {
    Ok(read_value_of(v, key)?.map(|((), e)| e))
}

fn read_value_of<M: KeyMatch>(
    v: &Value,
    key: &M,
) -> Result<Option<(M::Id, PolicyEvent)>, UnreadableRecord> {
    let Some(event_name) = PolicyEventName::parse(
        v.get("eventName")
            .and_then(Value::as_str)
            .ok_or(UnreadableRecord)?,
    ) else {
        return Ok(None);
    };
    let req = v.get("requestParameters").filter(|r| r.is_object());
    let matches = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .and_then(|k| key.find(k))
    };
    // Related multi-Region keys share their key ID, and each has its own key policy, never
    // synchronized (KMS Developer Guide, "Multi-Region keys in AWS KMS":
    // <https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html>):
    // a record names this key by an `mrk-` ID only in this key's Region.
    let event_region = v.get("awsRegion").and_then(Value::as_str);
    let matches_by_id = |p: &str| {
        let id = v.pointer(p).and_then(Value::as_str)?;
        let shared = id.starts_with("mrk-");
        let same_region = match (key.region(), event_region) {
            (Some(k), Some(e)) => k == e,
            _ => true,
        };
        key.find(id).filter(|_| !shared || same_region)
    };
    let about_key = if event_name == PolicyEventName::ReplicateKey {
        // The policy of a ReplicateKey is the new replica's, not the primary key's: only its
        // ARN names the replica alone (the key ID is the primary's too).
        matches("/responseElements/replicaKeyMetadata/arn").or_else(|| {
            matches("/responseElements/replicaKeyMetadata/keyId")
                .filter(|_| key.known_by_id_alone())
        })
    } else {
        v.get("resources")
            .and_then(Value::as_array)
            .and_then(|rs| {
                rs.iter().find_map(|r| {
                    r.get("ARN")
                        .and_then(Value::as_str)
                        .and_then(|a| key.find(a))
                })
            })
            .or_else(|| matches_by_id("/requestParameters/keyId"))
            .or_else(|| matches_by_id("/responseElements/keyMetadata/keyId"))
            .or_else(|| matches("/responseElements/keyMetadata/arn"))
    };
    let Some(id) = about_key else {
        return Ok(None);
    };
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let as_text = |p: &Value| match p {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        // Some records carry the policy as an object rather than a string.
        other => Some(other.to_string()),
    };
    let mut policy = req.and_then(|r| r.get("policy")).and_then(as_text);
    if event_name == PolicyEventName::ReplicateKey && policy.is_none() {
        // The replica's policy as KMS answered it (ReplicateKey's `ReplicaPolicy`): what it set,
        // when the request carried none (the default policy then).
        policy = v
            .pointer("/responseElements/replicaPolicy")
            .and_then(as_text);
    }
    let replica_created = event_name == PolicyEventName::CreateKey
        && (key.replica(id)
            || v.pointer(
                "/responseElements/keyMetadata/multiRegionConfiguration/multiRegionKeyType",
            )
            .and_then(Value::as_str)
                == Some("REPLICA"));
    if replica_created && policy.is_none() {
        // A ReplicateKey request is recorded twice: ReplicateKey in the primary's Region, with
        // the policy it set, and a CreateKey in the replica's Region (KMS Developer Guide,
        // "ReplicateKey" CloudTrail example:
        // <https://docs.aws.amazon.com/kms/latest/developerguide/ct-replicate-key.html>). That
        // CreateKey without a policy does not mean the default policy: the ReplicateKey's is
        // in force, so it is not the event that set it.
        return Ok(None);
    }
    if event_name == PolicyEventName::PutKeyPolicy
        && policy.is_none()
        && text("/errorCode").is_none()
    {
        // A successful PutKeyPolicy always carries its policy: this record is damaged.
        return Err(UnreadableRecord);
    }
    Ok(Some((
        id,
        PolicyEvent {
            event_id: text("/eventID").map(EventId),
            event_time: text("/eventTime").and_then(|t| Timestamp::parse(&t)),
            event_name,
            changed_by: text("/userIdentity/arn"),
            role_arn: text("/userIdentity/sessionContext/sessionIssuer/arn"),
            source_ip: text("/sourceIPAddress").map(SourceIp),
            user_agent: text("/userAgent").map(UserAgent),
            policy,
            bypass_lockout_check: req
                .and_then(|r| r.get("bypassPolicyLockoutSafetyCheck"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            error_code: text("/errorCode"),
            error_message: text("/errorMessage"),
            account: text("/recipientAccountId")
                .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
                .map(AccountId),
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyRef {
        KeyRef {
            arn: Some("arn:aws:kms:us-east-1:111122223333:key/k1".into()),
            key_id: Some("k1".into()),
            primary_region: None,
        }
    }

    #[test]
    fn reads_a_put_key_policy_record() {
        let record = serde_json::json!({
            "eventName": "PutKeyPolicy", "eventID": "e1", "eventTime": "2026-11-01T10:00:00Z",
            "userIdentity": {"arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/ops/Admin"}}},
            "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
            "requestParameters": {"keyId": "k1", "policyName": "default", "policy": "{}", "bypassPolicyLockoutSafetyCheck": true}
        });
        let e = read_record(&record.to_string(), &key()).unwrap().unwrap();
        assert_eq!(
            e.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/ops/Admin")
        );
        assert!(e.bypass_lockout_check);
        assert_eq!(e.policy.as_deref(), Some("{}"));
    }

    #[test]
    fn a_replicate_key_event_is_about_the_replica() {
        let replica = KeyRef {
            arn: Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
            primary_region: None,
        };
        let primary = KeyRef {
            arn: Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
            primary_region: None,
        };
        let record = serde_json::json!({
            "eventName": "ReplicateKey", "eventTime": "2026-11-01T00:00:00Z",
            "requestParameters": {"keyId": "mrk-1", "replicaRegion": "eu-west-1", "policy": "{}"},
            "responseElements": {"replicaKeyMetadata": {"keyId": "mrk-1", "arn": "arn:aws:kms:eu-west-1:111122223333:key/mrk-1"}}
        })
        .to_string();
        assert!(read_record(&record, &replica).unwrap().is_some());
        assert_eq!(
            read_record(&record, &primary),
            Ok(None),
            "the primary's policy did not change"
        );
        let decrypt =
            serde_json::json!({"eventName": "Decrypt", "requestParameters": {"keyId": "mrk-1"}})
                .to_string();
        assert_eq!(
            read_record(&decrypt, &replica),
            Ok(None),
            "not a policy event"
        );
    }

    #[test]
    fn other_keys_and_damaged_records_are_told_apart() {
        let other = serde_json::json!({"eventName": "PutKeyPolicy", "requestParameters": {"keyId": "k2", "policy": "{}"}});
        assert_eq!(read_record(&other.to_string(), &key()), Ok(None));
        assert_eq!(read_record("{not json", &key()), Err(UnreadableRecord));
        let no_policy =
            serde_json::json!({"eventName": "PutKeyPolicy", "requestParameters": {"keyId": "k1"}});
        assert_eq!(
            read_record(&no_policy.to_string(), &key()),
            Err(UnreadableRecord)
        );
        let create = serde_json::json!({"eventName": "CreateKey", "requestParameters": {"description": "x"},
            "responseElements": {"keyMetadata": {"keyId": "k1"}}});
        let e = read_record(&create.to_string(), &key()).unwrap().unwrap();
        assert_eq!(e.policy, None, "created with the default policy");
    }

    /// Related multi-Region keys share their key ID and each has its own policy: the primary's
    /// PutKeyPolicy (same `mrk-` ID, another Region) is not the replica's.
    #[test]
    fn a_multi_region_key_id_names_a_key_only_in_its_region() {
        let replica = KeyRef {
            arn: Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
            primary_region: None,
        };
        let put = |region: &str| {
            serde_json::json!({"eventName": "PutKeyPolicy", "awsRegion": region,
                "requestParameters": {"keyId": "mrk-1", "policy": "{}"}})
            .to_string()
        };
        assert_eq!(read_record(&put("us-east-1"), &replica), Ok(None));
        assert!(read_record(&put("eu-west-1"), &replica).unwrap().is_some());
        // A single-Region key's ID is its alone.
        let single = serde_json::json!({"eventName": "PutKeyPolicy", "awsRegion": "eu-west-1",
            "requestParameters": {"keyId": "k1", "policy": "{}"}});
        assert!(read_record(&single.to_string(), &key()).unwrap().is_some());
    }

    /// The replica Region's half of a ReplicateKey — an internal CreateKey without a policy —
    /// is not "the default key policy": the ReplicateKey's policy is the replica's.
    #[test]
    fn a_replica_s_internal_create_key_sets_no_policy() {
        let replica = KeyRef {
            arn: Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
            primary_region: None,
        };
        let create = |kind: &str| {
            serde_json::json!({
                "eventName": "CreateKey", "awsRegion": "eu-west-1", "userAgent": "AWS Internal",
                "requestParameters": {"keyUsage": "ENCRYPT_DECRYPT"},
                "responseElements": {"keyMetadata": {"keyId": "mrk-1",
                    "arn": "arn:aws:kms:eu-west-1:111122223333:key/mrk-1",
                    "multiRegionConfiguration": {"multiRegionKeyType": kind}}}
            })
            .to_string()
        };
        assert_eq!(read_record(&create("REPLICA"), &replica), Ok(None));
        assert!(read_record(&create("PRIMARY"), &replica).unwrap().is_some());
        // Known a replica from DescribeKey, even when the record does not say so.
        let known = KeyRef {
            primary_region: Some("us-east-1".into()),
            ..replica
        };
        assert_eq!(read_record(&create("PRIMARY"), &known), Ok(None));
    }

    /// What ReplicateKey set is the replica's first policy: the request's, else the
    /// `replicaPolicy` KMS answered — not "the default policy".
    #[test]
    fn a_replica_s_first_policy_is_the_one_replicate_key_set() {
        let replica = KeyRef {
            arn: Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
            primary_region: None,
        };
        let record = serde_json::json!({
            "eventName": "ReplicateKey", "awsRegion": "us-east-1",
            "requestParameters": {"keyId": "mrk-1", "replicaRegion": "eu-west-1"},
            "responseElements": {"replicaKeyMetadata": {"keyId": "mrk-1",
                "arn": "arn:aws:kms:eu-west-1:111122223333:key/mrk-1"},
                "replicaPolicy": "{\"Version\": \"2012-10-17\"}"}
        })
        .to_string();
        let e = read_record(&record, &replica).unwrap().unwrap();
        assert_eq!(e.policy.as_deref(), Some("{\"Version\": \"2012-10-17\"}"));
    }
}
