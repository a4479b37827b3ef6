//! Whether IAM users and roles exist: `GetRole` and `GetUser`, each name asked once, a few at a
//! time, through a pace. One lookup for `diagnose` (the restorers, the role behind a session)
//! and `scan` (every principal an account's key policies name). And the account's
//! authorization details, for the restorers through the account delegation (both too).

use super::pace::Pace;
use super::{CallError, Calls, Iam, IamEntity};
use crate::diagnosis::model::Outcome;
use crate::policy::{Context, Identity, KeyPolicy, PUT_KEY_POLICY, grantees};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::Duration;

/// `GetRole`/`GetUser` calls in flight at once.
pub const AT_ONCE: usize = 8;

/// IAM's answers, by name.
pub type Entities = BTreeMap<String, Result<IamEntity, CallError>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Role,
    User,
}

/// A pace for IAM lookups: 20 a second, in bursts of [`AT_ONCE`], backing off from 100 ms.
pub fn iam_pace() -> Pace {
    Pace::new(20.0, AT_ONCE as u32, Duration::from_millis(100))
}

/// `GetRole` or `GetUser` for each name, at most [`AT_ONCE`] at a time, through `pace`.
pub async fn look_up<I: Iam>(
    iam: &I,
    calls: &Calls,
    pace: &Pace,
    timeout: Duration,
    kind: EntityKind,
    names: impl IntoIterator<Item = String>,
) -> Entities {
    futures_util::stream::iter(names)
        .map(|name| async move {
            let r = match kind {
                EntityKind::Role => {
                    pace.call(calls, "iam", "GetRole", timeout, || iam.get_role(&name))
                        .await
                }
                EntityKind::User => {
                    pace.call(calls, "iam", "GetUser", timeout, || iam.get_user(&name))
                        .await
                }
            };
            (name, r)
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await
}

/// `Some(true)` for an entity found, `Some(false)` for `NoSuchEntity`, `None` when unknown.
pub fn existence_of(r: &Result<IamEntity, CallError>) -> Option<bool> {
    match r {
        Ok(_) => Some(true),
        Err(e) if e.outcome == Outcome::NotFound => Some(false),
        Err(_) => None,
    }
}

/// Pages of `GetAccountAuthorizationDetails` read at most (1,000 entities each).
pub const MAX_AUTHORIZATION_PAGES: usize = 50;

/// Every page of the account's authorization details; the first page's failure when it fails
/// (the call is in the log too). Past the page cap, or when a later page fails, what was read
/// is kept, marked incomplete.
pub async fn authorization_details<I: Iam>(
    iam: &I,
    calls: &Calls,
    timeout: Duration,
) -> Result<crate::diagnosis::model::AuthorizationDetails, CallError> {
    let mut all = crate::diagnosis::model::AuthorizationDetails {
        complete: true,
        ..Default::default()
    };
    let mut marker = None;
    for page in 0..MAX_AUTHORIZATION_PAGES {
        let answer = calls
            .record(
                "iam",
                "GetAccountAuthorizationDetails",
                timeout,
                iam.authorization_details(marker.take()),
            )
            .await;
        match answer {
            Ok(p) => {
                all.extend(p.details);
                match p.next_marker {
                    Some(m) => marker = Some(m),
                    None => return Ok(all),
                }
            }
            Err(e) if page == 0 => return Err(e),
            Err(_) => {
                all.complete = false;
                return Ok(all);
            }
        }
    }
    all.complete = false;
    Ok(all)
}

/// What to learn of a principal a key policy lets update it: whether a role or user of the
/// account IAM answers for exists (`GetRole`, `GetUser`), or the answer known without asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    Role(String),
    User(String),
    Known(Option<bool>),
}

/// The principals the policy lets call `kms:PutKeyPolicy`, each with what to ask of it: IAM
/// answers for the roles and users of `account` (the caller's) only; the account itself (the
/// delegation) exists; anything else (another account, a service, a unique ID) is not known.
/// The one place diagnose and scan decide whose existence to check.
pub fn restorers_to_check(
    policy: &KeyPolicy,
    key_arn: Option<&str>,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, Ask)> {
    grantees(policy, PUT_KEY_POLICY, key_arn, &Context::default(), now)
        .into_iter()
        .map(|g| {
            let id = Identity::parse(&g.principal).ok();
            let in_reach = id.as_ref().and_then(|i| i.account()) == Some(account);
            let ask = match id {
                Some(Identity::Role { name, .. }) if in_reach => Ask::Role(name),
                Some(Identity::User { name, .. }) if in_reach => Ask::User(name),
                Some(Identity::Account { .. }) => Ask::Known(Some(true)),
                _ => Ask::Known(None),
            };
            (g.principal, ask)
        })
        .collect()
}
