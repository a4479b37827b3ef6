//! What is known of one key, the one input of the judgement (`judge`), and who can update its
//! policy, the one value every command and report asks ([`Restorers`]).

use super::model::{AuthorizationDetails, Restorer, SourceKind, Timestamp};
use super::restore_paths::{Graph, ViaIam};
use crate::policy::{
    BlockedBy, Context, Evaluation, Grantee, Identity, KeyPolicy, OrgPolicies, OrgRequest, Orphan,
    PUT_KEY_POLICY,
};
use std::collections::BTreeMap;
use std::rc::Rc;

/// What is known of one key, however it was learned (live evidence, a saved evidence file, a
/// scan's read, a key declared in a template or plan): the one input of `judge`.
#[derive(Clone)]
pub struct KeyCase<'a, 'g> {
    /// The key policy in force, parsed; `None`: not known (the caller says why: a read denied,
    /// a policy known only after apply, one that does not parse).
    pub policy: Option<&'a KeyPolicy>,
    /// The key's ARN, account, partition and organisation, and where the policy came from.
    pub scope: PolicyScope<'a>,
    /// An AWS managed key: nobody can update its policy, by design (`aws-managed-key`).
    pub aws_managed: bool,
    /// Whether the principals checked still exist (absent: not known).
    pub existence: BTreeMap<&'a str, Option<bool>>,
    /// The principals of that name IAM created after the event that set the policy in force:
    /// new principals, which the policy does not name (see `judge::recreated`).
    pub recreated: BTreeMap<&'a str, Timestamp>,
    /// The principals IAM said have a permissions boundary (`GetRole`/`GetUser` give its ARN),
    /// whose content is known only with the authorization details (`iam`).
    pub boundaries: BTreeMap<&'a str, &'a str>,
    /// The key's account's authorization details, when read, with their policies parsed once.
    pub iam: Option<(&'a AuthorizationDetails, &'a Graph<'g>)>,
    /// Whom the key is judged for.
    pub asked: Asked<'a>,
    /// What the policy's conditions are decided against.
    pub context: &'a Context,
    /// A statement may let a principal kms-doctor cannot know offline (a template's `${…}`)
    /// update the policy: whether anyone can is then not decided.
    pub undecided: bool,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Whom a key is judged for.
#[derive(Clone, Copy)]
pub enum Asked<'a> {
    /// Nobody in particular: can anyone still update the policy (`scan`, `check`,
    /// `--without`). A missing delegation is `no-account-delegation`, `single-restorer` is
    /// judged.
    Lockout,
    /// Nobody in particular, for these actions (`explain` without `--principal`): a missing
    /// delegation is `root-delegation-missing` for the actions it leaves out.
    Actions(&'a [String]),
    /// A principal, with the key policy's evaluations of the actions for it (`diagnose`,
    /// `explain --principal`).
    Principal {
        who: &'a Identity,
        actions: &'a [String],
        evaluations: &'a [Evaluation],
    },
}

/// Whether `principal` may act on a key of `account` (when known): a principal of another
/// account never updates a key policy (`PutKeyPolicy`, `CancelKeyDeletion` and the other key
/// management operations do not work across accounts: KMS Developer Guide, "Allowing users in
/// other accounts to use a KMS key"). A principal whose account cannot be read is kept.
pub fn in_key_account(principal: &str, account: Option<&str>) -> bool {
    account.is_none_or(|k| {
        Identity::parse(principal)
            .ok()
            .and_then(|i| i.account().map(|a| a == k))
            .unwrap_or(true)
    })
}

static NO_CONTEXT: std::sync::LazyLock<Context> = std::sync::LazyLock::new(Context::default);

impl<'a> KeyCase<'a, '_> {
    /// A key judged for nobody in particular, with nothing read beside its policy.
    pub fn lockout(
        policy: Option<&'a KeyPolicy>,
        scope: PolicyScope<'a>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        KeyCase {
            policy,
            scope,
            aws_managed: false,
            existence: BTreeMap::new(),
            recreated: BTreeMap::new(),
            boundaries: BTreeMap::new(),
            iam: None,
            asked: Asked::Lockout,
            context: &NO_CONTEXT,
            undecided: false,
            now,
        }
    }
}

/// Everything about who can update a key's policy: every command and report asks this value,
/// none recomputes it.
#[derive(Default, Clone)]
pub struct Restorers {
    /// Every principal the key policy names for `kms:PutKeyPolicy` (as its grant, with
    /// `blocked_by` when the organisation's policies deny it the action), in the policy's order.
    pub grants: Vec<Grantee>,
    /// The same as restorers (`exists` from the checks made), one per grant.
    pub list: Vec<Restorer>,
    /// When the key delegates to the account and its authorization details were read, the IAM
    /// users and roles whose own policies allow it (`via: iam`): shared by the keys of the
    /// account for which they are the same.
    pub iam: Rc<ViaIam>,
    /// Principals named by the unique ID of a deleted principal.
    pub orphans: Vec<Orphan>,
    /// The authorization details were read whole: the IAM restorers are all of them.
    pub(super) iam_whole: bool,
    /// See [`KeyCase::undecided`].
    pub(super) undecided: bool,
    pub(super) aws_managed: bool,
    /// The key policy denies the account's root user itself `kms:PutKeyPolicy` (a Deny whose
    /// condition spares only other principals): it is no last resort.
    pub(super) root_denied: bool,
    /// The principals a `Deny` spares by name that do not exist, when no existing principal
    /// can update the policy (the authorization details read whole, the root user held): the
    /// key is locked out unless one of them is created (a condition compares names, not unique
    /// IDs).
    pub unless_created: Vec<String>,
}

impl Restorers {
    /// The restorers the key policy names (one per grant).
    pub fn named(&self) -> &[Restorer] {
        &self.list
    }

    /// Every restorer: those the key policy names, then those through IAM.
    pub fn all(&self) -> impl Iterator<Item = &Restorer> {
        self.list.iter().chain(&self.iam.list)
    }

    /// Every restorer, as a report lists them.
    pub fn into_list(self) -> Vec<Restorer> {
        let mut list = self.list;
        list.extend(Rc::unwrap_or_clone(self.iam).list);
        list
    }

    /// The restorers through IAM, to change (made the key's own when shared).
    pub fn iam_mut(&mut self) -> &mut Vec<Restorer> {
        &mut Rc::make_mut(&mut self.iam).list
    }

    /// The key policy's grants that count (see [`Restorer::counts`]).
    pub fn living(&self) -> Vec<Grantee> {
        self.grants
            .iter()
            .zip(&self.list)
            .filter(|(_, r)| r.counts())
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// The key policy's account delegation stands (`model::delegates`).
    pub fn delegates(&self) -> bool {
        super::model::delegates(&self.list)
    }

    /// Some restorer is held by the organisation's SCPs or RCPs.
    pub fn held(&self) -> bool {
        self.all().any(|r| r.blocked_by.is_some())
    }

    /// Some restorer counts.
    pub fn any_counts(&self) -> bool {
        self.all().any(Restorer::counts)
    }

    /// Nobody is left to update the policy: `no-restorer`. Never for an AWS managed key (that
    /// is `aws-managed-key`) nor while a principal unknown offline may be one.
    pub fn none(&self) -> bool {
        !self.aws_managed
            && !self.undecided
            && (!self.unless_created.is_empty()
                || !self.grants.iter().zip(&self.list).any(|(_, r)| r.counts()))
    }

    /// The users and roles IAM lets update the policy through the delegation (those that count:
    /// not held by the organisation's policies), sorted, when the authorization details were
    /// read whole.
    pub fn through_iam(&self) -> Option<&ViaIam> {
        self.iam_whole.then_some(&*self.iam)
    }
}

/// The organisation's policies that apply, when known, and whether the key is exempt from RCPs
/// (AWS managed, or in the management account).
#[derive(Clone, Copy, Default)]
pub struct OrgScope<'a> {
    pub policies: Option<&'a OrgPolicies>,
    pub exempt_key: bool,
}

impl OrgScope<'_> {
    /// What of the organisation's policies denies `principal` `kms:PutKeyPolicy` on the key.
    pub fn blocked(
        &self,
        principal: &str,
        key_arn: Option<&str>,
        context: &Context,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<BlockedBy> {
        let org = self.policies?;
        let who = Identity::parse(principal).ok()?;
        org.blocked(
            &OrgRequest {
                principal: &who,
                action: PUT_KEY_POLICY,
                resource: key_arn,
                context,
                now,
            },
            self.exempt_key,
        )
    }
}

/// Whose policy is judged, and where it came from.
#[derive(Clone, Copy)]
pub struct PolicyScope<'a> {
    pub account: &'a str,
    /// The account is the key's for certain (not a template's guess): principals of other
    /// accounts are then no restorers.
    pub account_known: bool,
    pub partition: &'a str,
    pub key_arn: Option<&'a str>,
    pub source: SourceKind,
    pub org: OrgScope<'a>,
}
