//! The organisation's policies that apply to an account: `DescribeOrganization` (the
//! management account) at once with `ListParents` from the account up to the root, then
//! `ListPoliciesForTarget` for SCPs and RCPs at every level at once, then `DescribePolicy` for
//! each policy once. All read-only; a member account is usually denied all but the first, and
//! a denial is evidence (the call log), never a failure.

use super::{CallError, Calls, Organizations};
use crate::diagnosis::model::{AwsErrorCode, OrgEvidence, OrgLevel, OrgPolicyText};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::Duration;

/// Levels read at most above an account: AWS allows five levels of OUs under the root.
const MAX_DEPTH: usize = 6;
/// Pages of `ListPoliciesForTarget` read at most per target and type (AWS allows at most five
/// SCPs or RCPs per target).
const MAX_PAGES: usize = 5;
/// Calls at once.
const AT_ONCE: usize = 8;

/// AWS's own full-access policies: their documents are known, not read.
const KNOWN: [(&str, &str); 2] = [
    ("p-FullAWSAccess", FULL_ACCESS),
    ("p-RCPFullAWSAccess", RCP_FULL_ACCESS),
];
const FULL_ACCESS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const RCP_FULL_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

fn not_in_use(e: &CallError) -> bool {
    e.kind.aws() == Some(&AwsErrorCode::OrganizationsNotInUse)
}

/// (level, filter) → the policies attached there: (ID, name).
type Listing = (
    (usize, &'static str),
    Result<Vec<(String, String)>, CallError>,
);

/// The targets from the root down to `account` (the account last).
async fn path_to_root<O: Organizations>(
    org: &O,
    calls: &Calls,
    t: Duration,
    account: &str,
) -> Result<Vec<String>, CallError> {
    let mut path = vec![account.to_owned()];
    let mut child = account.to_owned();
    for _ in 0..MAX_DEPTH {
        let parents = calls
            .record("organizations", "ListParents", t, org.list_parents(&child))
            .await?;
        let Some(parent) = parents.into_iter().next() else {
            break;
        };
        path.push(parent.id.clone());
        if parent.root {
            path.reverse();
            return Ok(path);
        }
        child = parent.id;
    }
    // A path that does not reach the root would leave levels unread: none is better than part.
    Err(CallError::malformed(
        "ListParents did not reach the organisation's root",
    ))
}

/// The policies of one type attached to `target`: (ID, name).
async fn attached<O: Organizations>(
    org: &O,
    calls: &Calls,
    t: Duration,
    target: &str,
    filter: &'static str,
) -> Result<Vec<(String, String)>, CallError> {
    let mut out = Vec::new();
    let mut next = None;
    for _ in 0..MAX_PAGES {
        let page = calls
            .record(
                "organizations",
                "ListPoliciesForTarget",
                t,
                org.list_policies_for_target(target, filter, next),
            )
            .await?;
        out.extend(page.policies);
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The SCPs and RCPs that apply to `account`, as far as the caller may read them.
pub async fn organization_policies<O: Organizations>(
    org: &O,
    calls: &Calls,
    t: Duration,
    account: &str,
) -> OrgEvidence {
    let (management, path) = tokio::join!(
        calls.record(
            "organizations",
            "DescribeOrganization",
            t,
            org.describe_organization()
        ),
        path_to_root(org, calls, t, account),
    );
    let mut evidence = OrgEvidence {
        management_account: management
            .as_ref()
            .ok()
            .map(|m| m.management_account.as_str().into()),
        id: management.as_ref().ok().map(|m| m.id.clone()),
        ..OrgEvidence::default()
    };
    if matches!(&management, Err(e) if not_in_use(e)) {
        evidence.not_in_organization = true;
        return evidence;
    }
    let Ok(path) = path else { return evidence };
    // Every level's SCPs and RCPs at once.
    let listings: Vec<Listing> =
        // The futures are made first: see `scan_s3` (rustc #102211).
        futures_util::stream::iter(
            path.iter()
                .enumerate()
                .flat_map(|(i, target)| {
                    ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"].map(|filter| async move {
                        ((i, filter), attached(org, calls, t, target, filter).await)
                    })
                })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let listed: BTreeMap<(usize, &'static str), Vec<(String, String)>> = listings
        .into_iter()
        .filter_map(|(k, r)| Some((k, r.ok()?)))
        .collect();
    // Each policy's document, once.
    let mut ids: Vec<&String> = listed.values().flatten().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    let documents: BTreeMap<String, String> = futures_util::stream::iter(
        ids.into_iter()
            .map(|id| async move {
                if let Some((_, doc)) = KNOWN.iter().find(|(k, _)| k == id) {
                    return Some((id.clone(), (*doc).to_owned()));
                }
                let doc = calls
                    .record(
                        "organizations",
                        "DescribePolicy",
                        t,
                        org.describe_policy(id),
                    )
                    .await
                    .ok()?;
                Some((id.clone(), doc))
            })
            .collect::<Vec<_>>(),
    )
    .buffer_unordered(AT_ONCE)
    .filter_map(|x| async move { x })
    .collect()
    .await;
    // A type is known only when every level was listed and every document read.
    let levels = |filter: &'static str| -> Option<Vec<OrgLevel>> {
        path.iter()
            .enumerate()
            .map(|(i, target)| {
                let policies = listed
                    .get(&(i, filter))?
                    .iter()
                    .map(|(id, name)| {
                        Some(OrgPolicyText {
                            id: id.clone(),
                            name: name.as_str().into(),
                            content: documents.get(id)?.clone(),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(OrgLevel {
                    target: target.clone(),
                    policies,
                })
            })
            .collect()
    };
    evidence.scps = levels("SERVICE_CONTROL_POLICY");
    evidence.rcps = levels("RESOURCE_CONTROL_POLICY");
    evidence
}
