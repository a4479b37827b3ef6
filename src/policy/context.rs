//! The request context: condition keys and their values. Keys compare case-insensitively.
//! A key is either known (with one or more values), known to be absent, or unknown — and an
//! unknown key makes any condition on it undecidable offline.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct Context {
    /// lower-cased key → (key as given, values)
    values: BTreeMap<String, (String, Vec<String>)>,
    /// lower-cased keys known not to be in the request
    absent: BTreeSet<String>,
}

pub enum Lookup<'a> {
    Known(&'a [String]),
    Absent,
    Unknown,
}

impl Context {
    /// Sets a key's values, replacing any earlier ones (the user's values win over derived ones).
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        let lower = key.to_ascii_lowercase();
        self.absent.remove(&lower);
        self.values.insert(lower, (key.to_owned(), values));
    }

    /// Adds one value to a key (repeating `--context KEY=VALUE` builds a multi-valued key).
    pub fn push(&mut self, key: &str, value: String) {
        let lower = key.to_ascii_lowercase();
        self.absent.remove(&lower);
        self.values
            .entry(lower)
            .or_insert_with(|| (key.to_owned(), Vec::new()))
            .1
            .push(value);
    }

    pub fn mark_absent(&mut self, key: &str) {
        let lower = key.to_ascii_lowercase();
        self.values.remove(&lower);
        self.absent.insert(lower);
    }

    /// Makes a key unknown again (neither a value nor absent).
    pub fn forget(&mut self, key: &str) {
        let lower = key.to_ascii_lowercase();
        self.values.remove(&lower);
        self.absent.remove(&lower);
    }

    /// The context of the account delegation's request: any IAM principal of the account, so
    /// the keys that name one principal (its ARN, ID, name, type, tags) are not known — a
    /// condition on them holds for some principals and not others (the break-glass pattern,
    /// `ArnNotEquals aws:PrincipalArn …/BreakGlass`, spares one role) — while the account's own
    /// keys are.
    pub fn for_account_delegation(
        account: &super::principal::Identity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Context {
        let mut c = Context::for_kms_request(account, now);
        for k in [
            "aws:PrincipalArn",
            "aws:userid",
            "aws:username",
            "aws:PrincipalType",
        ] {
            c.forget(k);
        }
        c
    }

    /// Looks up a key that is already lower-cased.
    pub fn lookup(&self, lower_key: &str) -> Lookup<'_> {
        if let Some((_, v)) = self.values.get(lower_key) {
            Lookup::Known(v)
        } else if self.absent.contains(lower_key) {
            Lookup::Absent
        } else {
            Lookup::Unknown
        }
    }

    /// Merges `other` over `self`: its known and absent keys replace ours.
    pub fn overlay(&mut self, other: &Context) {
        for (lower, (key, values)) in &other.values {
            self.absent.remove(lower);
            self.values
                .insert(lower.clone(), (key.clone(), values.clone()));
        }
        for lower in &other.absent {
            self.values.remove(lower);
            self.absent.insert(lower.clone());
        }
    }
}

impl Context {
    /// A KMS request's context: [`Context::for_principal`], and `aws:SecureTransport` true —
    /// AWS KMS requires TLS for every request (KMS Developer Guide, "Infrastructure security
    /// in AWS Key Management Service":
    /// <https://docs.aws.amazon.com/kms/latest/developerguide/infrastructure-security.html>),
    /// so a condition on it is decided, never "conditional".
    pub fn for_kms_request(
        principal: &super::principal::Identity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Context {
        let mut c = Context::for_principal(principal, now);
        c.insert("aws:SecureTransport", vec!["true".to_owned()]);
        c
    }

    /// The keys IAM and KMS set from the principal making the request, plus the time. Keys
    /// that cannot exist for this kind of principal are marked absent; keys that depend on
    /// facts not known offline (unique IDs, tags, network) are left unknown.
    pub fn for_principal(
        principal: &super::principal::Identity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Context {
        use super::principal::Identity;
        let mut c = Context::default();
        let one = |s: &str| vec![s.to_owned()];
        c.insert(
            "aws:CurrentTime",
            one(&now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        c.insert("aws:EpochTime", one(&now.timestamp().to_string()));
        if let Some(account) = principal.account() {
            c.insert("aws:PrincipalAccount", one(account));
            c.insert("kms:CallerAccount", one(account));
            c.insert("aws:PrincipalIsAWSService", one("false"));
            c.mark_absent("aws:PrincipalServiceName");
        }
        if let Some(t) = principal.principal_type() {
            c.insert("aws:PrincipalType", one(t));
        }
        if let Some(arn) = principal.principal_arn() {
            c.insert("aws:PrincipalArn", one(&arn));
        }
        match principal {
            Identity::User { name, .. } => c.insert("aws:username", one(name)),
            Identity::Account { account, .. } => {
                c.insert("aws:userid", one(account));
                c.mark_absent("aws:username");
            }
            Identity::Role { .. }
            | Identity::AssumedRole { .. }
            | Identity::FederatedUser { .. } => c.mark_absent("aws:username"),
            Identity::Service(name) => {
                c.insert("aws:PrincipalIsAWSService", one("true"));
                c.insert("aws:PrincipalServiceName", one(name));
                for k in [
                    "aws:PrincipalArn",
                    "aws:PrincipalAccount",
                    "aws:username",
                    "aws:userid",
                ] {
                    c.mark_absent(k);
                }
            }
            Identity::Anyone => {}
        }
        c
    }
}
