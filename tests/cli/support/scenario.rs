//! The scenario endpoint: a small stand-in for STS, KMS, IAM and CloudTrail that answers in
//! AWS's wire formats (awsQuery XML for STS and IAM, JSON 1.1 for KMS and CloudTrail), error
//! bodies, throttling and malformed replies included, from a scenario described in JSON.
//! Requests it cannot answer can be forwarded to an upstream endpoint (moto), so that a test
//! may use moto for what moto implements and this for the rest.
//!
//! Shared by the end-to-end tests and by `examples/scenario_endpoint.rs` (benchmarks).

#![allow(dead_code)]

use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub about: String,
    pub caller: Caller,
    #[serde(default)]
    pub roles: Vec<Entity>,
    #[serde(default)]
    pub users: Vec<Entity>,
    #[serde(default)]
    pub keys: Vec<Key>,
    /// action → what the IAM policy simulator answers.
    #[serde(default)]
    pub simulation: BTreeMap<String, Simulation>,
    #[serde(default)]
    pub cloudtrail: Trail,
    /// Operations (`kms:GetKeyPolicy`) that answer AccessDenied.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The caller's organisation; without it, Organizations answers
    /// `AWSOrganizationsNotInUseException`.
    #[serde(default)]
    pub organization: Option<Organization>,
    /// Operation (`kms:ListKeys`, or `kms:ListKeys@us-west-2` for one Region) → `500`, `hang`,
    /// `malformed`, `throttle`.
    #[serde(default)]
    pub faults: BTreeMap<String, String>,
    /// Added to every answer.
    #[serde(default)]
    pub delay_ms: u64,
    /// Managed policies by ARN: their documents, for `GetAccountAuthorizationDetails`.
    #[serde(default)]
    pub managed_policies: BTreeMap<String, serde_json::Value>,
    /// The organisation's accounts (`ListAccounts`), and which of them `AssumeRole` reaches.
    #[serde(default)]
    pub accounts: Vec<Member>,
    /// What `account:ListRegions` answers (`None`: the caller's Region only).
    #[serde(default)]
    pub enabled_regions: Option<Vec<String>>,
    /// Opt-in Regions not enabled: KMS there answers `UnrecognizedClientException`.
    #[serde(default)]
    pub disabled_regions: Vec<String>,
    /// Keys per `ListKeys` page and aliases per `ListAliases` page (default: what is asked).
    #[serde(default)]
    pub kms_page_size: Option<usize>,
    /// Accounts per `ListAccounts` page at most (default 2, so that tests page; AWS gives up
    /// to the 20 asked).
    #[serde(default)]
    pub accounts_page_size: Option<usize>,
    /// Every Nth KMS call answers `ThrottlingException`.
    #[serde(default)]
    pub kms_throttle_every: usize,
    /// KMS's request quotas, as KMS enforces them: operation (`GetKeyPolicy`) → calls a second
    /// per account and Region, past which a call answers `ThrottlingException`. A token bucket
    /// that holds a tenth of a second of calls.
    #[serde(default)]
    pub kms_quotas: BTreeMap<String, f64>,
}

/// An account of the organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub id: String,
    #[serde(default = "active")]
    pub status: String,
    /// `AssumeRole` into it succeeds.
    #[serde(default = "yes")]
    pub assumable: bool,
}

fn active() -> String {
    "ACTIVE".into()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub name: String,
    #[serde(default = "slash")]
    pub path: String,
    pub id: String,
    pub account: String,
    /// ARNs of the managed policies attached to it.
    #[serde(default)]
    pub attached: Vec<String>,
    /// A role's trust policy (the default names the account).
    #[serde(default)]
    pub trust: Option<serde_json::Value>,
    /// The permissions boundary's policy ARN.
    #[serde(default)]
    pub boundary: Option<String>,
    /// When IAM created it (`CreateDate`, RFC 3339); 2024-01-01 by default.
    #[serde(default)]
    pub created: Option<String>,
}

fn slash() -> String {
    "/".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub id: String,
    pub account: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default = "customer")]
    pub manager: String,
    #[serde(default = "enabled")]
    pub state: String,
    #[serde(default)]
    pub deletion_date: Option<f64>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub policy: Value,
    /// `GetKeyPolicy` of this key answers AccessDenied (its policy locks the caller out).
    #[serde(default)]
    pub deny_policy: bool,
    /// How that AccessDenied ends, after the resource, in AWS's wording (IAM User Guide,
    /// "Access denied error messages"); by default the key policy's implicit deny,
    /// `because no resource-based policy allows the kms:GetKeyPolicy action`.
    #[serde(default)]
    pub denied_with: Option<String>,
    /// Its tags, for `ListResourceTags`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// A multi-Region replica: its primary key's Region (`DescribeKey` answers its
    /// `MultiRegionConfiguration`, as KMS does).
    #[serde(default)]
    pub primary_region: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}
fn customer() -> String {
    "CUSTOMER".into()
}
fn enabled() -> String {
    "Enabled".into()
}

impl Key {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{}",
            self.region, self.account, self.id
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    pub decision: String,
    #[serde(default)]
    pub matched: Vec<(String, String)>,
    #[serde(default)]
    pub organizations: Option<bool>,
    #[serde(default)]
    pub boundary: Option<bool>,
}

/// An organisation, as Organizations' read operations show it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub management_account: String,
    /// Child (an account or an OU) → parent (an OU `ou-…`, or the root `r-…`).
    pub parents: BTreeMap<String, String>,
    #[serde(default)]
    pub policies: Vec<OrgPolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicy {
    pub id: String,
    pub name: String,
    /// `SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`.
    #[serde(rename = "type")]
    pub kind: String,
    pub content: Value,
    /// The root, OUs and accounts it is attached to.
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Trail {
    /// CloudTrail records, newest first. A string is a record that does not parse.
    #[serde(default)]
    pub events: Vec<Value>,
    /// `PutKeyPolicy` events of other keys, newer than `events`, returned first.
    #[serde(default)]
    pub unrelated: usize,
    #[serde(default = "fifty")]
    pub page_size: usize,
    /// Every Nth LookupEvents call answers ThrottlingException.
    #[serde(default)]
    pub throttle_every: usize,
}

fn fifty() -> usize {
    50
}

/// A running endpoint.
pub struct Endpoint {
    pub url: String,
    /// The operations called (`kms:DescribeKey`), in order of arrival.
    pub calls: Arc<Mutex<Vec<String>>>,
    /// The KMS calls answered here, with the key each named: what a test of concurrent calls
    /// counts per key, whatever order they arrived in.
    pub kms_calls: Arc<Mutex<Vec<KmsCall>>>,
}

/// One KMS request as the endpoint saw it.
#[derive(Debug, Clone)]
pub struct KmsCall {
    /// `kms:GetKeyPolicy`.
    pub op: String,
    /// The `KeyId` of the request, as sent.
    pub key_id: Option<String>,
    /// Answered `ThrottlingException` (the caller retries it).
    pub throttled: bool,
}

impl Endpoint {
    /// The calls of `op` that named `key_id` and were answered, not throttled.
    pub fn answered(&self, op: &str, key_id: &str) -> usize {
        self.kms_calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.op == op && !c.throttled && c.key_id.as_deref() == Some(key_id))
            .count()
    }
}

struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    raw: Vec<u8>,
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            content_type: "application/x-amz-json-1.1",
            body: v.to_string().into_bytes(),
        }
    }
    fn xml(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "text/xml",
            body: body.into_bytes(),
        }
    }
}

/// Starts the scenario of a file under `tests/scenarios/`.
pub fn start_file(name: &str) -> Endpoint {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the scenario file"))
            .expect("JSON");
    start(serde_json::from_value(file["scenario"].clone()).expect("a scenario"))
}

pub fn start(scenario: Scenario) -> Endpoint {
    start_with_upstream(scenario, None)
}

/// Starts the endpoint on a given port of 127.0.0.1 (0: any free port).
pub fn start_on(scenario: Scenario, port: u16) -> Endpoint {
    serve_on(scenario, None, port)
}

/// Starts the endpoint on a free port of 127.0.0.1. With `upstream`, requests for operations
/// the scenario does not answer are forwarded there.
pub fn start_with_upstream(scenario: Scenario, upstream: Option<String>) -> Endpoint {
    serve_on(scenario, upstream, 0)
}

fn serve_on(scenario: Scenario, upstream: Option<String>, port: u16) -> Endpoint {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let kms_calls = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(State {
        scenario,
        calls: calls.clone(),
        kms_log: kms_calls.clone(),
        lookups: AtomicUsize::new(0),
        kms_seen: AtomicUsize::new(0),
        quota_buckets: Mutex::new(BTreeMap::new()),
        upstream,
    });
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let state = state.clone();
            std::thread::spawn(move || serve(stream, &state));
        }
    });
    Endpoint {
        url,
        calls,
        kms_calls,
    }
}

struct State {
    scenario: Scenario,
    calls: Arc<Mutex<Vec<String>>>,
    kms_log: Arc<Mutex<Vec<KmsCall>>>,
    lookups: AtomicUsize,
    kms_seen: AtomicUsize,
    /// The quota buckets (`kms_quotas`) by account, Region and operation: tokens left, and when.
    quota_buckets: Mutex<BTreeMap<QuotaOf, (f64, std::time::Instant)>>,
    upstream: Option<String>,
}

/// A quota's account, Region and operation.
type QuotaOf = (String, String, String);

impl State {
    /// Whether a KMS call of `op` in `account` and `region` is past its quota now.
    fn over_quota(&self, account: &str, region: &str, op: &str) -> bool {
        let Some(&quota) = self.scenario.kms_quotas.get(op.trim_start_matches("kms:")) else {
            return false;
        };
        let capacity = (quota / 10.0).max(1.0);
        let now = std::time::Instant::now();
        let mut buckets = self.quota_buckets.lock().unwrap();
        let (tokens, last) = buckets
            .entry((account.to_owned(), region.to_owned(), op.to_owned()))
            .or_insert((capacity, now));
        *tokens = (*tokens + (now - *last).as_secs_f64() * quota).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            false
        } else {
            true
        }
    }
}

/// The access key `AssumeRole` hands out for an account, and the account an access key is of.
const ASSUMED_KEY_PREFIX: &str = "ASIASCENARIO";

/// The Region and account a signed request is for: the Region from the signature's credential
/// scope, the account from the access key (the caller's, or one `AssumeRole` gave).
fn signed_for(req: &Request, sc: &Scenario) -> (String, String) {
    let credential = req
        .headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .unwrap_or_default();
    let mut parts = credential.split('/');
    let key = parts.next().unwrap_or_default();
    let region = parts.nth(1).unwrap_or("us-east-1").to_owned();
    let account = key
        .strip_prefix(ASSUMED_KEY_PREFIX)
        .map(str::to_owned)
        .unwrap_or_else(|| sc.caller.account.clone());
    (region, account)
}

fn serve(stream: TcpStream, state: &State) {
    // An answer is written at once: without this, Nagle's algorithm holds the body back until
    // the client acknowledges the head, adding the client's delayed-ACK time to every call.
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    while let Some(req) = read_request(&mut reader) {
        let reply = handle(&req, state);
        let reply = match reply {
            Some(r) => r,
            None => match &state.upstream {
                Some(up) => match forward(up, &req.raw) {
                    Some(raw) => {
                        if writer.write_all(&raw).is_err() {
                            return;
                        }
                        continue;
                    }
                    None => Reply::json(502, json!({"__type": "BadGateway"})),
                },
                None => Reply::json(
                    400,
                    json!({"__type": "UnknownOperationException", "message": "not in the scenario"}),
                ),
            },
        };
        if state.scenario.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(state.scenario.delay_ms));
        }
        let reason = match reply.status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            500 => "Internal Server Error",
            _ => "Other",
        };
        let head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nx-amzn-RequestId: 11111111-2222-3333-4444-555555555555\r\n\r\n",
            reply.status,
            reply.content_type,
            reply.body.len()
        );
        let mut answer = head.into_bytes();
        answer.extend_from_slice(&reply.body);
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut raw = Vec::new();
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    raw.extend_from_slice(line.as_bytes());
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        raw.extend_from_slice(line.as_bytes());
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    raw.extend_from_slice(&body);
    Some(Request {
        path,
        headers,
        body,
        raw,
    })
}

/// Sends a raw request upstream and returns the raw response.
fn forward(upstream: &str, raw: &[u8]) -> Option<Vec<u8>> {
    let addr = upstream.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).ok()?;
    // One request per upstream connection keeps the relay simple.
    let text =
        String::from_utf8_lossy(raw).replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    s.write_all(text.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    // Keep the client's connection usable: drop any Connection: close the upstream set.
    Some(
        String::from_utf8_lossy(&out)
            .replace("Connection: close\r\n", "")
            .replace("connection: close\r\n", "")
            .into_bytes(),
    )
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn query_error(service_ns: &str, status: u16, code: &str, message: &str) -> Reply {
    Reply::xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{service_ns}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>11111111-2222-3333-4444-555555555555</RequestId></ErrorResponse>",
            xml_escape(message)
        ),
    )
}

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

fn handle(req: &Request, state: &State) -> Option<Reply> {
    let sc = &state.scenario;
    let (region, account) = signed_for(req, sc);
    let (op, json_body, query) = match req.headers.get("x-amz-target") {
        Some(target) => {
            let name = target.rsplit('.').next().unwrap_or_default().to_owned();
            let service = if target.starts_with("TrentService") {
                "kms"
            } else if target.starts_with("AWSOrganizations") {
                "organizations"
            } else {
                "cloudtrail"
            };
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            (format!("{service}:{name}"), body, BTreeMap::new())
        }
        // The Account Management API is REST-JSON: the operation is the path.
        None if req.path.starts_with("/listRegions") => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            ("account:ListRegions".to_owned(), body, BTreeMap::new())
        }
        None => {
            let q = form(&req.body);
            let action = q.get("Action").cloned().unwrap_or_default();
            let service = if matches!(action.as_str(), "GetCallerIdentity" | "AssumeRole") {
                "sts"
            } else {
                "iam"
            };
            (format!("{service}:{action}"), Value::Null, q)
        }
    };
    // With moto behind, only what moto lacks is answered here.
    let moto_lacks = ["iam:SimulatePrincipalPolicy", "cloudtrail:LookupEvents"];
    if state.upstream.is_some() && !moto_lacks.contains(&op.as_str()) {
        state.calls.lock().unwrap().push(op);
        return None;
    }
    state.calls.lock().unwrap().push(op.clone());
    let is_json = !(op.starts_with("sts:") || op.starts_with("iam:"));
    if op.starts_with("kms:") {
        if sc.disabled_regions.contains(&region) {
            return Some(Reply::json(
                400,
                json!({"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}),
            ));
        }
        let n = state.kms_seen.fetch_add(1, Ordering::SeqCst) + 1;
        let over_quota = state.over_quota(&account, &region, &op);
        let throttled = over_quota
            || sc.kms_throttle_every > 0 && n.is_multiple_of(sc.kms_throttle_every)
            || sc
                .faults
                .get(&format!("{op}@{region}"))
                .or_else(|| sc.faults.get(&op))
                == Some(&"throttle".to_owned());
        state.kms_log.lock().unwrap().push(KmsCall {
            op: op.clone(),
            key_id: json_body
                .get("KeyId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            throttled,
        });
        if over_quota || sc.kms_throttle_every > 0 && n.is_multiple_of(sc.kms_throttle_every) {
            return Some(Reply::json(
                400,
                json!({"__type": "ThrottlingException", "message": "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}),
            ));
        }
    }
    // `op@region` faults only that Region; `op` every Region.
    let fault = sc
        .faults
        .get(&format!("{op}@{region}"))
        .or_else(|| sc.faults.get(&op));
    if let Some(fault) = fault {
        match fault.as_str() {
            "500" => {
                return Some(if is_json {
                    Reply::json(
                        500,
                        json!({"__type": "KMSInternalException", "message": "internal error"}),
                    )
                } else {
                    Reply::xml(500, "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceFailure</Code><Message>internal error</Message></Error></ErrorResponse>".into())
                });
            }
            "hang" => {
                std::thread::sleep(Duration::from_secs(30));
            }
            "malformed" => {
                return Some(Reply {
                    status: 200,
                    content_type: if is_json {
                        "application/x-amz-json-1.1"
                    } else {
                        "text/xml"
                    },
                    body: b"{<<not what AWS sends".to_vec(),
                });
            }
            "throttle" => {
                return Some(if is_json {
                    Reply::json(
                        400,
                        json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                    )
                } else {
                    query_error(IAM_NS, 400, "Throttling", "Rate exceeded")
                });
            }
            _ => {}
        }
    }
    if sc.deny.contains(&op) {
        let message = if op == "kms:GetKeyPolicy" {
            let wanted = json_body
                .get("KeyId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = find_key(sc, wanted, &account, &region);
            format!(
                "User: {} is not authorized to perform: kms:GetKeyPolicy on resource: {} {}",
                sc.caller.arn,
                key.map_or_else(|| wanted.to_owned(), Key::arn),
                key_policy_denial(sc, key)
            )
        } else {
            format!(
                "User: {} is not authorized to perform: {op} because no identity-based policy allows the {op} action",
                sc.caller.arn
            )
        };
        return Some(if is_json {
            Reply::json(
                400,
                json!({"__type": "AccessDeniedException", "message": message}),
            )
        } else {
            query_error(
                if op.starts_with("sts:") {
                    STS_NS
                } else {
                    IAM_NS
                },
                403,
                "AccessDenied",
                &message,
            )
        });
    }
    Some(match op.as_str() {
        "sts:GetCallerIdentity" => Reply::xml(
            200,
            format!(
                "<GetCallerIdentityResponse xmlns=\"{STS_NS}\"><GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
                xml_escape(&sc.caller.arn),
                xml_escape(&sc.caller.user_id),
                sc.caller.account
            ),
        ),
        "kms:DescribeKey" | "kms:GetKeyPolicy" | "kms:ListResourceTags" => {
            let wanted = json_body
                .get("KeyId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match find_key(sc, wanted, &account, &region) {
                None => Reply::json(
                    400,
                    json!({"__type": "NotFoundException", "message": format!("Key '{wanted}' does not exist")}),
                ),
                Some(k)
                    if op == "kms:GetKeyPolicy" && (k.deny_policy || k.denied_with.is_some()) =>
                {
                    Reply::json(
                        400,
                        json!({"__type": "AccessDeniedException", "message": format!(
                            "User: {} is not authorized to perform: kms:GetKeyPolicy on resource: {} {}",
                            sc.caller.arn, k.arn(), key_policy_denial(sc, Some(k))
                        )}),
                    )
                }
                Some(k) if op == "kms:ListResourceTags" => {
                    let tags: Vec<Value> = k
                        .tags
                        .iter()
                        .map(|(key, value)| json!({"TagKey": key, "TagValue": value}))
                        .collect();
                    Reply::json(200, json!({"Tags": tags, "Truncated": false}))
                }
                Some(k) if op == "kms:GetKeyPolicy" => Reply::json(
                    200,
                    json!({"Policy": k.policy.to_string(), "PolicyName": "default"}),
                ),
                Some(k) => {
                    let mut md = json!({
                        "AWSAccountId": k.account, "KeyId": k.id, "Arn": k.arn(), "CreationDate": 1.7e9,
                        "Enabled": k.state == "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": k.state,
                        "Origin": "AWS_KMS", "KeyManager": k.manager, "KeySpec": "SYMMETRIC_DEFAULT",
                        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                        "MultiRegion": false, "Description": ""
                    });
                    if let Some(primary) = &k.primary_region {
                        let primary_arn = k.arn().replacen(&k.region, primary, 1);
                        md["MultiRegion"] = json!(true);
                        md["MultiRegionConfiguration"] = json!({
                            "MultiRegionKeyType": "REPLICA",
                            "PrimaryKey": {"Arn": primary_arn, "Region": primary},
                            "ReplicaKeys": [{"Arn": k.arn(), "Region": k.region}]
                        });
                    }
                    if let Some(d) = k.deletion_date {
                        md["DeletionDate"] = json!(d);
                        md["PendingDeletionWindowInDays"] = json!(7);
                    }
                    Reply::json(200, json!({"KeyMetadata": md}))
                }
            }
        }
        "kms:ListAliases" => {
            let aliases: Vec<Value> = sc
                .keys
                .iter()
                .filter(|k| k.account == account && k.region == region)
                .flat_map(|k| {
                    k.aliases.iter().map(move |a| {
                        json!({"AliasName": a, "AliasArn": format!("arn:aws:kms:{}:{}:{a}", k.region, k.account), "TargetKeyId": k.id})
                    })
                })
                .collect();
            let (page, next) = page_of(&aliases, &json_body, sc.kms_page_size);
            let mut out = json!({"Aliases": page, "Truncated": next.is_some()});
            if let Some(m) = next {
                out["NextMarker"] = json!(m);
            }
            Reply::json(200, out)
        }
        "kms:ListKeys" => {
            let keys: Vec<Value> = sc
                .keys
                .iter()
                .filter(|k| k.account == account && k.region == region)
                .map(|k| json!({"KeyId": k.id, "KeyArn": k.arn()}))
                .collect();
            let (page, next) = page_of(&keys, &json_body, sc.kms_page_size);
            let mut out = json!({"Keys": page, "Truncated": next.is_some()});
            if let Some(m) = next {
                out["NextMarker"] = json!(m);
            }
            Reply::json(200, out)
        }
        "sts:AssumeRole" => {
            let role = query.get("RoleArn").cloned().unwrap_or_default();
            let target = role.split(':').nth(4).unwrap_or_default();
            match sc.accounts.iter().find(|m| m.id == target && m.assumable) {
                Some(m) => Reply::xml(
                    200,
                    format!(
                        "<AssumeRoleResponse xmlns=\"{STS_NS}\"><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::{id}:assumed-role/{name}/kms-doctor-scan</Arn><AssumedRoleId>AROASCENARIO:kms-doctor-scan</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>{ASSUMED_KEY_PREFIX}{id}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>",
                        id = m.id,
                        name = xml_escape(role.rsplit('/').next().unwrap_or_default()),
                    ),
                ),
                None => query_error(
                    STS_NS,
                    403,
                    "AccessDenied",
                    &format!(
                        "User: {} is not authorized to perform: sts:AssumeRole on resource: {role}",
                        sc.caller.arn
                    ),
                ),
            }
        }
        "organizations:ListAccounts" => {
            let accounts: Vec<Value> = sc
                .accounts
                .iter()
                .map(|m| json!({"Id": m.id, "Arn": format!("arn:aws:organizations::{}:account/o-example/{}", sc.caller.account, m.id),
                    "Email": format!("aws+{}@example.com", m.id), "Name": format!("account-{}", m.id), "Status": m.status,
                    "JoinedMethod": "CREATED", "JoinedTimestamp": 1.7e9}))
                .collect();
            let (page, next) = page_of(
                &accounts,
                &json_body,
                Some(sc.accounts_page_size.unwrap_or(2)),
            );
            let mut out = json!({"Accounts": page});
            if let Some(m) = next {
                out["NextToken"] = json!(m);
            }
            Reply::json(200, out)
        }
        "account:ListRegions" => {
            let regions: Vec<Value> = sc
                .enabled_regions
                .clone()
                .unwrap_or_else(|| vec![region.clone()])
                .iter()
                .map(|r| json!({"RegionName": r, "RegionOptStatus": "ENABLED_BY_DEFAULT"}))
                .collect();
            Reply {
                status: 200,
                content_type: "application/json",
                body: json!({"Regions": regions}).to_string().into_bytes(),
            }
        }
        "iam:GetRole" | "iam:GetUser" => {
            let (list, name_key, tag) = if op == "iam:GetRole" {
                (&sc.roles, "RoleName", "Role")
            } else {
                (&sc.users, "UserName", "User")
            };
            let name = query.get(name_key).cloned().unwrap_or_default();
            match list.iter().find(|e| e.name == name) {
                None => query_error(
                    IAM_NS,
                    404,
                    "NoSuchEntity",
                    &format!(
                        "The {} with name {name} cannot be found.",
                        tag.to_lowercase()
                    ),
                ),
                Some(e) => {
                    let kind = if tag == "Role" { "role" } else { "user" };
                    let arn = format!("arn:aws:iam::{}:{kind}{}{}", e.account, e.path, e.name);
                    let extra = match (&e.trust, tag) {
                        (Some(trust), "Role") => format!(
                            "<AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration>",
                            percent_encoding::utf8_percent_encode(
                                &trust.to_string(),
                                percent_encoding::NON_ALPHANUMERIC
                            )
                        ),
                        (None, "Role") => "<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration>".to_owned(),
                        _ => String::new(),
                    };
                    // GetRole and GetUser answer a permissions boundary's ARN (not its policy).
                    let extra = match &e.boundary {
                        Some(b) => format!(
                            "{extra}<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType><PermissionsBoundaryArn>{}</PermissionsBoundaryArn></PermissionsBoundary>",
                            xml_escape(b)
                        ),
                        None => extra,
                    };
                    Reply::xml(
                        200,
                        format!(
                            "<Get{tag}Response xmlns=\"{IAM_NS}\"><Get{tag}Result><{tag}><Path>{}</Path><{tag}Name>{}</{tag}Name><{tag}Id>{}</{tag}Id><Arn>{arn}</Arn><CreateDate>{}</CreateDate>{extra}</{tag}></Get{tag}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></Get{tag}Response>",
                            e.path,
                            e.name,
                            e.id,
                            e.created.as_deref().unwrap_or("2024-01-01T00:00:00Z")
                        ),
                    )
                }
            }
        }
        "iam:GetAccountAuthorizationDetails" => {
            let encode = |doc: &serde_json::Value| {
                percent_encoding::utf8_percent_encode(
                    &doc.to_string(),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string()
            };
            let attached = |e: &Entity| {
                e.attached
                    .iter()
                    .map(|a| {
                        let name = a.rsplit('/').next().unwrap_or(a);
                        format!(
                            "<member><PolicyName>{}</PolicyName><PolicyArn>{}</PolicyArn></member>",
                            xml_escape(name),
                            xml_escape(a)
                        )
                    })
                    .collect::<String>()
            };
            let entity = |e: &Entity, tag: &str, kind: &str, extra: &str| {
                let boundary = e
                    .boundary
                    .as_deref()
                    .map(|b| format!("<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType><PermissionsBoundaryArn>{}</PermissionsBoundaryArn></PermissionsBoundary>", xml_escape(b)))
                    .unwrap_or_default();
                let extra = format!("{extra}{boundary}");
                format!(
                    "<member><Path>{}</Path><{tag}Name>{}</{tag}Name><{tag}Id>{}</{tag}Id><Arn>arn:aws:iam::{}:{kind}{}{}</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate>{extra}<AttachedManagedPolicies>{}</AttachedManagedPolicies><Tags/></member>",
                    xml_escape(&e.path),
                    xml_escape(&e.name),
                    xml_escape(&e.id),
                    e.account,
                    xml_escape(&e.path),
                    xml_escape(&e.name),
                    attached(e)
                )
            };
            let trust = encode(
                &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", sc.caller.account)}, "Action": "sts:AssumeRole"}]}),
            );
            let roles: String = sc
                .roles
                .iter()
                .map(|e| {
                    let trust = e.trust.as_ref().map(encode).unwrap_or_else(|| trust.clone());
                    entity(e, "Role", "role", &format!("<AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument><InstanceProfileList/><RolePolicyList/>"))
                })
                .collect();
            let users: String = sc
                .users
                .iter()
                .map(|e| entity(e, "User", "user", "<UserPolicyList/><GroupList/>"))
                .collect();
            let policies: String = sc
                .managed_policies
                .iter()
                .map(|(arn, doc)| {
                    let name = arn.rsplit('/').next().unwrap_or(arn);
                    format!(
                        "<member><PolicyName>{}</PolicyName><PolicyId>ANPAEXAMPLE000000001</PolicyId><Arn>{}</Arn><Path>/</Path><DefaultVersionId>v1</DefaultVersionId><AttachmentCount>1</AttachmentCount><PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount><IsAttachable>true</IsAttachable><CreateDate>2024-01-01T00:00:00Z</CreateDate><UpdateDate>2024-01-01T00:00:00Z</UpdateDate><PolicyVersionList><member><Document>{}</Document><VersionId>v1</VersionId><IsDefaultVersion>true</IsDefaultVersion><CreateDate>2024-01-01T00:00:00Z</CreateDate></member></PolicyVersionList></member>",
                        xml_escape(name),
                        xml_escape(arn),
                        encode(doc)
                    )
                })
                .collect();
            Reply::xml(
                200,
                format!(
                    "<GetAccountAuthorizationDetailsResponse xmlns=\"{IAM_NS}\"><GetAccountAuthorizationDetailsResult><IsTruncated>false</IsTruncated><UserDetailList>{users}</UserDetailList><GroupDetailList/><RoleDetailList>{roles}</RoleDetailList><Policies>{policies}</Policies></GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetAccountAuthorizationDetailsResponse>"
                ),
            )
        }
        "iam:SimulatePrincipalPolicy" => {
            let resource = query
                .get("ResourceArns.member.1")
                .cloned()
                .unwrap_or_else(|| "*".into());
            let mut members = String::new();
            for i in 1.. {
                let Some(action) = query.get(&format!("ActionNames.member.{i}")) else {
                    break;
                };
                let sim = sc.simulation.get(action);
                let decision = sim.map(|s| s.decision.as_str()).unwrap_or("implicitDeny");
                let mut matched = String::new();
                for (id, ty) in sim.map(|s| s.matched.as_slice()).unwrap_or_default() {
                    matched.push_str(&format!(
                        "<member><SourcePolicyId>{}</SourcePolicyId><SourcePolicyType>{}</SourcePolicyType><StartPosition><Line>1</Line><Column>1</Column></StartPosition><EndPosition><Line>9</Line><Column>2</Column></EndPosition></member>",
                        xml_escape(id), xml_escape(ty)
                    ));
                }
                let orgs = sim
                    .and_then(|s| s.organizations)
                    .map(|o| format!("<OrganizationsDecisionDetail><AllowedByOrganizations>{o}</AllowedByOrganizations></OrganizationsDecisionDetail>"))
                    .unwrap_or_default();
                let boundary = sim
                    .and_then(|s| s.boundary)
                    .map(|b| format!("<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>{b}</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>"))
                    .unwrap_or_default();
                members.push_str(&format!(
                    "<member><EvalActionName>{}</EvalActionName><EvalResourceName>{}</EvalResourceName><EvalDecision>{decision}</EvalDecision><MatchedStatements>{matched}</MatchedStatements><MissingContextValues/>{orgs}{boundary}<EvalDecisionDetails/></member>",
                    xml_escape(action), xml_escape(&resource)
                ));
            }
            Reply::xml(
                200,
                format!(
                    "<SimulatePrincipalPolicyResponse xmlns=\"{IAM_NS}\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
                ),
            )
        }
        op if op.starts_with("organizations:") && op != "organizations:ListAccounts" => {
            organizations(sc, op, &json_body)
        }
        "cloudtrail:LookupEvents" => {
            let n = state.lookups.fetch_add(1, Ordering::SeqCst) + 1;
            let trail = &sc.cloudtrail;
            if trail.throttle_every > 0 && n.is_multiple_of(trail.throttle_every) {
                return Some(Reply::json(
                    400,
                    json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                ));
            }
            let name = json_body
                .pointer("/LookupAttributes/0/AttributeValue")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let offset: usize = json_body
                .get("NextToken")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let size = json_body
                .get("MaxResults")
                .and_then(Value::as_u64)
                .map(|m| m as usize)
                .unwrap_or(50)
                .min(trail.page_size.max(1));
            let total_unrelated = if name == "PutKeyPolicy" {
                trail.unrelated
            } else {
                0
            };
            // Each Region's event history has its own events (a record without awsRegion is
            // in every Region).
            let matching: Vec<&Value> = trail
                .events
                .iter()
                .filter(|e| match e {
                    Value::String(_) => true,
                    other => {
                        other.get("eventName").and_then(Value::as_str) == Some(name.as_str())
                            && other
                                .get("awsRegion")
                                .and_then(Value::as_str)
                                .is_none_or(|r| r == region)
                    }
                })
                .collect();
            let total = total_unrelated + matching.len();
            let mut events = Vec::new();
            for i in offset..(offset + size).min(total) {
                let record = if i < total_unrelated {
                    unrelated_event(i, &sc.caller.account)
                } else {
                    match matching[i - total_unrelated] {
                        Value::String(broken) => Value::String(broken.clone()),
                        v => Value::String(v.to_string()),
                    }
                };
                events.push(json!({
                    "EventId": format!("evt-{i}"), "EventName": name, "ReadOnly": "false",
                    "EventTime": 1.76e9 - i as f64, "EventSource": "kms.amazonaws.com",
                    "CloudTrailEvent": record
                }));
            }
            let mut out = json!({"Events": events});
            if offset + size < total {
                out["NextToken"] = json!((offset + size).to_string());
            }
            Reply::json(200, out)
        }
        _ => Reply::json(
            400,
            json!({"__type": "UnknownOperationException", "message": op}),
        ),
    })
}

/// One page of `items`, from the request's `Marker`/`NextToken` (an offset) and
/// `Limit`/`MaxResults`, at most `page_size`.
fn page_of(
    items: &[Value],
    body: &Value,
    page_size: Option<usize>,
) -> (Vec<Value>, Option<String>) {
    let offset: usize = ["Marker", "NextToken"]
        .iter()
        .find_map(|m| body.get(*m).and_then(Value::as_str))
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let asked = ["Limit", "MaxResults"]
        .iter()
        .find_map(|m| body.get(*m).and_then(Value::as_u64))
        .map(|n| n as usize)
        .unwrap_or(usize::MAX);
    let size = asked.min(page_size.unwrap_or(usize::MAX)).max(1);
    let end = offset.saturating_add(size).min(items.len());
    let page = items.get(offset..end).unwrap_or_default().to_vec();
    let next = (end < items.len()).then(|| end.to_string());
    (page, next)
}

/// A key by ARN (any account: KMS resolves another account's key ARN), or by ID or alias in the
/// signer's account and Region.
/// Organizations' read operations, in its JSON protocol (AWS Organizations API Reference).
fn organizations(sc: &Scenario, op: &str, body: &Value) -> Reply {
    let Some(org) = &sc.organization else {
        return Reply::json(
            400,
            json!({"__type": "AWSOrganizationsNotInUseException", "Message": "Your account is not a member of an organization."}),
        );
    };
    let arg = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    let summary = |p: &OrgPolicy| {
        json!({"Id": p.id, "Arn": format!("arn:aws:organizations::{}:policy/o-exampleorg1/{}/{}", org.management_account, p.kind.to_ascii_lowercase(), p.id),
               "Name": p.name, "Description": "", "Type": p.kind, "AwsManaged": p.id.starts_with("p-FullAWSAccess") || p.id == "p-RCPFullAWSAccess"})
    };
    match op {
        "organizations:DescribeOrganization" => Reply::json(
            200,
            json!({"Organization": {"Id": "o-exampleorg1", "Arn": format!("arn:aws:organizations::{}:organization/o-exampleorg1", org.management_account),
                   "FeatureSet": "ALL", "MasterAccountArn": format!("arn:aws:organizations::{0}:account/o-exampleorg1/{0}", org.management_account),
                   "MasterAccountId": org.management_account, "MasterAccountEmail": "admin@example.com"}}),
        ),
        "organizations:ListParents" => match org.parents.get(arg("ChildId")) {
            Some(parent) => Reply::json(
                200,
                json!({"Parents": [{"Id": parent, "Type": if parent.starts_with("r-") { "ROOT" } else { "ORGANIZATIONAL_UNIT" }}]}),
            ),
            None => Reply::json(
                400,
                json!({"__type": "ChildNotFoundException", "Message": "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified."}),
            ),
        },
        "organizations:ListPoliciesForTarget" => {
            let policies: Vec<Value> = org
                .policies
                .iter()
                .filter(|p| {
                    p.kind == arg("Filter") && p.targets.iter().any(|t| t == arg("TargetId"))
                })
                .map(summary)
                .collect();
            Reply::json(200, json!({"Policies": policies}))
        }
        "organizations:DescribePolicy" => {
            match org.policies.iter().find(|p| p.id == arg("PolicyId")) {
                Some(p) => Reply::json(
                    200,
                    json!({"Policy": {"PolicySummary": summary(p), "Content": p.content.to_string()}}),
                ),
                None => Reply::json(
                    400,
                    json!({"__type": "PolicyNotFoundException", "Message": "We can't find a policy with the PolicyId that you specified."}),
                ),
            }
        }
        _ => Reply::json(
            400,
            json!({"__type": "UnsupportedAPIEndpointException", "Message": op}),
        ),
    }
}

/// How AWS ends a `GetKeyPolicy` AccessDenied (IAM User Guide, "Access denied error
/// messages"): the key's own wording when the scenario gives one, else the layer the scenario's
/// simulation says decides, else the key policy.
fn key_policy_denial(sc: &Scenario, key: Option<&Key>) -> String {
    if let Some(w) = key.and_then(|k| k.denied_with.clone()) {
        return w;
    }
    let op = "kms:GetKeyPolicy";
    // The simulator answers implicitDeny for an action the scenario does not list.
    let sim = sc.simulation.get(op);
    match sim.map_or("implicitDeny", |s| s.decision.as_str()) {
        _ if sim.is_some_and(|s| s.organizations == Some(false)) => {
            "with an explicit deny in a service control policy".to_owned()
        }
        _ if sim.is_some_and(|s| s.boundary == Some(false)) => {
            format!("because no permissions boundary allows the {op} action")
        }
        "explicitDeny" => "with an explicit deny in an identity-based policy".to_owned(),
        "implicitDeny" => format!("because no identity-based policy allows the {op} action"),
        _ => format!("because no resource-based policy allows the {op} action"),
    }
}

fn find_key<'a>(sc: &'a Scenario, wanted: &str, account: &str, region: &str) -> Option<&'a Key> {
    let by_arn = wanted.starts_with("arn:");
    sc.keys
        .iter()
        // A key lives in one Region: KMS in another answers NotFoundException even for its
        // ARN (another account's key is found by ARN in its Region).
        .filter(|k| k.region == region && (by_arn || k.account == account))
        .find(|k| {
            // ARNs are built only for an ARN asked for: a scan of thousands of keys asks by ID.
            k.id == wanted
                || k.aliases.iter().any(|a| a == wanted)
                || (by_arn
                    && (k.arn() == wanted
                        || k.aliases.iter().any(|a| {
                            format!("arn:aws:kms:{}:{}:{a}", k.region, k.account) == wanted
                        })))
        })
}

/// A `PutKeyPolicy` of some other key, as CloudTrail records it.
fn unrelated_event(i: usize, account: &str) -> Value {
    let key = format!("0000{:04x}-aaaa-bbbb-cccc-{:012x}", i % 65536, i);
    Value::String(
        json!({
            "eventVersion": "1.08", "eventName": "PutKeyPolicy", "eventSource": "kms.amazonaws.com",
            "eventTime": "2026-11-27T00:00:00Z", "eventID": format!("unrelated-{i}"),
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/Automation/run-{i}")},
            "requestParameters": {"keyId": key, "policyName": "default", "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"},
            "resources": [{"ARN": format!("arn:aws:kms:us-east-1:{account}:key/{key}"), "type": "AWS::KMS::Key"}]
        })
        .to_string(),
    )
}

/// A call kms-doctor may make (`kms:GetKeyPolicy`): one of `Operation::ALL`, every one read-only.
pub fn read_only(call: &str) -> bool {
    kms_doctor::diagnosis::model::Operation::qualified(call).is_some()
}
