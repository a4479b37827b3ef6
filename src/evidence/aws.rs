//! The AWS SDK behind the evidence traits. The only module that imports `aws-sdk-*`.
//!
//! Every operation here is read-only. `AccessDeniedException` and `ThrottlingException` are not
//! modeled errors in the SDK: they are told apart by their code.

use super::{
    Alias, AliasPage, CallError, CloudTrail, ErrorKind, EventPage, Iam, IamEntity, KeyMetadata,
    Kms, Sts, TrailEvent,
};
use crate::diagnosis::model::{
    AwsErrorCode, CallerIdentity, KeyManager, KeyState, MatchedStatement, Outcome, PolicyName,
    QueryState, SimDecision, SimulationResult, SourcePolicyType, Timestamp,
};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types_convert::date_time::DateTimeExt as _;
use std::time::Duration;

/// Where and as whom to connect: the AWS CLI's conventions (credential chain, config files,
/// `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub timeout: Option<Duration>,
    /// Used only when no Region is configured anywhere.
    pub fallback_region: Option<String>,
    /// `--endpoint-url`: every service at this URL (AWS_ENDPOINT_URL does the same).
    pub endpoint_url: Option<String>,
}

pub type SdkClients =
    super::Clients<StsClient, KmsClient, IamClient, CloudTrailClient, OrganizationsClient>;

/// `organizations`, for an organisation's policies.
pub struct OrganizationsClient(aws_sdk_organizations::Client);

impl super::Organizations for OrganizationsClient {
    async fn describe_organization(&self) -> Result<super::OrgIdentity, CallError> {
        let out = self
            .0
            .describe_organization()
            .send()
            .await
            .map_err(classify)?;
        let org = out.organization();
        let field = |v: Option<&str>, name: &str| {
            present(v).map(str::to_owned).ok_or_else(|| {
                CallError::malformed(format!("DescribeOrganization answered without {name}"))
            })
        };
        Ok(super::OrgIdentity {
            id: field(org.and_then(|o| o.id()), "Id")?,
            management_account: field(org.and_then(|o| o.master_account_id()), "MasterAccountId")?,
        })
    }

    async fn list_parents(&self, child: &str) -> Result<Vec<super::OrgParent>, CallError> {
        let out = self
            .0
            .list_parents()
            .child_id(child)
            .send()
            .await
            .map_err(classify)?;
        Ok(out
            .parents()
            .iter()
            .filter_map(|p| {
                Some(super::OrgParent {
                    id: present(p.id())?.to_owned(),
                    root: p.r#type().is_some_and(|t| t.as_str() == "ROOT"),
                })
            })
            .collect())
    }

    async fn list_policies_for_target(
        &self,
        target: &str,
        filter: &'static str,
        next: Option<String>,
    ) -> Result<super::PolicyPage, CallError> {
        let out = self
            .0
            .list_policies_for_target()
            .target_id(target)
            .filter(aws_sdk_organizations::types::PolicyType::from(filter))
            .set_next_token(next)
            .send()
            .await
            .map_err(classify)?;
        Ok(super::PolicyPage {
            policies: out
                .policies()
                .iter()
                .filter_map(|p| {
                    Some((
                        present(p.id())?.to_owned(),
                        p.name().unwrap_or_default().to_owned(),
                    ))
                })
                .collect(),
            next: out.next_token().map(str::to_owned),
        })
    }

    async fn describe_policy(&self, id: &str) -> Result<String, CallError> {
        let out = self
            .0
            .describe_policy()
            .policy_id(id)
            .send()
            .await
            .map_err(classify)?;
        out.policy()
            .and_then(|p| p.content())
            .map(str::to_owned)
            .ok_or_else(|| CallError::malformed("DescribePolicy answered without Content"))
    }
}

/// Athena, for querying a CloudTrail table.
pub struct AthenaClient(aws_sdk_athena::Client);

impl From<aws_sdk_athena::Client> for AthenaClient {
    fn from(c: aws_sdk_athena::Client) -> Self {
        AthenaClient(c)
    }
}

impl super::Athena for AthenaClient {
    async fn start(&self, query: &super::AthenaQuery) -> Result<String, CallError> {
        use aws_sdk_athena::types::{QueryExecutionContext, ResultConfiguration};
        let out = self
            .0
            .start_query_execution()
            .query_string(&query.sql)
            .set_query_execution_context(
                query
                    .database
                    .as_ref()
                    .map(|d| QueryExecutionContext::builder().database(d).build()),
            )
            .set_work_group(query.workgroup.clone())
            .set_result_configuration(
                query
                    .output
                    .as_ref()
                    .map(|o| ResultConfiguration::builder().output_location(o).build()),
            )
            .send()
            .await
            .map_err(classify)?;
        out.query_execution_id()
            .map(str::to_owned)
            .ok_or_else(|| CallError::malformed("StartQueryExecution answered without an id"))
    }

    async fn state(&self, id: &str) -> Result<(QueryState, Option<String>), CallError> {
        let out = self
            .0
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(classify)?;
        let status = out.query_execution().and_then(|q| q.status());
        Ok((
            status.and_then(|s| s.state()).map_or_else(
                || QueryState::Other("UNKNOWN".into()),
                |s| QueryState::parse(s.as_str()),
            ),
            status
                .and_then(|s| s.state_change_reason())
                .map(str::to_owned),
        ))
    }

    async fn results(
        &self,
        id: &str,
        next: Option<String>,
    ) -> Result<super::ResultPage, CallError> {
        let out = self
            .0
            .get_query_results()
            .query_execution_id(id)
            .set_next_token(next)
            .send()
            .await
            .map_err(classify)?;
        let rows = out
            .result_set()
            .map(|r| {
                r.rows()
                    .iter()
                    .map(|row| {
                        row.data()
                            .iter()
                            .map(|d| d.var_char_value().map(str::to_owned))
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(super::ResultPage {
            rows,
            next: out.next_token().map(str::to_owned),
        })
    }
}

/// S3, for reading CloudTrail log archives.
pub struct S3Client(aws_sdk_s3::Client);

impl From<aws_sdk_s3::Client> for S3Client {
    fn from(c: aws_sdk_s3::Client) -> Self {
        S3Client(c)
    }
}

impl super::ObjectStore for S3Client {
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        continuation: Option<String>,
    ) -> Result<super::ObjectPage, CallError> {
        let out = self
            .0
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(continuation)
            .send()
            .await
            .map_err(classify)?;
        Ok(super::ObjectPage {
            keys: out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
            next: out
                .next_continuation_token()
                .filter(|_| out.is_truncated() == Some(true))
                .map(str::to_owned),
        })
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, CallError> {
        let out = self
            .0
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)?;
        // A log object is read up to the archive's file limit, whatever it claims to be.
        let limit = super::sources::archive::MAX_FILE_BYTES;
        let too_large = || {
            CallError::new(
                ErrorKind::TooLarge,
                format!("larger than {} MiB: not read", limit >> 20),
            )
        };
        if out
            .content_length()
            .is_some_and(|n| n < 0 || n as u64 > limit)
        {
            return Err(too_large());
        }
        let mut body = out.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| CallError::new(ErrorKind::ReadBody, e.to_string()))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

pub struct StsClient(aws_sdk_sts::Client);
pub struct KmsClient(aws_sdk_kms::Client);
pub struct IamClient(aws_sdk_iam::Client);
pub struct CloudTrailClient(aws_sdk_cloudtrail::Client);

// Wrapping a client built elsewhere (the SDK-level tests build them around mocks).
impl From<aws_sdk_sts::Client> for StsClient {
    fn from(c: aws_sdk_sts::Client) -> Self {
        StsClient(c)
    }
}
impl From<aws_sdk_kms::Client> for KmsClient {
    fn from(c: aws_sdk_kms::Client) -> Self {
        KmsClient(c)
    }
}
impl From<aws_sdk_iam::Client> for IamClient {
    fn from(c: aws_sdk_iam::Client) -> Self {
        IamClient(c)
    }
}
impl From<aws_sdk_cloudtrail::Client> for CloudTrailClient {
    fn from(c: aws_sdk_cloudtrail::Client) -> Self {
        CloudTrailClient(c)
    }
}

/// The most an answer may be, as its `Content-Length` says, before kms-doctor reads it: the SDK
/// buffers a whole answer, so a hostile or broken endpoint could otherwise fill memory. (Log
/// objects from S3 are streamed, and capped as they are read.)
pub const MAX_RESPONSE_BYTES: u64 = super::sources::archive::MAX_FILE_BYTES;

/// Refuses an answer whose `Content-Length` is over [`MAX_RESPONSE_BYTES`], before its body is
/// read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ResponseSizeLimit;

impl aws_smithy_runtime_api::client::interceptors::Intercept for ResponseSizeLimit {
    fn name(&self) -> &'static str {
        "ResponseSizeLimit"
    }

    fn read_after_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let length = context
            .response()
            .headers()
            .get("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        match length {
            Some(n) if n > MAX_RESPONSE_BYTES => Err(AnswerTooLarge(n).into()),
            _ => Ok(()),
        }
    }
}

/// An answer refused for its size, before its body was read.
#[derive(Debug, thiserror::Error)]
#[error(
    "the answer is {0} bytes, more than kms-doctor reads ({mib} MiB): not read",
    mib = MAX_RESPONSE_BYTES >> 20
)]
pub struct AnswerTooLarge(u64);

/// The shared SDK configuration (credential chain, Region, endpoints, timeouts), loaded once
/// per run; every client is built from it.
pub struct Connection {
    config: aws_config::SdkConfig,
}

/// The HTTPS client the SDK would build for each service client (rustls with aws-lc, the proxy
/// from the environment), built once and shared.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

impl Connection {
    pub async fn load(opts: &ConnectOptions) -> Connection {
        // One HTTPS client for every service client of the run: each would otherwise build its
        // own (a connection pool and TLS configuration per account and Region scanned).
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
        if let Some(region) = &opts.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &opts.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(t) = opts.timeout {
            loader = loader.timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(t)
                    .operation_attempt_timeout(t)
                    .build(),
            );
        }
        let config = loader.load().await;
        let config = match (&opts.fallback_region, config.region()) {
            (Some(fallback), None) => config
                .to_builder()
                .region(aws_config::Region::new(fallback.clone()))
                .build(),
            _ => config,
        };
        Connection { config }
    }

    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    /// STS, KMS, IAM and CloudTrail, as `gather` takes them.
    pub fn clients(&self) -> SdkClients {
        self.clients_in(None)
    }

    /// The same, with every call about the key (KMS, CloudTrail) sent to the key's Region when
    /// its ARN names one, whatever the profile's: a KMS key lives in one Region, and its
    /// ARN says which (KMS Developer Guide, "Key identifiers").
    pub fn clients_in(&self, key_region: Option<&str>) -> SdkClients {
        let config = &self.config;
        let region = key_region.map(str::to_owned).or_else(|| self.region());
        let in_key_region = |b: aws_sdk_kms::config::Builder| match key_region {
            Some(r) => b.region(aws_config::Region::new(r.to_owned())),
            None => b,
        };
        let partition = match region.as_deref() {
            Some(r) if r.starts_with("cn-") => "aws-cn",
            Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        };
        // kms-doctor paces and retries LookupEvents itself, to respect its quota.
        let mut cloudtrail = aws_sdk_cloudtrail::config::Builder::from(config)
            .retry_config(RetryConfig::disabled())
            .interceptor(ResponseSizeLimit);
        if let Some(r) = key_region {
            cloudtrail = cloudtrail.region(aws_config::Region::new(r.to_owned()));
        }
        let cloudtrail = cloudtrail.build();
        let sts = aws_sdk_sts::config::Builder::from(config)
            .interceptor(ResponseSizeLimit)
            .build();
        let kms = in_key_region(aws_sdk_kms::config::Builder::from(config))
            .interceptor(ResponseSizeLimit)
            .build();
        let iam = aws_sdk_iam::config::Builder::from(config)
            .interceptor(ResponseSizeLimit)
            .build();
        let organizations = aws_sdk_organizations::config::Builder::from(config)
            .interceptor(ResponseSizeLimit)
            .build();
        super::Clients {
            organizations: OrganizationsClient(aws_sdk_organizations::Client::from_conf(
                organizations,
            )),
            sts: StsClient(aws_sdk_sts::Client::from_conf(sts)),
            kms: KmsClient(aws_sdk_kms::Client::from_conf(kms)),
            iam: IamClient(aws_sdk_iam::Client::from_conf(iam)),
            cloudtrail: CloudTrailClient(aws_sdk_cloudtrail::Client::from_conf(cloudtrail)),
            region,
            partition: partition.to_owned(),
        }
    }

    /// The caller's account and the accounts it reaches, for `scan`.
    pub fn fleet(&self) -> SdkFleet {
        let sts = aws_sdk_sts::config::Builder::from(&self.config)
            .interceptor(ResponseSizeLimit)
            .build();
        let organizations = aws_sdk_organizations::config::Builder::from(&self.config)
            .interceptor(ResponseSizeLimit)
            .build();
        SdkFleet {
            home: AccountConfig(self.config.clone()),
            sts: aws_sdk_sts::Client::from_conf(sts),
            org: OrganizationsClient(aws_sdk_organizations::Client::from_conf(
                organizations.clone(),
            )),
            organizations: aws_sdk_organizations::Client::from_conf(organizations),
        }
    }

    /// S3, for log archives. With an endpoint override (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_S3`: a local or private S3), requests use path-style addressing.
    pub fn s3(&self) -> S3Client {
        let overridden = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || self.config.endpoint_url().is_some();
        let s3 = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(overridden)
            .interceptor(ResponseSizeLimit)
            .build();
        S3Client(aws_sdk_s3::Client::from_conf(s3))
    }

    /// Athena, for querying a CloudTrail table.
    pub fn athena(&self) -> AthenaClient {
        let athena = aws_sdk_athena::config::Builder::from(&self.config)
            .interceptor(ResponseSizeLimit)
            .build();
        AthenaClient(aws_sdk_athena::Client::from_conf(athena))
    }
}

/// Classifies an SDK error: service errors by code; the rest (no credentials, an unknown
/// profile, an SSO login needed, no Region, the network, timeouts, unreadable replies) as
/// `error` with a code of kms-doctor's (`NoCredentials`, `UnknownProfile`, `SsoLogin`,
/// `NoRegion`, `CredentialsFailed`, `Network`) and the chain of causes on one line.
fn classify<E, R>(err: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            // An answer that did not parse has no message of AWS's: the SDK's reason is kept.
            let message = e.message().map_or_else(|| causes(&err), str::to_owned);
            CallError::from_code(e.code(), message)
        }
        SdkError::TimeoutError(_) => CallError::new(ErrorKind::Timeout, causes(&err)),
        _ => {
            let message = causes(&err);
            let typed = local_failure(&err).or_else(|| match &err {
                SdkError::DispatchFailure(d) if d.is_io() => Some(ErrorKind::Network),
                _ => None,
            });
            match typed.or_else(|| local_failure_in_words(&message)) {
                Some(kind) => CallError::new(kind, message),
                // A code with no service answer (rare): kept as AWS's, outcome `error`.
                None => CallError {
                    outcome: Outcome::Error,
                    kind: err.code().map_or(ErrorKind::Unknown, |c| {
                        ErrorKind::Aws(AwsErrorCode::parse(c))
                    }),
                    message,
                    denial: None,
                },
            }
        }
    }
}

/// The error and its causes, each said once, on one line (never a Debug dump).
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// What went wrong before a request reached AWS, from the types in the error's chain of causes:
/// kms-doctor's own size limit, and a credential chain that found nothing.
fn local_failure(err: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    use aws_credential_types::provider::error::CredentialsError as Credentials;
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<AnswerTooLarge>() {
            return Some(ErrorKind::TooLarge);
        }
        if let Some(Credentials::CredentialsNotLoaded(_)) = e.downcast_ref::<Credentials>() {
            return Some(ErrorKind::NoCredentials);
        }
        next = e.source();
    }
    None
}

/// The same, from the words of the SDK's errors, where its chain carries no type to name: the
/// credential providers pass a profile's or an SSO token's error on as text, and a missing
/// Region is an endpoint resolver's message.
fn local_failure_in_words(message: &str) -> Option<ErrorKind> {
    let m = message.to_ascii_lowercase();
    Some(
        if m.contains("no providers in chain provided credentials") {
            ErrorKind::NoCredentials
        } else if m.contains("was not defined") && m.contains("profile") {
            ErrorKind::UnknownProfile
        } else if m.contains("sso") && (m.contains("token") || m.contains("session")) {
            ErrorKind::SsoLogin
        } else if m.contains("missing signing region") || m.contains("region must be set") {
            ErrorKind::NoRegion
        } else if m.contains("loading credentials") || m.contains("credentials provider") {
            ErrorKind::CredentialsFailed
        } else if m.contains("more than kms-doctor reads") {
            ErrorKind::TooLarge
        } else if m.contains("connect") || m.contains("dns error") || m.contains("dispatch failure")
        {
            ErrorKind::Network
        } else {
            return None;
        },
    )
}

/// A field that is there and not blank.
fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.trim().is_empty())
}

fn date(d: &aws_smithy_types::DateTime) -> Option<Timestamp> {
    d.to_chrono_utc().ok().map(Timestamp)
}

impl Sts for StsClient {
    async fn get_caller_identity(&self) -> Result<CallerIdentity, CallError> {
        let out = self
            .0
            .get_caller_identity()
            .send()
            .await
            .map_err(classify)?;
        // An empty Arn or Account is no answer: an unknown caller stops the diagnosis.
        match (present(out.arn()), present(out.account())) {
            (Some(arn), Some(account)) => Ok(CallerIdentity {
                arn: arn.to_owned(),
                account: account.into(),
                user_id: out.user_id().unwrap_or_default().into(),
            }),
            _ => Err(CallError::malformed(
                "GetCallerIdentity answered without Arn or Account",
            )),
        }
    }
}

impl Kms for KmsClient {
    async fn describe_key(&self, key: &str) -> Result<KeyMetadata, CallError> {
        let out = self
            .0
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(classify)?;
        let md = out
            .key_metadata()
            .ok_or_else(|| CallError::malformed("DescribeKey answered without KeyMetadata"))?;
        Ok(KeyMetadata {
            arn: md.arn().map(str::to_owned),
            key_id: md.key_id().to_owned(),
            account: md.aws_account_id().map(str::to_owned),
            manager: md.key_manager().map(|m| KeyManager::parse(m.as_str())),
            state: md.key_state().map(|s| KeyState::parse(s.as_str())),
            deletion_date: md.deletion_date().and_then(date),
            primary_region: md
                .multi_region_configuration()
                .filter(|c| {
                    c.multi_region_key_type()
                        == Some(&aws_sdk_kms::types::MultiRegionKeyType::Replica)
                })
                .and_then(|c| c.primary_key())
                .and_then(|p| p.region())
                .map(str::to_owned),
        })
    }

    async fn get_key_policy(&self, key: &str) -> Result<String, CallError> {
        let out = self
            .0
            .get_key_policy()
            .key_id(key)
            .policy_name("default")
            .send()
            .await
            .map_err(classify)?;
        out.policy()
            .map(str::to_owned)
            .ok_or_else(|| CallError::malformed("GetKeyPolicy answered without Policy"))
    }

    async fn list_keys(&self, marker: Option<String>) -> Result<super::KeyPage, CallError> {
        let out = self
            .0
            .list_keys()
            .set_marker(marker)
            .limit(1000)
            .send()
            .await
            .map_err(classify)?;
        Ok(super::KeyPage {
            keys: out
                .keys()
                .iter()
                .filter_map(|k| Some((k.key_id()?.to_owned(), k.key_arn().map(str::to_owned))))
                .collect(),
            next_marker: out
                .next_marker()
                .filter(|_| out.truncated())
                .map(str::to_owned),
        })
    }

    async fn list_resource_tags(&self, key: &str) -> Result<Vec<(String, String)>, CallError> {
        let out = self
            .0
            .list_resource_tags()
            .key_id(key)
            .limit(50)
            .send()
            .await
            .map_err(classify)?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
            .collect())
    }

    async fn list_aliases(&self, marker: Option<String>) -> Result<AliasPage, CallError> {
        let out = self
            .0
            .list_aliases()
            .set_marker(marker)
            .limit(100)
            .send()
            .await
            .map_err(classify)?;
        Ok(AliasPage {
            aliases: out
                .aliases()
                .iter()
                .filter_map(|a| {
                    Some(Alias {
                        name: a.alias_name()?.to_owned(),
                        arn: a.alias_arn().map(str::to_owned),
                        target_key_id: a.target_key_id().map(str::to_owned),
                    })
                })
                .collect(),
            next_marker: out
                .next_marker()
                .filter(|_| out.truncated())
                .map(str::to_owned),
        })
    }
}

/// A policy document as IAM returns it: URL-encoded JSON (the SDK does not decode it).
fn document(encoded: &str) -> String {
    percent_encoding::percent_decode_str(encoded)
        .decode_utf8_lossy()
        .into_owned()
}

fn inline(
    list: &[aws_sdk_iam::types::PolicyDetail],
) -> Vec<crate::diagnosis::model::NamedDocument> {
    list.iter()
        .filter_map(|p| {
            Some(crate::diagnosis::model::NamedDocument {
                name: p.policy_name().unwrap_or_default().to_owned(),
                document: document(p.policy_document()?),
            })
        })
        .collect()
}

fn attached(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<String> {
    list.iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

impl Iam for IamClient {
    async fn authorization_details(
        &self,
        marker: Option<String>,
    ) -> Result<super::AuthorizationPage, CallError> {
        use crate::diagnosis::model::{
            AuthorizationDetails, GroupDetails, IamPrincipalDetails, ManagedPolicy,
        };
        use aws_sdk_iam::types::EntityType;
        let out = self
            .0
            .get_account_authorization_details()
            .filter(EntityType::User)
            .filter(EntityType::Role)
            .filter(EntityType::Group)
            .filter(EntityType::LocalManagedPolicy)
            .filter(EntityType::AwsManagedPolicy)
            .max_items(1000)
            .set_marker(marker)
            .send()
            .await
            .map_err(classify)?;
        let boundary = |b: Option<&aws_sdk_iam::types::AttachedPermissionsBoundary>| {
            b.and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned)
        };
        let details = AuthorizationDetails {
            users: out
                .user_detail_list()
                .iter()
                .map(|u| IamPrincipalDetails {
                    arn: u.arn().unwrap_or_default().to_owned(),
                    name: u.user_name().unwrap_or_default().to_owned(),
                    path: u.path().unwrap_or("/").to_owned(),
                    inline_policies: inline(u.user_policy_list()),
                    attached: attached(u.attached_managed_policies()),
                    groups: u.group_list().to_vec(),
                    boundary: boundary(u.permissions_boundary()),
                    trust_policy: None,
                })
                .collect(),
            roles: out
                .role_detail_list()
                .iter()
                .map(|r| IamPrincipalDetails {
                    arn: r.arn().unwrap_or_default().to_owned(),
                    name: r.role_name().unwrap_or_default().to_owned(),
                    path: r.path().unwrap_or("/").to_owned(),
                    inline_policies: inline(r.role_policy_list()),
                    attached: attached(r.attached_managed_policies()),
                    groups: Vec::new(),
                    boundary: boundary(r.permissions_boundary()),
                    trust_policy: r.assume_role_policy_document().map(document),
                })
                .collect(),
            groups: out
                .group_detail_list()
                .iter()
                .map(|g| GroupDetails {
                    arn: g.arn().unwrap_or_default().to_owned(),
                    name: g.group_name().unwrap_or_default().to_owned(),
                    inline_policies: inline(g.group_policy_list()),
                    attached: attached(g.attached_managed_policies()),
                })
                .collect(),
            policies: out
                .policies()
                .iter()
                .map(|p| ManagedPolicy {
                    arn: p.arn().unwrap_or_default().to_owned(),
                    name: p.policy_name().unwrap_or_default().to_owned(),
                    document: p
                        .policy_version_list()
                        .iter()
                        .find(|v| v.is_default_version())
                        .and_then(|v| v.document())
                        .map(document),
                })
                .collect(),
            complete: true,
        };
        Ok(super::AuthorizationPage {
            details,
            next_marker: out
                .marker()
                .filter(|_| out.is_truncated())
                .map(str::to_owned),
        })
    }

    async fn get_role(&self, name: &str) -> Result<IamEntity, CallError> {
        let out = self
            .0
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(classify)?;
        let role = out
            .role()
            .ok_or_else(|| CallError::malformed("GetRole answered without Role"))?;
        Ok(IamEntity {
            arn: role.arn().to_owned(),
            path: role.path().to_owned(),
            id: role.role_id().to_owned(),
            trust_policy: role.assume_role_policy_document().map(document),
            created: date(role.create_date()),
            boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned),
        })
    }

    async fn get_user(&self, name: &str) -> Result<IamEntity, CallError> {
        let out = self
            .0
            .get_user()
            .user_name(name)
            .send()
            .await
            .map_err(classify)?;
        let user = out
            .user()
            .ok_or_else(|| CallError::malformed("GetUser answered without User"))?;
        Ok(IamEntity {
            arn: user.arn().to_owned(),
            path: user.path().to_owned(),
            id: user.user_id().to_owned(),
            trust_policy: None,
            created: date(user.create_date()),
            boundary: user
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned),
        })
    }

    async fn simulate_principal_policy(
        &self,
        principal_arn: &str,
        actions: &[&str],
        resource_arn: &str,
    ) -> Result<Vec<SimulationResult>, CallError> {
        let out = self
            .0
            .simulate_principal_policy()
            .policy_source_arn(principal_arn)
            .set_action_names(Some(actions.iter().map(|a| a.to_string()).collect()))
            .resource_arns(resource_arn)
            .send()
            .await
            .map_err(classify)?;
        Ok(out
            .evaluation_results()
            .iter()
            .map(|r| SimulationResult {
                action: r.eval_action_name().to_owned(),
                resource: r.eval_resource_name().map(str::to_owned),
                decision: SimDecision::parse(r.eval_decision().as_str()),
                matched_statements: r
                    .matched_statements()
                    .iter()
                    .map(|s| MatchedStatement {
                        source_policy_id: s.source_policy_id().map(PolicyName::from),
                        source_policy_type: s
                            .source_policy_type()
                            .map(|t| SourcePolicyType::parse(t.as_str())),
                    })
                    .collect(),
                allowed_by_organizations: r
                    .organizations_decision_detail()
                    .map(|d| d.allowed_by_organizations()),
                allowed_by_permissions_boundary: r
                    .permissions_boundary_decision_detail()
                    .map(|d| d.allowed_by_permissions_boundary()),
                missing_context: r.missing_context_values().to_vec(),
            })
            .collect())
    }
}

impl CloudTrail for CloudTrailClient {
    fn in_region(&self, region: &str) -> Option<Self> {
        let config = self
            .0
            .config()
            .to_builder()
            .region(aws_config::Region::new(region.to_owned()))
            .build();
        Some(CloudTrailClient(aws_sdk_cloudtrail::Client::from_conf(
            config,
        )))
    }

    async fn lookup_events(
        &self,
        event_name: crate::diagnosis::model::PolicyEventName,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        next_token: Option<String>,
    ) -> Result<EventPage, CallError> {
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(event_name.as_str())
            .build()
            .map_err(|e| CallError::new(ErrorKind::Unknown, e.to_string()))?;
        let out = self
            .0
            .lookup_events()
            .lookup_attributes(attribute)
            .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
            .max_results(50)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(classify)?;
        Ok(EventPage {
            events: out
                .events()
                .iter()
                .map(|e| TrailEvent {
                    event_id: e.event_id().map(str::to_owned),
                    event_name: e.event_name().map(str::to_owned),
                    cloudtrail_event: e.cloud_trail_event().map(str::to_owned),
                })
                .collect(),
            next_token: out.next_token().map(str::to_owned),
        })
    }
}

/// One account's SDK configuration: the caller's own, or one with the credentials of a role
/// assumed in it.
#[derive(Clone)]
pub struct AccountConfig(aws_config::SdkConfig);

/// `scan`'s view of AWS through the SDK.
pub struct SdkFleet {
    home: AccountConfig,
    sts: aws_sdk_sts::Client,
    organizations: aws_sdk_organizations::Client,
    org: OrganizationsClient,
}

impl super::Fleet for SdkFleet {
    type Account = AccountConfig;
    type Kms = KmsClient;
    type Trail = CloudTrailClient;
    type Iam = IamClient;
    type Org = OrganizationsClient;

    fn organizations(&self) -> &OrganizationsClient {
        &self.org
    }

    async fn caller(&self) -> Result<CallerIdentity, CallError> {
        StsClient(self.sts.clone()).get_caller_identity().await
    }

    fn home(&self) -> AccountConfig {
        self.home.clone()
    }

    async fn assume_role(&self, role_arn: &str) -> Result<AccountConfig, CallError> {
        let out = self
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("kms-doctor-scan")
            .send()
            .await
            .map_err(classify)?;
        let c = out
            .credentials()
            .ok_or_else(|| CallError::malformed("AssumeRole answered without Credentials"))?;
        let credentials = aws_sdk_kms::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            std::time::SystemTime::try_from(*c.expiration()).ok(),
            "kms-doctor-assume-role",
        );
        Ok(AccountConfig(
            self.home
                .0
                .to_builder()
                .credentials_provider(aws_sdk_kms::config::SharedCredentialsProvider::new(
                    credentials,
                ))
                .build(),
        ))
    }

    async fn list_accounts(&self, next: Option<String>) -> Result<super::AccountPage, CallError> {
        let out = self
            .organizations
            .list_accounts()
            // ListAccounts' largest page (Organizations API Reference, `MaxResults`: 1–20).
            .max_results(20)
            .set_next_token(next)
            .send()
            .await
            .map_err(classify)?;
        Ok(super::AccountPage {
            accounts: out
                .accounts()
                .iter()
                .filter_map(|a| {
                    Some(super::MemberAccount {
                        id: present(a.id())?.to_owned(),
                        status: a.status().map(|s| s.as_str().to_owned()),
                    })
                })
                .collect(),
            next: out.next_token().map(str::to_owned),
        })
    }

    async fn list_regions(
        &self,
        account: &AccountConfig,
        next: Option<String>,
    ) -> Result<super::RegionPage, CallError> {
        use aws_sdk_account::types::RegionOptStatus;
        let config = aws_sdk_account::config::Builder::from(&account.0)
            .interceptor(ResponseSizeLimit)
            .build();
        let out = aws_sdk_account::Client::from_conf(config)
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .max_results(50)
            .set_next_token(next)
            .send()
            .await
            .map_err(classify)?;
        Ok(super::RegionPage {
            regions: out
                .regions()
                .iter()
                .filter_map(|r| r.region_name().map(str::to_owned))
                .collect(),
            next: out.next_token().map(str::to_owned),
        })
    }

    fn kms(&self, account: &AccountConfig, region: &str) -> KmsClient {
        // The scan paces KMS calls itself and retries throttled ones, slowing down as it does.
        let config = aws_sdk_kms::config::Builder::from(&account.0)
            .region(aws_config::Region::new(region.to_owned()))
            .retry_config(RetryConfig::disabled())
            .interceptor(ResponseSizeLimit)
            .build();
        KmsClient(aws_sdk_kms::Client::from_conf(config))
    }

    fn cloudtrail(&self, account: &AccountConfig, region: &str) -> CloudTrailClient {
        // Paced and retried by kms-doctor, to respect LookupEvents' quota.
        let config = aws_sdk_cloudtrail::config::Builder::from(&account.0)
            .region(aws_config::Region::new(region.to_owned()))
            .retry_config(RetryConfig::disabled())
            .interceptor(ResponseSizeLimit)
            .build();
        CloudTrailClient(aws_sdk_cloudtrail::Client::from_conf(config))
    }

    fn iam(&self, account: &AccountConfig) -> IamClient {
        let config = aws_sdk_iam::config::Builder::from(&account.0)
            .interceptor(ResponseSizeLimit)
            .build();
        IamClient(aws_sdk_iam::Client::from_conf(config))
    }
}
