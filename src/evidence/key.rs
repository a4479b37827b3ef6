//! Naming a key: key ID, key ARN, alias name or alias ARN; and what is known of the key.

use super::KeyMetadata;
use crate::diagnosis::model::{AccountId, KeyFacts, ResolvedFrom};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInput {
    KeyId(String),
    KeyArn {
        arn: String,
        partition: String,
        region: String,
        account: String,
        key_id: String,
    },
    /// `alias/NAME`
    Alias(String),
    AliasArn {
        arn: String,
        partition: String,
        region: String,
        account: String,
        alias: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not a key: give a key ID, a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), an alias \
     name (alias/NAME) or an alias ARN"
)]
pub struct KeyInputError(pub String);

/// Letters, digits and `-`: the shape of every KMS key ID.
fn is_key_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl KeyInput {
    pub fn parse(s: &str) -> Result<KeyInput, KeyInputError> {
        let err = || KeyInputError(s.to_owned());
        let s = s.trim();
        if s.is_empty() {
            return Err(err());
        }
        if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, "kms", region, account, resource] = parts[..] else {
                return Err(err());
            };
            if region.is_empty()
                || account.len() != 12
                || !account.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(err());
            }
            let (partition, region, account) =
                (partition.to_owned(), region.to_owned(), account.to_owned());
            return if let Some(id) = resource.strip_prefix("key/").filter(|id| is_key_id(id)) {
                Ok(KeyInput::KeyArn {
                    arn: s.to_owned(),
                    partition,
                    region,
                    account,
                    key_id: id.to_owned(),
                })
            } else if resource.starts_with("alias/") && resource.len() > 6 {
                Ok(KeyInput::AliasArn {
                    arn: s.to_owned(),
                    partition,
                    region,
                    account,
                    alias: resource.to_owned(),
                })
            } else {
                Err(err())
            };
        }
        if s.starts_with("alias/") {
            return if s.len() > 6 {
                Ok(KeyInput::Alias(s.to_owned()))
            } else {
                Err(err())
            };
        }
        // Key IDs are UUIDs or `mrk-` and hex: nothing else can name a key (and nothing else
        // reaches the Athena query built from it).
        if !is_key_id(s) {
            return Err(err());
        }
        Ok(KeyInput::KeyId(s.to_owned()))
    }

    /// The key as the user wrote it.
    pub fn as_str(&self) -> &str {
        match self {
            KeyInput::KeyId(s) | KeyInput::Alias(s) => s,
            KeyInput::KeyArn { arn, .. } | KeyInput::AliasArn { arn, .. } => arn,
        }
    }

    /// The key's ID, when the input names one (a key ID or key ARN; not an alias).
    pub fn key_id(&self) -> Option<&str> {
        match self {
            KeyInput::KeyId(id) | KeyInput::KeyArn { key_id: id, .. } => Some(id),
            _ => None,
        }
    }

    /// The key's ARN, when the input is one.
    pub fn key_arn(&self) -> Option<&str> {
        match self {
            KeyInput::KeyArn { arn, .. } => Some(arn),
            _ => None,
        }
    }

    /// The account the input names, when it is an ARN.
    pub fn account(&self) -> Option<&str> {
        match self {
            KeyInput::KeyArn { account, .. } | KeyInput::AliasArn { account, .. } => Some(account),
            _ => None,
        }
    }

    pub fn region(&self) -> Option<&str> {
        match self {
            KeyInput::KeyArn { region, .. } | KeyInput::AliasArn { region, .. } => Some(region),
            _ => None,
        }
    }

    pub fn alias(&self) -> Option<&str> {
        match self {
            KeyInput::Alias(a) | KeyInput::AliasArn { alias: a, .. } => Some(a),
            _ => None,
        }
    }
}

impl KeyFacts {
    pub fn from_metadata(input: &str, md: &KeyMetadata, region: Option<&str>) -> KeyFacts {
        let region = md
            .arn
            .as_deref()
            .and_then(|a| a.split(':').nth(3))
            .map(str::to_owned)
            .or(region.map(str::to_owned));
        KeyFacts {
            input: input.to_owned(),
            arn: md.arn.clone(),
            key_id: Some(md.key_id.as_str().into()),
            account: md.account.as_deref().map(AccountId::from),
            region,
            manager: md.manager.clone(),
            state: md.state.clone(),
            deletion_date: md.deletion_date,
            not_found: false,
            resolved_from: Some(ResolvedFrom::DescribeKey),
            primary_region: md.primary_region.clone(),
        }
    }

    /// What the input alone tells, when `DescribeKey` did not answer. A bare key ID (or an
    /// alias resolved by `ListAliases`) names a key in the caller's account and Region: that
    /// is how KMS resolves it.
    pub fn derived(
        input: &KeyInput,
        raw: &str,
        caller_account: &str,
        region: Option<&str>,
        partition: &str,
        alias_target: Option<&str>,
    ) -> KeyFacts {
        let mut facts = KeyFacts {
            input: raw.to_owned(),
            ..KeyFacts::default()
        };
        let build = |partition: &str, region: &str, account: &str, id: &str| {
            format!("arn:{partition}:kms:{region}:{account}:key/{id}")
        };
        match input {
            KeyInput::KeyArn {
                arn,
                region,
                account,
                key_id,
                ..
            } => {
                facts.arn = Some(arn.clone());
                facts.key_id = Some(key_id.as_str().into());
                facts.account = Some(account.as_str().into());
                facts.region = Some(region.clone());
                facts.resolved_from = Some(ResolvedFrom::Input);
            }
            KeyInput::AliasArn {
                partition: p,
                region: r,
                account,
                ..
            } => {
                facts.account = Some(account.as_str().into());
                facts.region = Some(r.clone());
                if let Some(id) = alias_target {
                    facts.key_id = Some(id.into());
                    facts.arn = Some(build(p, r, account, id));
                    facts.resolved_from = Some(ResolvedFrom::ListAliases);
                }
            }
            KeyInput::KeyId(id) => {
                facts.key_id = Some(id.as_str().into());
                facts.account = Some(caller_account.into());
                facts.region = region.map(str::to_owned);
                if let Some(r) = region {
                    facts.arn = Some(build(partition, r, caller_account, id));
                    facts.resolved_from = Some(ResolvedFrom::CallerAccount);
                }
            }
            KeyInput::Alias(_) => {
                facts.account = Some(caller_account.into());
                facts.region = region.map(str::to_owned);
                if let (Some(id), Some(r)) = (alias_target, region) {
                    facts.key_id = Some(id.into());
                    facts.arn = Some(build(partition, r, caller_account, id));
                    facts.resolved_from = Some(ResolvedFrom::ListAliases);
                }
            }
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_way_to_name_a_key() {
        assert!(matches!(
            KeyInput::parse("1234abcd-12ab-34cd-56ef-1234567890ab"),
            Ok(KeyInput::KeyId(_))
        ));
        assert!(matches!(
            KeyInput::parse("mrk-1234abcd12ab34cd56ef1234567890ab"),
            Ok(KeyInput::KeyId(_))
        ));
        assert!(matches!(
            KeyInput::parse("alias/payments"),
            Ok(KeyInput::Alias(_))
        ));
        let arn = KeyInput::parse("arn:aws:kms:eu-west-1:111122223333:key/1234").unwrap();
        assert_eq!(arn.account(), Some("111122223333"));
        assert_eq!(arn.region(), Some("eu-west-1"));
        let alias = KeyInput::parse("arn:aws:kms:eu-west-1:111122223333:alias/payments").unwrap();
        assert_eq!(alias.alias(), Some("alias/payments"));
        for bad in [
            "",
            "alias/",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:eu-west-1:1111:key/1",
            "a b",
            "key/1",
        ] {
            assert!(KeyInput::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_id_resolves_in_the_callers_account_and_region() {
        let input = KeyInput::parse("1234").unwrap();
        let f = KeyFacts::derived(
            &input,
            "1234",
            "111122223333",
            Some("us-east-1"),
            "aws",
            None,
        );
        assert_eq!(
            f.arn.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/1234")
        );
        let alias = KeyInput::parse("alias/x").unwrap();
        let f = KeyFacts::derived(
            &alias,
            "alias/x",
            "111122223333",
            Some("us-east-1"),
            "aws",
            None,
        );
        assert_eq!(f.arn, None, "an unresolved alias is not guessed");
    }
}
