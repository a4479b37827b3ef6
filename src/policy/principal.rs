//! Principals: who makes a request, and what a policy's `Principal` entries name.
//!
//! KMS compares principals the way IAM stores them: a role ARN names the role by account and
//! name (role names are unique in an account, so the path does not change which role it is) and
//! matches every session of that role; an account ARN (`arn:aws:iam::ACCT:root`) or a bare
//! account ID names the account; a unique ID (`AROA…`, `AIDA…`) is what IAM leaves in a policy
//! when the principal it named was deleted, and it never matches an ARN again.

use serde::Serialize;
use std::fmt;

/// An identity that makes (or could make) a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// The account itself: its root user, or (as a restorer) "any IAM principal of the account".
    Account {
        partition: String,
        account: String,
    },
    User {
        partition: String,
        account: String,
        path: String,
        name: String,
    },
    /// A role; as a caller it stands for any session of the role. `path` is `None` when the
    /// role was named by a session ARN, which does not carry it.
    Role {
        partition: String,
        account: String,
        path: Option<String>,
        name: String,
    },
    AssumedRole {
        partition: String,
        account: String,
        role_name: String,
        session: String,
        role_path: Option<String>,
    },
    FederatedUser {
        partition: String,
        account: String,
        name: String,
    },
    Service(String),
    /// Anyone at all, including anonymous callers: what `"Principal": "*"` covers.
    Anyone,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not a principal kms-doctor understands: give an IAM user, role or account ARN, an \
     assumed-role or federated-user session ARN, a 12-digit account ID, or a service principal \
     such as logs.amazonaws.com"
)]
pub struct PrincipalParseError(pub String);

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Unique IDs IAM writes into policies in place of deleted principals (and that callers may
/// type): user `AIDA`, role `AROA`, and the other documented prefixes.
pub fn is_unique_id(s: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "AIDA", "AROA", "AGPA", "AIPA", "ANPA", "ANVA", "APKA", "ASCA", "ASIA", "AKIA",
    ];
    s.len() >= 16
        && s.len() <= 128
        && PREFIXES.iter().any(|p| s.starts_with(p))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Splits `/path/name` into (`/path/`, `name`).
fn split_path(rest: &str) -> Option<(String, String)> {
    let (path, name) = match rest.rfind('/') {
        Some(i) => (&rest[..=i], &rest[i + 1..]),
        None => ("", rest),
    };
    if name.is_empty() {
        return None;
    }
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}", path.trim_start_matches('/'))
    };
    Some((path, name.to_owned()))
}

impl Identity {
    /// Parses an ARN, account ID or service principal.
    pub fn parse(s: &str) -> Result<Identity, PrincipalParseError> {
        let err = || PrincipalParseError(s.to_owned());
        if s == "*" {
            return Ok(Identity::Anyone);
        }
        if is_account_id(s) {
            return Ok(Identity::Account {
                partition: "aws".into(),
                account: s.to_owned(),
            });
        }
        if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(err());
            };
            if !region.is_empty() || !is_account_id(account) || partition.is_empty() {
                return Err(err());
            }
            let partition = partition.to_owned();
            let account = account.to_owned();
            if resource.contains('*') || resource.contains('?') {
                return Err(err());
            }
            return match service {
                "iam" if resource == "root" => Ok(Identity::Account { partition, account }),
                "iam" => {
                    if let Some(rest) = resource.strip_prefix("user/") {
                        let (path, name) = split_path(rest).ok_or_else(err)?;
                        Ok(Identity::User {
                            partition,
                            account,
                            path,
                            name,
                        })
                    } else if let Some(rest) = resource.strip_prefix("role/") {
                        let (path, name) = split_path(rest).ok_or_else(err)?;
                        Ok(Identity::Role {
                            partition,
                            account,
                            path: Some(path),
                            name,
                        })
                    } else {
                        Err(err())
                    }
                }
                "sts" => {
                    if let Some(rest) = resource.strip_prefix("assumed-role/") {
                        let (role_name, session) = rest.split_once('/').ok_or_else(err)?;
                        if role_name.is_empty() || session.is_empty() || session.contains('/') {
                            return Err(err());
                        }
                        Ok(Identity::AssumedRole {
                            partition,
                            account,
                            role_name: role_name.to_owned(),
                            session: session.to_owned(),
                            role_path: None,
                        })
                    } else if let Some(name) = resource.strip_prefix("federated-user/") {
                        if name.is_empty() || name.contains('/') {
                            return Err(err());
                        }
                        Ok(Identity::FederatedUser {
                            partition,
                            account,
                            name: name.to_owned(),
                        })
                    } else {
                        Err(err())
                    }
                }
                _ => Err(err()),
            };
        }
        if s.contains('.')
            && !s.contains(':')
            && !s.contains('/')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Ok(Identity::Service(s.to_owned()));
        }
        Err(err())
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            Identity::Account { account, .. }
            | Identity::User { account, .. }
            | Identity::Role { account, .. }
            | Identity::AssumedRole { account, .. }
            | Identity::FederatedUser { account, .. } => Some(account),
            Identity::Service(_) | Identity::Anyone => None,
        }
    }

    pub fn partition(&self) -> Option<&str> {
        match self {
            Identity::Account { partition, .. }
            | Identity::User { partition, .. }
            | Identity::Role { partition, .. }
            | Identity::AssumedRole { partition, .. }
            | Identity::FederatedUser { partition, .. } => Some(partition),
            Identity::Service(_) | Identity::Anyone => None,
        }
    }

    /// The IAM principal behind the identity, as `aws:PrincipalArn` reports it: a session
    /// becomes its role. `None` when the role's path is not known.
    pub fn principal_arn(&self) -> Option<String> {
        match self {
            Identity::AssumedRole {
                partition,
                account,
                role_name,
                role_path: Some(path),
                ..
            } => Some(format!(
                "arn:{partition}:iam::{account}:role{path}{role_name}"
            )),
            Identity::AssumedRole {
                role_path: None, ..
            } => None,
            Identity::Role { path: None, .. } => None,
            Identity::Anyone => None,
            other => Some(other.to_string()),
        }
    }

    /// The role name when the identity is a role or one of its sessions.
    pub fn role_name(&self) -> Option<&str> {
        match self {
            Identity::Role { name, .. } => Some(name),
            Identity::AssumedRole { role_name, .. } => Some(role_name),
            _ => None,
        }
    }

    /// `aws:PrincipalType` as IAM sets it.
    /// Whether its credentials can call `sts:AssumeRole` at all. The root user's cannot (STS API
    /// Reference, AssumeRole: "You cannot use AWS account root user credentials to call
    /// AssumeRole", <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>);
    /// a federated user's (`GetFederationToken`) can call no STS operation but
    /// `GetCallerIdentity` (<https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html>).
    pub fn can_call_assume_role(&self) -> bool {
        !matches!(
            self,
            Identity::Account { .. } | Identity::FederatedUser { .. } | Identity::Anyone
        )
    }

    pub fn principal_type(&self) -> Option<&'static str> {
        match self {
            Identity::Account { .. } => Some("Account"),
            Identity::User { .. } => Some("User"),
            Identity::Role { .. } | Identity::AssumedRole { .. } => Some("AssumedRole"),
            Identity::FederatedUser { .. } => Some("FederatedUser"),
            Identity::Service(_) | Identity::Anyone => None,
        }
    }

    /// What kind of principal this is.
    pub fn kind(&self) -> IdentityKind {
        match self {
            Identity::Account { .. } => IdentityKind::Account,
            Identity::User { .. } => IdentityKind::User,
            Identity::Role { .. } => IdentityKind::Role,
            Identity::AssumedRole { .. } => IdentityKind::AssumedRole,
            Identity::FederatedUser { .. } => IdentityKind::FederatedUser,
            Identity::Service(_) => IdentityKind::Service,
            Identity::Anyone => IdentityKind::Anyone,
        }
    }

    /// The identities IAM checks, from the account down, when it decides whether a
    /// `NotPrincipal` exempts this caller: each one must be listed.
    pub(crate) fn chain(&self) -> Vec<Identity> {
        let account = || Identity::Account {
            partition: self.partition().unwrap_or("aws").to_owned(),
            account: self.account().unwrap_or_default().to_owned(),
        };
        match self {
            Identity::Account { .. } | Identity::Service(_) | Identity::Anyone => {
                vec![self.clone()]
            }
            Identity::User { .. } | Identity::FederatedUser { .. } => {
                vec![account(), self.clone()]
            }
            // A role stands for any of its sessions; no session ARN can be listed for "any
            // session", so sessions are never exempt on the role's ARN alone.
            Identity::Role {
                partition,
                account: acct,
                path,
                name,
            } => vec![
                account(),
                self.clone(),
                Identity::AssumedRole {
                    partition: partition.clone(),
                    account: acct.clone(),
                    role_name: name.clone(),
                    session: "*".to_owned(),
                    role_path: path.clone(),
                },
            ],
            Identity::AssumedRole {
                partition,
                account: acct,
                role_name,
                role_path,
                ..
            } => vec![
                account(),
                Identity::Role {
                    partition: partition.clone(),
                    account: acct.clone(),
                    path: role_path.clone(),
                    name: role_name.clone(),
                },
                self.clone(),
            ],
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Account { partition, account } => {
                write!(f, "arn:{partition}:iam::{account}:root")
            }
            Identity::User {
                partition,
                account,
                path,
                name,
            } => write!(f, "arn:{partition}:iam::{account}:user{path}{name}"),
            Identity::Role {
                partition,
                account,
                path,
                name,
            } => write!(
                f,
                "arn:{partition}:iam::{account}:role{}{name}",
                path.as_deref().unwrap_or("/")
            ),
            Identity::AssumedRole {
                partition,
                account,
                role_name,
                session,
                ..
            } => write!(
                f,
                "arn:{partition}:sts::{account}:assumed-role/{role_name}/{session}"
            ),
            Identity::FederatedUser {
                partition,
                account,
                name,
            } => write!(f, "arn:{partition}:sts::{account}:federated-user/{name}"),
            Identity::Service(s) => f.write_str(s),
            Identity::Anyone => f.write_str("*"),
        }
    }
}

/// Which key of a `Principal` object an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrincipalKind {
    #[serde(rename = "AWS")]
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

impl PrincipalKind {
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "AWS" => PrincipalKind::Aws,
            "Service" => PrincipalKind::Service,
            "Federated" => PrincipalKind::Federated,
            "CanonicalUser" => PrincipalKind::CanonicalUser,
            _ => return None,
        })
    }
}

/// One entry of a policy's `Principal` or `NotPrincipal`, as written and as understood.
#[derive(Debug, Clone)]
pub struct PrincipalEntry {
    pub kind: PrincipalKind,
    pub raw: String,
    pub named: Named,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// An identity KMS can match.
    Identity(Identity),
    /// A unique ID left behind by a deleted principal: matches nobody.
    UniqueId(String),
    /// A federated identity provider or canonical user: never an IAM caller.
    External(String),
    /// Not a valid principal (KMS would reject it; partial wildcards are not allowed).
    Invalid(String),
}

impl PrincipalEntry {
    pub fn new(kind: PrincipalKind, raw: &str) -> Self {
        let named = match kind {
            PrincipalKind::Aws if is_unique_id(raw) => Named::UniqueId(raw.to_owned()),
            PrincipalKind::Aws => match Identity::parse(raw) {
                Ok(Identity::Service(_)) | Err(_) => Named::Invalid(raw.to_owned()),
                Ok(id) => Named::Identity(id),
            },
            PrincipalKind::Service if raw == "*" => Named::Identity(Identity::Anyone),
            PrincipalKind::Service => Named::Identity(Identity::Service(raw.to_owned())),
            PrincipalKind::Federated | PrincipalKind::CanonicalUser if raw == "*" => {
                Named::Identity(Identity::Anyone)
            }
            PrincipalKind::Federated | PrincipalKind::CanonicalUser => {
                Named::External(raw.to_owned())
            }
        };
        PrincipalEntry {
            kind,
            raw: raw.to_owned(),
            named,
        }
    }
}

/// How a policy entry matches a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMatch {
    No,
    /// The entry names the caller (or its role, or everyone).
    Direct,
    /// The entry names the caller's account: in an `Allow`, IAM decides.
    Account,
}

/// Does a role path named in a policy fit the caller's role, when both are known?
fn same_path(named: Option<&str>, caller: &Identity) -> bool {
    let caller_path = match caller {
        Identity::Role { path, .. } => path.as_deref(),
        Identity::AssumedRole { role_path, .. } => role_path.as_deref(),
        _ => None,
    };
    match (named, caller_path) {
        (Some(n), Some(c)) => n == c,
        _ => true,
    }
}

/// Does `named` (from a policy) cover `caller`?
pub fn entry_matches(named: &Named, caller: &Identity) -> EntryMatch {
    let Named::Identity(named) = named else {
        return EntryMatch::No;
    };
    let same_place =
        |p: &str, a: &str| caller.partition() == Some(p) && caller.account() == Some(a);
    match (named, caller) {
        (Identity::Anyone, _) => EntryMatch::Direct,
        (_, Identity::Anyone) => EntryMatch::No,
        (Identity::Account { partition, account }, Identity::Account { .. }) => {
            if same_place(partition, account) {
                EntryMatch::Direct
            } else {
                EntryMatch::No
            }
        }
        (Identity::Account { partition, account }, _) => {
            if same_place(partition, account) {
                EntryMatch::Account
            } else {
                EntryMatch::No
            }
        }
        // The path is part of a user's or role's ARN: `user/alice` names no user whose path
        // is `/eng/`. Only where the caller's path is not known (a session ARN does not carry
        // it) does a role match by name.
        (
            Identity::User {
                partition,
                account,
                name,
                path,
            },
            Identity::User {
                name: n, path: p, ..
            },
        ) if same_place(partition, account) && name == n && path == p => EntryMatch::Direct,
        (
            Identity::Role {
                partition,
                account,
                name,
                path,
            },
            Identity::Role { .. } | Identity::AssumedRole { .. },
        ) if same_place(partition, account)
            && caller.role_name() == Some(name)
            && same_path(path.as_deref(), caller) =>
        {
            EntryMatch::Direct
        }
        (
            Identity::AssumedRole {
                partition,
                account,
                role_name,
                session,
                ..
            },
            Identity::AssumedRole {
                role_name: r,
                session: s,
                ..
            },
        ) if same_place(partition, account) && role_name == r && session == s => EntryMatch::Direct,
        (
            Identity::FederatedUser {
                partition,
                account,
                name,
            },
            Identity::FederatedUser { name: n, .. },
        ) if same_place(partition, account) && name == n => EntryMatch::Direct,
        (Identity::Service(a), Identity::Service(b)) if a == b => EntryMatch::Direct,
        _ => EntryMatch::No,
    }
}

/// What kind of principal a policy names; JSON says it in snake case (`assumed_role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// An account (its root): any IAM principal of it whose IAM policies allow.
    Account,
    User,
    Role,
    AssumedRole,
    FederatedUser,
    Service,
    /// `"*"`.
    Anyone,
    /// A unique ID whose prefix names no user or role.
    Unknown,
}

impl IdentityKind {
    /// The word for messages: `role`, `user`, or `principal` when nothing more is known.
    pub fn noun(self) -> &'static str {
        match self {
            IdentityKind::Account => "account",
            IdentityKind::User => "user",
            IdentityKind::Role => "role",
            IdentityKind::AssumedRole => "role session",
            IdentityKind::FederatedUser => "federated user",
            IdentityKind::Service => "service",
            IdentityKind::Anyone | IdentityKind::Unknown => "principal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Identity {
        Identity::parse(s).unwrap()
    }

    fn named(s: &str) -> Named {
        PrincipalEntry::new(PrincipalKind::Aws, s).named
    }

    #[test]
    fn parses_the_arn_forms_iam_uses() {
        assert_eq!(
            id("111122223333").to_string(),
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(
            id("arn:aws:iam::111122223333:role/ops/Admin")
                .principal_arn()
                .unwrap(),
            "arn:aws:iam::111122223333:role/ops/Admin"
        );
        assert_eq!(
            id("arn:aws:iam::111122223333:user/a/b/alice").to_string(),
            "arn:aws:iam::111122223333:user/a/b/alice"
        );
        assert!(matches!(
            id("arn:aws:sts::111122223333:assumed-role/Admin/alice"),
            Identity::AssumedRole { .. }
        ));
        assert!(Identity::parse("arn:aws:iam::111122223333:role/*").is_err());
        assert!(Identity::parse("arn:aws:iam::12345:root").is_err());
        assert!(Identity::parse("bob").is_err());
    }

    #[test]
    fn a_role_arn_matches_sessions_whatever_its_path() {
        let caller = id("arn:aws:sts::111122223333:assumed-role/Admin/alice");
        assert_eq!(
            entry_matches(&named("arn:aws:iam::111122223333:role/ops/Admin"), &caller),
            EntryMatch::Direct
        );
        assert_eq!(
            entry_matches(&named("arn:aws:iam::111122223333:role/Admin2"), &caller),
            EntryMatch::No
        );
        assert_eq!(
            entry_matches(&named("arn:aws:iam::111122223333:root"), &caller),
            EntryMatch::Account
        );
        assert_eq!(
            entry_matches(&named("444455556666"), &caller),
            EntryMatch::No
        );
    }

    #[test]
    fn the_path_is_part_of_the_arn_once_it_is_known() {
        let with_path = named("arn:aws:iam::111122223333:role/ops/KeyAdmin");
        let without = named("arn:aws:iam::111122223333:role/KeyAdmin");
        let session = |path: Option<&str>| Identity::AssumedRole {
            partition: "aws".into(),
            account: "111122223333".into(),
            role_name: "KeyAdmin".into(),
            session: "bob".into(),
            role_path: path.map(str::to_owned),
        };
        assert_eq!(
            entry_matches(&with_path, &session(None)),
            EntryMatch::Direct
        );
        assert_eq!(entry_matches(&without, &session(None)), EntryMatch::Direct);
        assert_eq!(
            entry_matches(&with_path, &session(Some("/ops/"))),
            EntryMatch::Direct
        );
        assert_eq!(
            entry_matches(&without, &session(Some("/ops/"))),
            EntryMatch::No
        );
        assert_eq!(
            entry_matches(&without, &id("arn:aws:iam::111122223333:role/ops/KeyAdmin")),
            EntryMatch::No
        );
        assert_eq!(
            entry_matches(
                &named("arn:aws:iam::111122223333:user/alice"),
                &id("arn:aws:iam::111122223333:user/eng/alice")
            ),
            EntryMatch::No
        );
    }

    #[test]
    fn unique_ids_never_match() {
        assert_eq!(
            named("AROAEXAMPLEID1234567"),
            Named::UniqueId("AROAEXAMPLEID1234567".into())
        );
        let caller = id("arn:aws:iam::111122223333:role/Admin");
        assert_eq!(
            entry_matches(&named("AROAEXAMPLEID1234567"), &caller),
            EntryMatch::No
        );
    }
}
