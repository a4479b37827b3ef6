//! Gathering for `scan`: every customer managed key of the accounts and Regions asked for, its
//! policy in force, and whether the principals that may update it still exist.
//!
//! - Accounts are scanned a few at a time, and the Regions of each a few at a time; a failed
//!   account or Region is an entry of `errors` and the scan goes on.
//! - In a Region, `ListKeys` and `ListAliases` run at once, then `DescribeKey` and (for
//!   customer managed keys) `GetKeyPolicy` per key, `--concurrency` keys at a time, under a
//!   rate that halves on `ThrottlingException` and creeps back up on success.
//! - Keys whose policy cannot be read share **one** paged CloudTrail search per Region.
//! - The principals the policies name are checked once per account (`GetRole`/`GetUser`),
//!   however many keys name them.

use super::entities::{Ask, EntityKind, existence_of, iam_pace, look_up, restorers_to_check};
use super::pace::Pace;
use super::record::{KeyRef, KeySet};
use super::sources::event_history::{self, MAX_PAGES, SearchOptions};
use super::{Alias, CallError, Calls, CloudTrail, ErrorKind, Fleet, Iam, Kms};
use crate::diagnosis::model::{AccountId, AwsErrorCode, KeyManager, OrgEvidence, Timestamp};
use crate::diagnosis::model::{
    CallerIdentity, ExistenceCheck, KeyEvidence, Missed, Outcome, PolicyEvent, RegionSkipped,
    ScanError, ScanEvidence,
};
use crate::policy::{Identity, KeyPolicy};
use chrono::SubsecRound as _;
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

/// Regions of one account scanned at once.
const REGIONS_AT_ONCE: usize = 4;
/// Pages of `ListKeys` (1,000 keys each) and of `ListAliases` (100 each) read at most.
const MAX_LIST_PAGES: usize = 100;
/// Pages of `ListAccounts` (20 accounts each: 20,000 accounts) and `ListRegions` read at most.
pub const MAX_ACCOUNT_PAGES: usize = 1000;
/// Failed policy updates kept per key.
const MAX_FAILED_KEPT: usize = 20;
/// The first wait after a throttled KMS, IAM or Organizations answer (100 ms, 200 ms, …).
const KMS_BACKOFF: Duration = Duration::from_millis(100);

/// KMS's request quotas, per account and Region and per operation, as the KMS Developer Guide
/// publishes them ("Request quotas",
/// https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html): each
/// operation is paced on its own, at most at its quota (and at most at `--kms-rate`), halved on
/// throttling and raised again on success.
mod quota {
    pub const DESCRIBE_KEY: f64 = 1000.0;
    pub const GET_KEY_POLICY: f64 = 1000.0;
    pub const LIST_KEYS: f64 = 100.0;
    pub const LIST_ALIASES: f64 = 100.0;
    pub const LIST_RESOURCE_TAGS: f64 = 100.0;
}

/// One pace per KMS operation of an account and Region.
struct KmsPaces {
    list_keys: Pace,
    list_aliases: Pace,
    describe_key: Pace,
    get_key_policy: Pace,
    list_resource_tags: Pace,
}

impl KmsPaces {
    fn new(cap: f64) -> KmsPaces {
        let pace = |quota: f64| Pace::new(quota.min(cap), 1, KMS_BACKOFF);
        KmsPaces {
            list_keys: pace(quota::LIST_KEYS),
            list_aliases: pace(quota::LIST_ALIASES),
            describe_key: pace(quota::DESCRIBE_KEY),
            get_key_policy: pace(quota::GET_KEY_POLICY),
            list_resource_tags: pace(quota::LIST_RESOURCE_TAGS),
        }
    }
}

/// The commercial Regions, scanned with `--all-regions` when `account:ListRegions` is denied.
pub const COMMERCIAL_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountsToScan {
    /// The caller's own account.
    Caller,
    /// These accounts (the caller's own with its credentials, the others by `AssumeRole`).
    List(Vec<String>),
    /// Every active account of the organisation.
    Organization,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionsToScan {
    List(Vec<String>),
    /// Each account's enabled Regions.
    All,
}

/// `--shard I/N`: one of `count` stable parts of a scan's scope, by account (by account and
/// Region when one account is scanned): each part is the same from run to run and machine to
/// machine, whatever the order AWS lists them in, so that N runs on any engine cover the scope
/// once (`kms-doctor merge` checks that they did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1 to `count`.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether this shard examines the part named `part` (an account ID, or `account/Region`).
    pub fn takes(&self, part: &str) -> bool {
        // FNV-1a, 64 bits: stable across versions and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in part.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash % u64::from(self.count.max(1)) == u64::from(self.index.saturating_sub(1))
    }
}

/// What a shard splits: accounts, unless one account is scanned (then its Regions).
fn shards_by_region(accounts: &AccountsToScan) -> bool {
    match accounts {
        AccountsToScan::Caller => true,
        AccountsToScan::List(ids) => ids.len() == 1,
        AccountsToScan::Organization => false,
    }
}

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub accounts: AccountsToScan,
    /// The role assumed in other accounts.
    pub role_name: String,
    pub regions: RegionsToScan,
    /// Keys in flight at once, per account and Region.
    pub concurrency: usize,
    /// Accounts worked on at once.
    pub account_concurrency: usize,
    /// `--shard I/N`: the part of the scope this run examines.
    pub shard: Option<Shard>,
    /// KMS calls a second at most, per account and Region.
    pub kms_rate: f64,
    pub cloudtrail: bool,
    pub lookback_days: u32,
    pub timeout: Duration,
    pub lookup_interval: Duration,
    pub now: chrono::DateTime<chrono::Utc>,
    /// Read each customer managed key's tags (`kms:ListResourceTags`): only when the mute list
    /// selects keys by tag.
    pub read_tags: bool,
}

/// What the progress display is told.
#[derive(Debug, Clone, Copy)]
pub enum Tick<'a> {
    /// Keys listed in a Region.
    Found { region: &'a str, keys: u64 },
    /// One key done.
    KeyDone,
    /// Searching CloudTrail in a Region for the keys whose policy was not readable.
    Searching { region: &'a str, keys: u64 },
}

/// The scan could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanFailed {
    #[error("cannot learn who the caller is: sts:GetCallerIdentity failed ({})", .0.describe())]
    Caller(CallError),
    #[error("cannot list the organisation's accounts: organizations:ListAccounts failed ({})", .0.describe())]
    Organization(CallError),
}

/// Every page of a listing, at most `max_pages`, each call through the pace: the items,
/// and whether the listing came to its end.
#[allow(clippy::too_many_arguments)]
async fn every_page<T, Page, Fut>(
    pace: &Pace,
    calls: &Calls,
    service: &str,
    operation: &str,
    t: Duration,
    max_pages: usize,
    mut call: impl FnMut(Option<String>) -> Fut,
    mut split: impl FnMut(Page) -> (Vec<T>, Option<String>),
) -> Result<(Vec<T>, bool), CallError>
where
    Fut: Future<Output = Result<Page, CallError>>,
{
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..max_pages {
        let page = pace
            .call(calls, service, operation, t, || call(next.clone()))
            .await?;
        let (more, token) = split(page);
        items.extend(more);
        match token {
            Some(n) if !n.is_empty() => next = Some(n),
            _ => return Ok((items, true)),
        }
    }
    Ok((items, false))
}

/// What one account gave.
#[derive(Default)]
struct AccountResult {
    account: Option<AccountId>,
    /// Read when a key of the account delegates to it.
    authorization: Option<crate::diagnosis::model::AuthorizationDetails>,
    regions: Vec<String>,
    keys: Vec<KeyEvidence>,
    aws_managed: u64,
    not_enabled: Vec<RegionSkipped>,
    regions_scanned: u64,
    errors: Vec<ScanError>,
}

pub async fn gather_scan<F: Fleet>(
    fleet: &F,
    calls: &Calls,
    opts: &ScanOptions,
    progress: &(dyn Fn(Tick) + Sync),
) -> Result<ScanEvidence, ScanFailed> {
    let t = opts.timeout;
    let caller = calls
        .record("sts", "GetCallerIdentity", t, fleet.caller())
        .await
        .map_err(ScanFailed::Caller)?;
    let partition = caller.arn.split(':').nth(1).unwrap_or("aws").to_owned();
    // Accounts are scanned as the listing finds them (an organisation's listing takes a page
    // of 20 at a time), at most `account_concurrency` at once, each with its SCPs and RCPs.
    let (found, to_scan) = tokio::sync::mpsc::unbounded_channel::<String>();
    let own_account = caller.account.to_string();
    // A shard of several accounts takes its accounts here; of one, its Regions (`scan_account`).
    let by_account = opts.shard.filter(|_| !shards_by_region(&opts.accounts));
    let listing = async move {
        let send = |id: &str| {
            if by_account.is_none_or(|s| s.takes(id)) {
                // The receiver lives until every sent account is scanned.
                let _ = found.send(id.to_owned());
            }
        };
        match &opts.accounts {
            AccountsToScan::Caller => {
                send(&own_account);
                Ok((vec![own_account], true))
            }
            AccountsToScan::List(ids) => {
                ids.iter().for_each(|id| send(id));
                Ok((ids.clone(), true))
            }
            AccountsToScan::Organization => organization_accounts(fleet, calls, t, send).await,
        }
    };
    // Streams over owned IDs: a stream mapped by a closure that borrows its item is not `Send`
    // (rustc #102211), and a server runs a scan as a task of a multi-threaded runtime.
    let (caller_ref, partition_ref) = (&caller, &partition);
    let scanned = futures_util::stream::unfold(to_scan, |mut rx| async move {
        rx.recv().await.map(|id| (AccountId::from(id), rx))
    })
    .map(|id| async move {
        // Each account's SCPs and RCPs, once per account (not per key), beside its keys.
        let (result, org) = tokio::join!(
            scan_account(fleet, calls, opts, caller_ref, partition_ref, &id, progress),
            super::organization::organization_policies(fleet.organizations(), calls, t, &id)
        );
        (result, (id, org))
    })
    .buffer_unordered(opts.account_concurrency.max(1))
    .collect::<Vec<(AccountResult, (AccountId, OrgEvidence))>>();
    let (listed, scanned) = tokio::join!(listing, scanned);
    let (ids, complete) = listed.map_err(ScanFailed::Organization)?;
    let listing_cut = (!complete).then(|| {
        ScanError::new(
            None,
            None,
            "organizations:ListAccounts",
            format!(
                "more than {MAX_ACCOUNT_PAGES} pages of accounts: only the first {} accounts were scanned (name the others with --accounts)",
                ids.len()
            ),
            Some(Missed::Listing {
                kept: ids.len() as u64,
            }),
        )
    });
    let accounts: Vec<AccountId> = ids
        .into_iter()
        .filter(|id| by_account.is_none_or(|s| s.takes(id)))
        .map(AccountId::from)
        .collect();
    let (results, organizations): (Vec<AccountResult>, BTreeMap<AccountId, OrgEvidence>) =
        scanned.into_iter().unzip();
    let mut ev = ScanEvidence::started(Timestamp(opts.now.trunc_subsecs(0)), caller, accounts);
    ev.whole_organization =
        matches!(opts.accounts, AccountsToScan::Organization) && listing_cut.is_none();
    let mut regions = BTreeSet::new();
    for r in results {
        if let (Some(details), Some(id)) = (r.authorization, r.account) {
            ev.authorization.insert(id, details);
        }
        regions.extend(r.regions);
        ev.keys.extend(r.keys);
        ev.aws_managed_skipped += r.aws_managed;
        ev.regions_not_enabled.extend(r.not_enabled);
        ev.regions_scanned += r.regions_scanned;
        ev.errors.extend(r.errors);
    }

    ev.regions = regions.into_iter().collect();
    ev.organizations = organizations;
    ev.errors.extend(listing_cut);
    ev.errors
        .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    ev.regions_not_enabled
        .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    ev.calls = calls.snapshot();
    Ok(ev)
}

/// The organisation's active accounts, and whether the listing came to its end; each is handed
/// to `found` as its page arrives, once.
async fn organization_accounts<F: Fleet>(
    fleet: &F,
    calls: &Calls,
    t: Duration,
    mut found: impl FnMut(&str),
) -> Result<(Vec<String>, bool), CallError> {
    let mut seen = BTreeSet::new();
    // Organizations publishes no quota for ListAccounts: at most 20 pages a second, the pace
    // lowering itself on throttling.
    let (accounts, complete) = every_page(
        &Pace::new(20.0, 1, KMS_BACKOFF),
        calls,
        "organizations",
        "ListAccounts",
        t,
        MAX_ACCOUNT_PAGES,
        |next| fleet.list_accounts(next),
        |page| {
            let active: Vec<String> = page
                .accounts
                .into_iter()
                .filter(|a| a.status.as_deref().is_none_or(|s| s == "ACTIVE"))
                .map(|a| a.id)
                .filter(|id| seen.insert(id.clone()))
                .collect();
            active.iter().for_each(|id| found(id));
            (active, page.next)
        },
    )
    .await?;
    let mut ids = accounts;
    ids.sort();
    Ok((ids, complete))
}

fn error(
    account: &str,
    region: Option<&str>,
    operation: &str,
    e: &CallError,
    missed: Option<Missed>,
) -> ScanError {
    ScanError::new(Some(account), region, operation, e.describe(), missed)
}

/// A call about one key that failed: merged with the Region's others of the same operation and
/// error code into one entry.
struct KeyFailure {
    operation: KeyCall,
    kind: ErrorKind,
    message: String,
    key_id: String,
}

/// The calls a scan makes for each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyCall {
    DescribeKey,
    GetKeyPolicy,
    ListResourceTags,
}

impl KeyCall {
    fn name(self) -> &'static str {
        match self {
            KeyCall::DescribeKey => "kms:DescribeKey",
            KeyCall::GetKeyPolicy => "kms:GetKeyPolicy",
            KeyCall::ListResourceTags => "kms:ListResourceTags",
        }
    }
}

fn merge_key_failures(account: &str, region: &str, failures: Vec<KeyFailure>) -> Vec<ScanError> {
    let mut merged: Vec<(KeyCall, ErrorKind, ScanError)> = Vec::new();
    for f in failures {
        match merged
            .iter_mut()
            .find(|(op, kind, _)| *op == f.operation && *kind == f.kind)
        {
            Some((_, _, e)) => e.key_ids.push(f.key_id.into()),
            None => merged.push((
                f.operation,
                f.kind,
                ScanError {
                    key_ids: vec![f.key_id.into()],
                    ..ScanError::new(
                        Some(account),
                        Some(region),
                        f.operation.name(),
                        f.message,
                        None,
                    )
                },
            )),
        }
    }
    merged
        .into_iter()
        .map(|(_, _, mut e)| {
            e.key_ids.sort();
            if e.key_ids.len() > 1 {
                e.message = format!("{} keys: {}", e.key_ids.len(), e.message);
            }
            e
        })
        .collect()
}

async fn scan_account<F: Fleet>(
    fleet: &F,
    calls: &Calls,
    opts: &ScanOptions,
    caller: &CallerIdentity,
    partition: &str,
    id: &str,
    progress: &(dyn Fn(Tick) + Sync),
) -> AccountResult {
    let t = opts.timeout;
    let mut result = AccountResult::default();
    let account = if id == caller.account {
        fleet.home()
    } else {
        let role = format!("arn:{partition}:iam::{id}:role/{}", opts.role_name);
        match calls
            .record("sts", "AssumeRole", t, fleet.assume_role(&role))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                let mut err = error(id, None, "sts:AssumeRole", &e, Some(Missed::Account));
                err.message = format!("cannot assume {role}: {}", err.message);
                result.errors.push(err);
                return result;
            }
        }
    };
    let regions = match &opts.regions {
        RegionsToScan::List(r) => r.clone(),
        RegionsToScan::All => match enabled_regions(fleet, &account, calls, t).await {
            Ok(r) => r,
            Err(e) => {
                let mut err = error(id, None, "account:ListRegions", &e, None);
                err.message = format!(
                    "{}; scanned the {} commercial Regions instead (those not enabled are listed as such)",
                    err.message,
                    COMMERCIAL_REGIONS.len()
                );
                result.errors.push(err);
                COMMERCIAL_REGIONS.iter().map(|r| r.to_string()).collect()
            }
        },
    };
    let mut regions = regions;
    if let Some(shard) = opts.shard.filter(|_| shards_by_region(&opts.accounts)) {
        regions.retain(|r| shard.takes(&format!("{id}/{r}")));
    }
    // Over owned names: see `gather_scan` (rustc #102211).
    let account = &account;
    let per_region: Vec<RegionResult> = futures_util::stream::iter(regions.clone())
        .map(|region| async move {
            scan_region(
                fleet.kms(account, &region),
                fleet.cloudtrail(account, &region),
                calls,
                opts,
                id,
                &region,
                progress,
            )
            .await
        })
        .buffer_unordered(REGIONS_AT_ONCE)
        .collect()
        .await;
    for r in per_region {
        match r {
            RegionResult::Scanned {
                keys,
                aws_managed,
                errors,
            } => {
                result.regions_scanned += 1;
                result.keys.extend(keys);
                result.aws_managed += aws_managed;
                result.errors.extend(errors);
            }
            RegionResult::NotEnabled(skip) => result.not_enabled.push(skip),
            RegionResult::Failed(e) => result.errors.push(e),
        }
    }
    result.regions = regions;
    let iam = fleet.iam(account);
    let bounded = check_restorers(&iam, calls, t, id, &mut result.keys, opts.now).await;
    // Through the account delegation, any IAM user or role whose policies allow it may update
    // a key's policy: who, from the account's authorization details, read once. They also hold
    // the permissions boundaries of the restorers the policies name (GetRole gives only the
    // boundary's ARN), which decide whether a named role may update the policy.
    let delegates = result.keys.iter().any(|k| {
        k.restorer_checks.iter().any(|c| {
            matches!(Identity::parse(&c.principal), Ok(Identity::Account { account, .. }) if account == id)
        })
    });
    if delegates || bounded {
        match super::entities::authorization_details(&iam, calls, t).await {
            Ok(details) => result.authorization = Some(details),
            Err(e) => result.errors.push(error(
                id,
                None,
                "iam:GetAccountAuthorizationDetails",
                &e,
                None,
            )),
        }
    }
    result.account = Some(AccountId::from(id.to_owned()));
    result
}

async fn enabled_regions<F: Fleet>(
    fleet: &F,
    account: &F::Account,
    calls: &Calls,
    t: Duration,
) -> Result<Vec<String>, CallError> {
    let (mut regions, _) = every_page(
        &Pace::new(5.0, 1, KMS_BACKOFF),
        calls,
        "account",
        "ListRegions",
        t,
        MAX_ACCOUNT_PAGES,
        |next| fleet.list_regions(account, next),
        |page| (page.regions, page.next),
    )
    .await?;
    regions.sort();
    regions.dedup();
    Ok(regions)
}

enum RegionResult {
    Scanned {
        keys: Vec<KeyEvidence>,
        aws_managed: u64,
        errors: Vec<ScanError>,
    },
    NotEnabled(RegionSkipped),
    Failed(ScanError),
}

/// An opt-in Region the account has not enabled answers as if the credentials were unknown.
fn not_enabled(e: &CallError) -> bool {
    e.kind
        .aws()
        .is_some_and(AwsErrorCode::is_region_not_enabled)
}

/// The keys examined in a Region, settled: their aliases joined, AWS managed keys left out (and
/// counted), the failures that count, and how many the deadline left unexamined.
struct Settled {
    keys: Vec<KeyEvidence>,
    aws_managed: u64,
    failures: Vec<KeyFailure>,
    not_examined: u64,
}

fn settle(examined: Vec<Option<(KeyEvidence, Vec<KeyFailure>)>>, listed: Vec<Alias>) -> Settled {
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in listed {
        if let Some(target) = a.target_key_id {
            aliases.entry(target).or_default().push(a.name);
        }
    }
    let examined: Vec<Option<(Option<KeyEvidence>, Vec<KeyFailure>)>> = examined
        .into_iter()
        .map(|r| {
            r.map(|(mut key, mut failures)| {
                key.aliases = aliases
                    .remove(&key.key_id.to_string())
                    .unwrap_or_default()
                    .into_iter()
                    .map(crate::diagnosis::model::Alias::from)
                    .collect();
                // Without DescribeKey, an `alias/aws/…` alias still says the key is AWS
                // managed: left out, nobody can change its policy.
                let aws_managed = key.manager == Some(KeyManager::Aws)
                    || (key.manager.is_none()
                        && key.aliases.iter().any(|a| a.starts_with("alias/aws/")));
                if aws_managed {
                    // Its policy and tags were not wanted: only DescribeKey's failure counts.
                    failures.retain(|f| f.operation == KeyCall::DescribeKey);
                }
                ((!aws_managed).then_some(key), failures)
            })
        })
        .collect();
    let mut keys = Vec::new();
    let mut aws_managed = 0;
    let mut failures = Vec::new();
    let mut not_examined = 0;
    for r in examined {
        match r {
            Some((Some(k), f)) => {
                keys.push(k);
                failures.extend(f);
            }
            Some((None, f)) => {
                aws_managed += 1;
                failures.extend(f);
            }
            None => not_examined += 1,
        }
    }
    Settled {
        keys,
        aws_managed,
        failures,
        not_examined,
    }
}

/// Keys a Region had that the `--max-duration` deadline left unexamined: counted, not called.
fn past_the_deadline(account: &str, region: &str, not_examined: u64) -> ScanError {
    ScanError::new(
        Some(account),
        Some(region),
        "kms:DescribeKey",
        format!(
            "{not_examined} keys not examined: the --max-duration deadline passed (run again with a larger --max-duration, or fewer Regions)"
        ),
        Some(Missed::Keys {
            count: not_examined,
        }),
    )
}

async fn scan_region<K: Kms, C: CloudTrail>(
    kms: K,
    trail: C,
    calls: &Calls,
    opts: &ScanOptions,
    account: &str,
    region: &str,
    progress: &(dyn Fn(Tick) + Sync),
) -> RegionResult {
    let t = opts.timeout;
    let paces = KmsPaces::new(opts.kms_rate);
    let mut errors = Vec::new();
    let listed = every_page(
        &paces.list_keys,
        calls,
        "kms",
        "ListKeys",
        t,
        MAX_LIST_PAGES,
        |marker| kms.list_keys(marker),
        |page| (page.keys, page.next_marker),
    )
    .await;
    let (listed, complete) = match listed {
        Ok(k) => k,
        Err(e) if not_enabled(&e) => {
            return RegionResult::NotEnabled(RegionSkipped {
                account: account.into(),
                region: region.to_owned(),
                reason: format!("not enabled in the account ({})", e.describe()),
            });
        }
        Err(e) => {
            return RegionResult::Failed(error(
                account,
                Some(region),
                "kms:ListKeys",
                &e,
                Some(Missed::Region),
            ));
        }
    };
    if !complete {
        errors.push(ScanError::new(
            Some(account),
            Some(region),
            "kms:ListKeys",
            format!(
                "more than {MAX_LIST_PAGES} pages of keys: only the first {} keys were scanned",
                listed.len()
            ),
            Some(Missed::Listing {
                kept: listed.len() as u64,
            }),
        ));
    }
    progress(Tick::Found {
        region,
        keys: listed.len() as u64,
    });
    // The aliases are listed while the keys are examined: they name the keys, and say which are
    // AWS managed when DescribeKey could not, once both are done.
    let list_aliases = every_page(
        &paces.list_aliases,
        calls,
        "kms",
        "ListAliases",
        t,
        MAX_LIST_PAGES,
        |marker| kms.list_aliases(marker),
        |page| (page.aliases, page.next_marker),
    );
    let past_deadline = || calls.deadline().is_some_and(|d| Instant::now() >= d);
    let examine = futures_util::stream::iter(listed)
        .map(|(key_id, arn)| {
            let (kms, paces) = (&kms, &paces);
            async move {
                // Past --max-duration, the rest of the Region is counted, not called.
                if past_deadline() {
                    return None;
                }
                let r = examine_key(kms, paces, calls, t, opts, account, region, key_id, arn).await;
                progress(Tick::KeyDone);
                Some(r)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect::<Vec<_>>();
    let (aliases_listed, examined) = tokio::join!(list_aliases, examine);
    let aliases = match aliases_listed {
        Ok((list, _)) => list,
        Err(e) => {
            errors.push(error(account, Some(region), "kms:ListAliases", &e, None));
            Vec::new()
        }
    };
    let Settled {
        mut keys,
        aws_managed,
        failures,
        not_examined,
    } = settle(examined, aliases);
    errors.extend(merge_key_failures(account, region, failures));
    if not_examined > 0 {
        errors.push(past_the_deadline(account, region, not_examined));
    }
    keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    if opts.cloudtrail {
        let unread = keys.iter().filter(|k| k.current_policy.is_none()).count();
        if unread > 0 {
            progress(Tick::Searching {
                region,
                keys: unread as u64,
            });
            search_history(&trail, calls, opts, &mut keys).await;
            search_replicas(&trail, calls, opts, &mut keys).await;
        }
    }
    RegionResult::Scanned {
        keys,
        aws_managed,
        errors,
    }
}

/// `DescribeKey` and `GetKeyPolicy` at once (neither needs the other), then its tags when the
/// mute list needs them and the key is not AWS managed. The caller drops AWS managed keys.
#[allow(clippy::too_many_arguments)]
async fn examine_key<K: Kms>(
    kms: &K,
    paces: &KmsPaces,
    calls: &Calls,
    t: Duration,
    opts: &ScanOptions,
    account: &str,
    region: &str,
    key_id: String,
    arn: Option<String>,
) -> (KeyEvidence, Vec<KeyFailure>) {
    let mut failures = Vec::new();
    let failed = |operation: KeyCall, e: &CallError| KeyFailure {
        operation,
        kind: e.kind.clone(),
        message: e.describe(),
        key_id: key_id.clone(),
    };
    let (described, policy) = tokio::join!(
        paces
            .describe_key
            .call(calls, "kms", "DescribeKey", t, || kms.describe_key(&key_id)),
        paces
            .get_key_policy
            .call(calls, "kms", "GetKeyPolicy", t, || kms
                .get_key_policy(&key_id)),
    );
    let mut key = KeyEvidence {
        account: account.into(),
        region: region.to_owned(),
        key_id: key_id.as_str().into(),
        arn: arn.clone(),
        ..KeyEvidence::default()
    };
    match described {
        Ok(md) => {
            key.arn = md.arn.or(arn);
            key.manager = md.manager;
            key.state = md.state;
            key.deletion_date = md.deletion_date;
            key.primary_region = md.primary_region;
        }
        Err(e) => failures.push(failed(KeyCall::DescribeKey, &e)),
    }
    if key.manager == Some(KeyManager::Aws) {
        return (key, failures);
    }
    match policy {
        Ok(p) => {
            key.current_policy = Some(p);
            key.get_key_policy = Some(Outcome::Ok);
        }
        Err(e) => {
            key.get_key_policy = Some(e.outcome);
            if e.outcome != Outcome::AccessDenied {
                failures.push(failed(KeyCall::GetKeyPolicy, &e));
            }
        }
    }
    if opts.read_tags {
        match paces
            .list_resource_tags
            .call(calls, "kms", "ListResourceTags", t, || {
                kms.list_resource_tags(&key_id)
            })
            .await
        {
            Ok(tags) => key.tags = Some(tags),
            Err(e) => failures.push(failed(KeyCall::ListResourceTags, &e)),
        }
    }
    (key, failures)
}

/// One paged CloudTrail search for every key of the Region whose policy could not be read:
/// the newest successful `PutKeyPolicy` of each, else its `CreateKey`, newest first, until
/// every key has its answer or the window is read.
async fn search_history<C: CloudTrail>(
    trail: &C,
    calls: &Calls,
    opts: &ScanOptions,
    keys: &mut [KeyEvidence],
) {
    let mut set = KeySet::default();
    let mut pending = 0usize;
    for (i, k) in keys.iter().enumerate() {
        if k.current_policy.is_none() {
            set.insert(i, &KeyRef::of_scanned(k));
            pending += 1;
        }
    }
    let (search, window) = search_of(opts, calls);
    let mut found: Vec<(Option<PolicyEvent>, Vec<PolicyEvent>)> =
        vec![(None, Vec::new()); keys.len()];
    let result = event_history::scan(
        trail,
        calls,
        &set,
        &search,
        &[
            crate::diagnosis::model::PolicyEventName::PutKeyPolicy,
            crate::diagnosis::model::PolicyEventName::CreateKey,
        ],
        window,
        None,
        &|_, _| {},
        |i, e| {
            let slot = &mut found[i];
            if slot.0.is_some() {
                return true;
            }
            if e.error_code.is_some() {
                if slot.1.len() < MAX_FAILED_KEPT {
                    slot.1.push(e);
                }
                return true;
            }
            slot.0 = Some(e);
            pending -= 1;
            pending > 0
        },
    )
    .await;
    for (i, (in_force, failed)) in found.into_iter().enumerate() {
        let key = &mut keys[i];
        if key.current_policy.is_some() {
            continue;
        }
        match &result {
            Err(e) => {
                key.history_unavailable = Some(format!("cloudtrail:LookupEvents: {}", e.describe()))
            }
            Ok(stats) => key.history = Some(stats.history(opts.lookback_days, in_force, failed)),
        }
    }
}

/// How scan's CloudTrail searches go: its bounds, and the window searched.
fn search_of(
    opts: &ScanOptions,
    calls: &Calls,
) -> (
    SearchOptions,
    (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) {
    let search = SearchOptions {
        lookback_days: opts.lookback_days,
        min_interval: opts.lookup_interval,
        timeout: opts.timeout,
        max_pages: MAX_PAGES,
        deadline: calls.deadline(),
    };
    let window = (
        opts.now - chrono::Duration::days(i64::from(opts.lookback_days)),
        opts.now,
    );
    (search, window)
}

/// The multi-Region replicas whose Region's search found no policy event: the `ReplicateKey`
/// that set each one's policy is recorded in its primary's Region, searched once per primary
/// Region for all of them (see `event_history::search_replicated`).
async fn search_replicas<C: CloudTrail>(
    trail: &C,
    calls: &Calls,
    opts: &ScanOptions,
    keys: &mut [KeyEvidence],
) {
    let mut by_primary: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        if let (Some(primary), Some(h)) = (&k.primary_region, &k.history)
            && h.in_force.is_none()
        {
            by_primary.entry(primary.clone()).or_default().push(i);
        }
    }
    let (search, window) = search_of(opts, calls);
    for (primary, replicas) in by_primary {
        let mut set = KeySet::default();
        for &i in &replicas {
            set.insert(i, &KeyRef::of_scanned(&keys[i]));
        }
        let mut found: BTreeMap<usize, PolicyEvent> = BTreeMap::new();
        let mut pending = replicas.len();
        let result = match trail.in_region(&primary) {
            Some(there) => event_history::scan(
                &there,
                calls,
                &set,
                &search,
                &[crate::diagnosis::model::PolicyEventName::ReplicateKey],
                window,
                None,
                &|_, _| {},
                |i, e| {
                    if e.error_code.is_none() && !found.contains_key(&i) {
                        found.insert(i, e);
                        pending -= 1;
                    }
                    pending > 0
                },
            )
            .await
            .ok(),
            None => None,
        };
        for i in replicas {
            if let Some(h) = keys[i].history.as_mut() {
                event_history::add_replicated(h, result.as_ref(), found.remove(&i));
            }
        }
    }
}

/// Whether the principals the keys' policies let update them still exist: each role and user
/// of the account asked about once, however many keys name it. `true` when one of them has a
/// permissions boundary.
async fn check_restorers<I: Iam>(
    iam: &I,
    calls: &Calls,
    t: Duration,
    account: &str,
    keys: &mut [KeyEvidence],
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    // Per key: (principal, what to ask IAM, or the answer known without asking).
    let mut asks: Vec<Vec<(String, Ask)>> = Vec::with_capacity(keys.len());
    let mut roles = BTreeSet::new();
    let mut users = BTreeSet::new();
    for k in keys.iter() {
        let (text, _) = k.policy_in_force();
        let Some(policy) = text.as_deref().and_then(|t| KeyPolicy::parse(t).ok()) else {
            asks.push(Vec::new());
            continue;
        };
        let mine = restorers_to_check(&policy, k.arn.as_deref(), account, now);
        for (_, ask) in &mine {
            match ask {
                Ask::Role(name) => {
                    roles.insert(name.clone());
                }
                Ask::User(name) => {
                    users.insert(name.clone());
                }
                Ask::Known(_) => {}
            }
        }
        asks.push(mine);
    }
    let pace = iam_pace();
    let (roles, users) = tokio::join!(
        look_up(iam, calls, &pace, t, EntityKind::Role, roles),
        look_up(iam, calls, &pace, t, EntityKind::User, users),
    );
    let bounded = roles
        .values()
        .chain(users.values())
        .any(|e| e.as_ref().is_ok_and(|e| e.boundary.is_some()));
    for (k, mine) in keys.iter_mut().zip(asks) {
        k.restorer_checks = mine
            .into_iter()
            .map(|(principal, ask)| {
                let entity = match &ask {
                    Ask::Role(n) => roles.get(n),
                    Ask::User(n) => users.get(n),
                    Ask::Known(_) => None,
                };
                ExistenceCheck {
                    principal,
                    exists: match ask {
                        Ask::Known(e) => e,
                        _ => entity.and_then(existence_of),
                    },
                    trust_policy: None,
                    created: entity.and_then(|e| e.as_ref().ok()).and_then(|e| e.created),
                    boundary: entity
                        .and_then(|e| e.as_ref().ok())
                        .and_then(|e| e.boundary.clone()),
                }
            })
            .collect();
    }
    bounded
}
