//! In-memory AWS for tests: one account's caller, keys, IAM entities, simulator answers and
//! CloudTrail events behind the same traits the SDK implements, with failures injected per
//! operation. It lets the gathering and the rules run in-process, without HTTP.

use kms_doctor::diagnosis::model::{CallerIdentity, SimulationResult};
use kms_doctor::evidence::{
    Alias, AliasPage, CallError, Clients, CloudTrail, EventPage, Iam, IamEntity, KeyMetadata, Kms,
    Sts, TrailEvent,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Events per `LookupEvents` page, as CloudTrail's maximum.
const PAGE_SIZE: usize = 50;

/// One key of the fake account.
#[derive(Debug, Clone)]
pub struct FakeKey {
    pub metadata: KeyMetadata,
    /// `None`: `GetKeyPolicy` answers `AccessDeniedException` (the key policy locks out).
    pub policy: Option<String>,
    pub aliases: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    caller: Option<CallerIdentity>,
    keys: Vec<FakeKey>,
    roles: Vec<IamEntity>,
    users: Vec<IamEntity>,
    simulation: Vec<SimulationResult>,
    authorization: kms_doctor::diagnosis::model::AuthorizationDetails,
    /// (event name, event), newest first as CloudTrail answers.
    events: Vec<(String, TrailEvent)>,
    /// `LookupEvents` and `ListAccounts` always answer another `NextToken`.
    endless_pages: bool,
    /// Operation → the error it answers (every time).
    failures: BTreeMap<String, CallError>,
    /// Operations called, in order.
    called: Vec<String>,
}

/// A fake AWS account, cheap to clone (clones share their state and call list).
#[derive(Debug, Clone, Default)]
pub struct FakeAws(Arc<Mutex<State>>);

fn denied(operation: &str) -> CallError {
    CallError::from_code(
        Some("AccessDeniedException"),
        format!("not authorized to perform {operation}"),
    )
}

impl FakeAws {
    fn with(self, edit: impl FnOnce(&mut State)) -> Self {
        edit(&mut self.0.lock().expect("fake lock"));
        self
    }

    pub fn caller(self, arn: &str, account: &str) -> Self {
        let identity = CallerIdentity {
            arn: arn.to_owned(),
            account: account.into(),
            user_id: "AIDAFAKEUSERID000001".into(),
        };
        self.with(|s| s.caller = Some(identity))
    }

    pub fn key(self, key: FakeKey) -> Self {
        self.with(|s| s.keys.push(key))
    }

    pub fn role(self, arn: &str) -> Self {
        let entity = entity(arn);
        self.with(|s| s.roles.push(entity))
    }

    /// What `GetAccountAuthorizationDetails` answers (in one page).
    pub fn authorization(
        self,
        details: kms_doctor::diagnosis::model::AuthorizationDetails,
    ) -> Self {
        self.with(|s| s.authorization = details)
    }

    pub fn simulation(self, results: Vec<SimulationResult>) -> Self {
        self.with(|s| s.simulation = results)
    }

    /// A CloudTrail event (give them newest first, as `LookupEvents` answers).
    pub fn event(self, name: &str, record: serde_json::Value) -> Self {
        let event = TrailEvent {
            event_id: record
                .get("eventID")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            event_name: Some(name.to_owned()),
            cloudtrail_event: Some(record.to_string()),
        };
        self.with(|s| s.events.push((name.to_owned(), event)))
    }

    /// `LookupEvents` never stops answering `NextToken` (a hostile or broken endpoint).
    pub fn endless_pages(self) -> Self {
        self.with(|s| s.endless_pages = true)
    }

    /// Every call of `operation` (`GetKeyPolicy`, `LookupEvents`, …) answers `error`.
    pub fn fail(self, operation: &str, error: CallError) -> Self {
        self.with(|s| {
            s.failures.insert(operation.to_owned(), error);
        })
    }

    /// Every call of `operation` is denied.
    pub fn deny(self, operation: &str) -> Self {
        let error = denied(operation);
        self.fail(operation, error)
    }

    /// The operations called so far, in order.
    pub fn called(&self) -> Vec<String> {
        self.0.lock().expect("fake lock").called.clone()
    }

    /// The four clients `gather` takes, all this account.
    pub fn clients(&self) -> Clients<FakeAws, FakeAws, FakeAws, FakeAws, FakeAws> {
        Clients {
            organizations: self.clone(),
            sts: self.clone(),
            kms: self.clone(),
            iam: self.clone(),
            cloudtrail: self.clone(),
            region: Some("us-east-1".to_owned()),
            partition: "aws".to_owned(),
        }
    }

    /// Records the call; answers the injected failure, if any.
    fn enter(&self, operation: &str) -> Result<std::sync::MutexGuard<'_, State>, CallError> {
        let mut state = self.0.lock().expect("fake lock");
        state.called.push(operation.to_owned());
        match state.failures.get(operation) {
            Some(e) => Err(e.clone()),
            None => Ok(state),
        }
    }
}

fn entity(arn: &str) -> IamEntity {
    let resource = arn.split_once(":role").or_else(|| arn.split_once(":user"));
    let path = resource
        .and_then(|(_, r)| r.rsplit_once('/'))
        .map(|(p, _)| format!("{p}/"))
        .unwrap_or_else(|| "/".to_owned());
    IamEntity {
        arn: arn.to_owned(),
        path,
        id: "AROAFAKEENTITYID0001".to_owned(),
        trust_policy: None,
        created: None,
        boundary: None,
    }
}

fn not_found(what: &str) -> CallError {
    CallError::from_code(Some("NotFoundException"), format!("{what} does not exist"))
}

fn find_key<'a>(keys: &'a [FakeKey], key: &str) -> Option<&'a FakeKey> {
    let alias = key
        .rsplit_once(":alias/")
        .map(|(_, a)| format!("alias/{a}"));
    keys.iter().find(|k| {
        k.metadata.key_id == key
            || k.metadata.arn.as_deref() == Some(key)
            || k.aliases
                .iter()
                .any(|a| a == key || Some(a) == alias.as_ref())
    })
}

/// Not in an organisation: every read answers `AWSOrganizationsNotInUseException`, unless a
/// failure is injected.
impl kms_doctor::evidence::Organizations for FakeAws {
    async fn describe_organization(&self) -> Result<kms_doctor::evidence::OrgIdentity, CallError> {
        drop(self.enter("DescribeOrganization")?);
        Err(not_in_use())
    }

    async fn list_parents(
        &self,
        _child: &str,
    ) -> Result<Vec<kms_doctor::evidence::OrgParent>, CallError> {
        drop(self.enter("ListParents")?);
        Err(not_in_use())
    }

    async fn list_policies_for_target(
        &self,
        _target: &str,
        _filter: &'static str,
        _next: Option<String>,
    ) -> Result<kms_doctor::evidence::PolicyPage, CallError> {
        drop(self.enter("ListPoliciesForTarget")?);
        Err(not_in_use())
    }

    async fn describe_policy(&self, _id: &str) -> Result<String, CallError> {
        drop(self.enter("DescribePolicy")?);
        Err(not_in_use())
    }
}

fn not_in_use() -> CallError {
    CallError::from_code(
        Some("AWSOrganizationsNotInUseException"),
        "Your account is not a member of an organization.",
    )
}

impl Sts for FakeAws {
    async fn get_caller_identity(&self) -> Result<CallerIdentity, CallError> {
        let state = self.enter("GetCallerIdentity")?;
        state.caller.clone().ok_or_else(|| {
            CallError::from_code(Some("InvalidClientTokenId"), "no credentials in the fake")
        })
    }
}

impl Kms for FakeAws {
    async fn describe_key(&self, key: &str) -> Result<KeyMetadata, CallError> {
        let state = self.enter("DescribeKey")?;
        find_key(&state.keys, key)
            .map(|k| k.metadata.clone())
            .ok_or_else(|| not_found(key))
    }

    async fn get_key_policy(&self, key: &str) -> Result<String, CallError> {
        let state = self.enter("GetKeyPolicy")?;
        let k = find_key(&state.keys, key).ok_or_else(|| not_found(key))?;
        k.policy.clone().ok_or_else(|| denied("kms:GetKeyPolicy"))
    }

    async fn list_keys(
        &self,
        _marker: Option<String>,
    ) -> Result<kms_doctor::evidence::KeyPage, CallError> {
        let state = self.enter("ListKeys")?;
        Ok(kms_doctor::evidence::KeyPage {
            keys: state
                .keys
                .iter()
                .map(|k| (k.metadata.key_id.clone(), k.metadata.arn.clone()))
                .collect(),
            next_marker: None,
        })
    }

    async fn list_resource_tags(&self, key: &str) -> Result<Vec<(String, String)>, CallError> {
        let state = self.enter("ListResourceTags")?;
        find_key(&state.keys, key)
            .map(|_| Vec::new())
            .ok_or_else(|| not_found(key))
    }

    async fn list_aliases(&self, _marker: Option<String>) -> Result<AliasPage, CallError> {
        let state = self.enter("ListAliases")?;
        let aliases = state
            .keys
            .iter()
            .flat_map(|k| {
                k.aliases.iter().map(|a| Alias {
                    name: a.clone(),
                    arn: None,
                    target_key_id: Some(k.metadata.key_id.clone()),
                })
            })
            .collect();
        Ok(AliasPage {
            aliases,
            next_marker: None,
        })
    }
}

/// One account, the same keys in every Region; `AssumeRole` answers the same account.
impl kms_doctor::evidence::Fleet for FakeAws {
    type Account = FakeAws;
    type Kms = FakeAws;
    type Trail = FakeAws;
    type Iam = FakeAws;
    type Org = FakeAws;

    fn organizations(&self) -> &FakeAws {
        self
    }

    async fn caller(&self) -> Result<CallerIdentity, CallError> {
        self.get_caller_identity().await
    }

    fn home(&self) -> FakeAws {
        self.clone()
    }

    async fn assume_role(&self, _role_arn: &str) -> Result<FakeAws, CallError> {
        drop(self.enter("AssumeRole")?);
        Ok(self.clone())
    }

    async fn list_accounts(
        &self,
        _next: Option<String>,
    ) -> Result<kms_doctor::evidence::AccountPage, CallError> {
        let state = self.enter("ListAccounts")?;
        Ok(kms_doctor::evidence::AccountPage {
            accounts: state
                .caller
                .iter()
                .map(|c| kms_doctor::evidence::MemberAccount {
                    id: c.account.to_string(),
                    status: Some("ACTIVE".to_owned()),
                })
                .collect(),
            next: state.endless_pages.then(|| "more".to_owned()),
        })
    }

    async fn list_regions(
        &self,
        _account: &FakeAws,
        _next: Option<String>,
    ) -> Result<kms_doctor::evidence::RegionPage, CallError> {
        drop(self.enter("ListRegions")?);
        Ok(kms_doctor::evidence::RegionPage {
            regions: vec!["us-east-1".to_owned()],
            next: None,
        })
    }

    fn kms(&self, account: &FakeAws, _region: &str) -> FakeAws {
        account.clone()
    }

    fn cloudtrail(&self, account: &FakeAws, _region: &str) -> FakeAws {
        account.clone()
    }

    fn iam(&self, account: &FakeAws) -> FakeAws {
        account.clone()
    }
}

impl Iam for FakeAws {
    async fn authorization_details(
        &self,
        _marker: Option<String>,
    ) -> Result<kms_doctor::evidence::AuthorizationPage, CallError> {
        let state = self.enter("GetAccountAuthorizationDetails")?;
        Ok(kms_doctor::evidence::AuthorizationPage {
            details: state.authorization.clone(),
            next_marker: None,
        })
    }

    async fn get_role(&self, name: &str) -> Result<IamEntity, CallError> {
        let state = self.enter("GetRole")?;
        let suffix = format!("/{name}");
        state
            .roles
            .iter()
            .find(|r| r.arn.ends_with(&suffix))
            .cloned()
            .ok_or_else(|| CallError::from_code(Some("NoSuchEntity"), format!("role {name}")))
    }

    async fn get_user(&self, name: &str) -> Result<IamEntity, CallError> {
        let state = self.enter("GetUser")?;
        let suffix = format!("/{name}");
        state
            .users
            .iter()
            .find(|r| r.arn.ends_with(&suffix))
            .cloned()
            .ok_or_else(|| CallError::from_code(Some("NoSuchEntity"), format!("user {name}")))
    }

    async fn simulate_principal_policy(
        &self,
        _principal_arn: &str,
        actions: &[&str],
        resource_arn: &str,
    ) -> Result<Vec<SimulationResult>, CallError> {
        let state = self.enter("SimulatePrincipalPolicy")?;
        Ok(state
            .simulation
            .iter()
            .filter(|r| actions.iter().any(|a| a.eq_ignore_ascii_case(&r.action)))
            .cloned()
            .map(|mut r| {
                r.resource = Some(resource_arn.to_owned());
                r
            })
            .collect())
    }
}

impl CloudTrail for FakeAws {
    fn in_region(&self, _region: &str) -> Option<Self> {
        None
    }

    async fn lookup_events(
        &self,
        event_name: kms_doctor::diagnosis::model::PolicyEventName,
        _start: chrono::DateTime<chrono::Utc>,
        _end: chrono::DateTime<chrono::Utc>,
        next_token: Option<String>,
    ) -> Result<EventPage, CallError> {
        let state = self.enter("LookupEvents")?;
        let matching: Vec<&TrailEvent> = state
            .events
            .iter()
            .filter(|(name, _)| name == event_name.as_str())
            .map(|(_, e)| e)
            .collect();
        let start: usize = next_token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let end = (start + PAGE_SIZE).min(matching.len());
        Ok(EventPage {
            events: matching
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|e| (*e).clone())
                .collect(),
            next_token: (end < matching.len() || state.endless_pages).then(|| end.to_string()),
        })
    }
}
