//! What AWS answers from a closed set of words (a key's manager and state, the simulator's
//! decision, the kind of policy behind it), as types. AWS's own spelling is kept in files and
//! JSON; a word this version does not know is kept as `Other`, never guessed at; logic matches
//! on variants, never on strings.

use super::Outcome;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `aws_words! { /// doc  pub enum Name { Variant = "word", … } }`: an enum of AWS's words with
/// `Other(String)` for the rest, (de)serialized as the word itself.
macro_rules! aws_words {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A word this version of kms-doctor does not know, as AWS wrote it.
            Other(String),
        }

        impl $name {
            /// Every word this version knows, in declaration order.
            #[allow(dead_code)]
            pub const WORDS: &'static [&'static str] = &[$($word,)*];

            /// Reads AWS's word.
            pub fn parse(word: &str) -> $name {
                match word {
                    $($word => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }

            /// AWS's word.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $word,)*
                    $name::Other(word) => word,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                Ok($name::parse(&word))
            }
        }
    };
}

aws_words! {
    /// `KeyManager` in `kms:DescribeKey`'s answer.
    pub enum KeyManager {
        Customer = "CUSTOMER",
        Aws = "AWS",
    }
}

aws_words! {
    /// `KeyState` in `kms:DescribeKey`'s answer.
    pub enum KeyState {
        Creating = "Creating",
        Enabled = "Enabled",
        Disabled = "Disabled",
        PendingDeletion = "PendingDeletion",
        PendingImport = "PendingImport",
        PendingReplicaDeletion = "PendingReplicaDeletion",
        Unavailable = "Unavailable",
        Updating = "Updating",
    }
}

impl KeyState {
    /// The key is scheduled for deletion (itself, or as a replica).
    pub fn is_pending_deletion(&self) -> bool {
        matches!(
            self,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        )
    }
}

aws_words! {
    /// `EvalDecision` in `iam:SimulatePrincipalPolicy`'s answer.
    pub enum SimDecision {
        Allowed = "allowed",
        ExplicitDeny = "explicitDeny",
        ImplicitDeny = "implicitDeny",
    }
}

aws_words! {
    /// `SourcePolicyType` of a statement the simulator matched.
    pub enum SourcePolicyType {
        User = "user",
        Group = "group",
        Role = "role",
        AwsManaged = "aws-managed",
        UserManaged = "user-managed",
        Resource = "resource",
        None = "none",
    }
}

aws_words! {
    /// An AWS error code, as the error's `Code` (or `__type`) says it. Only the codes that change
    /// what kms-doctor does are named; every other code is kept as `Other`.
    pub enum AwsErrorCode {
        AccessDenied = "AccessDenied",
        AccessDeniedException = "AccessDeniedException",
        UnauthorizedOperation = "UnauthorizedOperation",
        UnrecognizedClientException = "UnrecognizedClientException",
        InvalidClientTokenId = "InvalidClientTokenId",
        SignatureDoesNotMatch = "SignatureDoesNotMatch",
        OptInRequired = "OptInRequired",
        ExpiredToken = "ExpiredToken",
        ExpiredTokenException = "ExpiredTokenException",
        RequestExpired = "RequestExpired",
        NotFoundException = "NotFoundException",
        NoSuchEntity = "NoSuchEntity",
        NoSuchEntityException = "NoSuchEntityException",
        ThrottlingException = "ThrottlingException",
        Throttling = "Throttling",
        TooManyRequestsException = "TooManyRequestsException",
        RequestLimitExceeded = "RequestLimitExceeded",
        OrganizationsNotInUse = "AWSOrganizationsNotInUseException",
    }
}

impl AwsErrorCode {
    /// How the contract's `calls[].outcome` counts an answer with this code.
    pub fn outcome(&self) -> Outcome {
        use AwsErrorCode::*;
        match self {
            AccessDenied
            | AccessDeniedException
            | UnauthorizedOperation
            | UnrecognizedClientException => Outcome::AccessDenied,
            NotFoundException | NoSuchEntity | NoSuchEntityException => Outcome::NotFound,
            ThrottlingException | Throttling | TooManyRequestsException | RequestLimitExceeded => {
                Outcome::Throttled
            }
            _ => Outcome::Error,
        }
    }

    /// The credentials have expired.
    pub fn is_expired_credentials(&self) -> bool {
        use AwsErrorCode::*;
        matches!(self, ExpiredToken | ExpiredTokenException | RequestExpired)
    }

    /// AWS does not know or accept the credentials (in this Region, at least).
    pub fn is_rejected_credentials(&self) -> bool {
        use AwsErrorCode::*;
        matches!(
            self,
            InvalidClientTokenId | SignatureDoesNotMatch | UnrecognizedClientException
        )
    }

    /// What an opt-in Region the account has not enabled answers: as if the credentials were
    /// unknown.
    pub fn is_region_not_enabled(&self) -> bool {
        use AwsErrorCode::*;
        matches!(
            self,
            UnrecognizedClientException | InvalidClientTokenId | OptInRequired
        )
    }
}

aws_words! {
    /// The state of an Athena query (`GetQueryExecution`).
    pub enum QueryState {
        Queued = "QUEUED",
        Running = "RUNNING",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        Cancelled = "CANCELLED",
    }
}

aws_words! {
    /// The AWS service a call went to, as its endpoint prefix.
    pub enum Service {
        Sts = "sts",
        Kms = "kms",
        Iam = "iam",
        Cloudtrail = "cloudtrail",
        S3 = "s3",
        Athena = "athena",
        Organizations = "organizations",
        Account = "account",
    }
}

aws_words! {
    /// The AWS operations kms-doctor calls, every one of them read-only.
    pub enum Operation {
        GetCallerIdentity = "GetCallerIdentity",
        AssumeRole = "AssumeRole",
        DescribeKey = "DescribeKey",
        GetKeyPolicy = "GetKeyPolicy",
        ListKeys = "ListKeys",
        ListAliases = "ListAliases",
        GetRole = "GetRole",
        GetUser = "GetUser",
        SimulatePrincipalPolicy = "SimulatePrincipalPolicy",
        GetAccountAuthorizationDetails = "GetAccountAuthorizationDetails",
        LookupEvents = "LookupEvents",
        ListObjectsV2 = "ListObjectsV2",
        GetObject = "GetObject",
        StartQueryExecution = "StartQueryExecution",
        GetQueryExecution = "GetQueryExecution",
        GetQueryResults = "GetQueryResults",
        ListAccounts = "ListAccounts",
        ListRegions = "ListRegions",
        DescribeOrganization = "DescribeOrganization",
        ListParents = "ListParents",
        ListPoliciesForTarget = "ListPoliciesForTarget",
        DescribePolicy = "DescribePolicy",
        ListResourceTags = "ListResourceTags",
    }
}

impl Operation {
    /// Every operation kms-doctor calls, each read-only, with its service: the one list that the
    /// tests' read-only checks and the README's IAM policies are held to.
    pub const ALL: &[(Service, Operation)] = &[
        (Service::Sts, Operation::GetCallerIdentity),
        (Service::Sts, Operation::AssumeRole),
        (Service::Kms, Operation::DescribeKey),
        (Service::Kms, Operation::GetKeyPolicy),
        (Service::Kms, Operation::ListKeys),
        (Service::Kms, Operation::ListAliases),
        (Service::Kms, Operation::ListResourceTags),
        (Service::Iam, Operation::GetRole),
        (Service::Iam, Operation::GetUser),
        (Service::Iam, Operation::SimulatePrincipalPolicy),
        (Service::Iam, Operation::GetAccountAuthorizationDetails),
        (Service::Cloudtrail, Operation::LookupEvents),
        (Service::S3, Operation::ListObjectsV2),
        (Service::S3, Operation::GetObject),
        (Service::Athena, Operation::StartQueryExecution),
        (Service::Athena, Operation::GetQueryExecution),
        (Service::Athena, Operation::GetQueryResults),
        (Service::Organizations, Operation::ListAccounts),
        (Service::Organizations, Operation::DescribeOrganization),
        (Service::Organizations, Operation::ListParents),
        (Service::Organizations, Operation::ListPoliciesForTarget),
        (Service::Organizations, Operation::DescribePolicy),
        (Service::Account, Operation::ListRegions),
    ];

    /// `service:Operation`, as a call is recorded (`kms:GetKeyPolicy`), when kms-doctor calls it.
    pub fn qualified(call: &str) -> Option<(Service, Operation)> {
        let (service, operation) = call.split_once(':')?;
        Operation::ALL
            .iter()
            .find(|(s, o)| s.as_str() == service && o.as_str() == operation)
            .cloned()
    }

    /// The IAM action that authorises the call: the operation's name, except S3's
    /// `ListObjectsV2`, which `s3:ListBucket` allows
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>).
    pub fn iam_action(service: &Service, operation: &Operation) -> String {
        match operation {
            Operation::ListObjectsV2 => "s3:ListBucket".to_owned(),
            _ => format!("{service}:{operation}"),
        }
    }
}

/// The kind of policy that AWS's AccessDenied message says decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    /// An identity-based policy (the principal's IAM policies).
    Identity,
    /// A resource-based policy (for KMS, the key policy).
    Resource,
    /// A service control policy (AWS Organizations).
    Scp,
    /// A resource control policy (AWS Organizations).
    Rcp,
    PermissionsBoundary,
    /// The session policy passed when a role was assumed.
    Session,
    VpcEndpoint,
    /// The message names no policy type.
    Unknown,
}

impl PolicyType {
    /// The policy type in a sentence ("AWS names a resource control policy").
    pub fn words(self) -> &'static str {
        match self {
            PolicyType::Identity => "an identity-based policy (IAM)",
            PolicyType::Resource => "a resource-based policy (the key policy)",
            PolicyType::Scp => "a service control policy",
            PolicyType::Rcp => "a resource control policy",
            PolicyType::PermissionsBoundary => "a permissions boundary",
            PolicyType::Session => "a session policy",
            PolicyType::VpcEndpoint => "a VPC endpoint policy",
            PolicyType::Unknown => "no policy type",
        }
    }
}

/// What an AccessDenied answer says of its cause (the contract's `calls[].denial`): the policy
/// type that decided, and whether it denied explicitly (`null`: the message does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub policy_type: PolicyType,
    pub explicit: Option<bool>,
}

/// `identifier!(Name, "kind")`: a newtype for an identifier from AWS whose kind redaction must
/// know (an event ID is an event, an address an address), read and written as the plain string.
macro_rules! identifier {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> $name {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                $name(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                **self == other.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

identifier! {
    /// A CloudTrail event's ID (`eventID`).
    EventId
}

identifier! {
    /// The address a request came from (`sourceIPAddress`): an IP address, or a service's name.
    SourceIp
}

identifier! {
    /// The client that made a request (`userAgent`): it can name a person's machine or tool.
    UserAgent
}

identifier! {
    /// A 12-digit AWS account ID.
    AccountId
}

identifier! {
    /// A KMS key's ID (`1234abcd-…`, `mrk-…`), without its ARN.
    KeyId
}

identifier! {
    /// A KMS alias (`alias/payments`): names a team, a product, a customer.
    Alias
}

identifier! {
    /// The caller's unique ID as STS gives it (`AROA…:session`): a role's or user's ID, and for
    /// a role the session's name.
    UniqueId
}

identifier! {
    /// The name of an IAM policy (inline or managed): often a team's or a customer's.
    PolicyName
}

identifier! {
    /// The name of an IAM Identity Center permission set (`KeyAdmins`): its users' job, a team.
    PermissionSetName
}

/// A moment AWS reported (an event's time, a deletion date, when evidence was collected): a
/// time, compared as one, written as RFC 3339 in UTC (`2026-11-20T16:42:07Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub chrono::DateTime<chrono::Utc>);

impl Timestamp {
    /// Reads an RFC 3339 time (any offset); `None` for anything else.
    pub fn parse(text: &str) -> Option<Timestamp> {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&chrono::Utc)))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time")))
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    fn from(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
        Timestamp(t)
    }
}

/// How the key named on the command line was resolved to an ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedFrom {
    /// `kms:DescribeKey` answered with the ARN.
    DescribeKey,
    /// The input was an ARN already.
    Input,
    /// `kms:ListAliases` named the alias's key.
    ListAliases,
    /// A bare key ID in the caller's account and Region (where KMS itself looks).
    CallerAccount,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_listed_once_with_its_service() {
        let mut listed: Vec<&str> = Operation::ALL.iter().map(|(_, o)| o.as_str()).collect();
        listed.sort_unstable();
        let mut words = Operation::WORDS.to_vec();
        words.sort_unstable();
        assert_eq!(listed, words, "Operation::ALL and the enum disagree");
        assert_eq!(
            Operation::qualified("kms:ListResourceTags"),
            Some((Service::Kms, Operation::ListResourceTags))
        );
        assert_eq!(Operation::qualified("kms:PutKeyPolicy"), None);
        assert_eq!(
            Operation::qualified("iam:GetKeyPolicy"),
            None,
            "another service's"
        );
        assert_eq!(
            Operation::iam_action(&Service::S3, &Operation::ListObjectsV2),
            "s3:ListBucket"
        );
    }

    #[test]
    fn words_round_trip_and_unknown_words_are_kept() {
        for word in ["CUSTOMER", "AWS", "EXTERNAL_NEW"] {
            let m: KeyManager = serde_json::from_str(&format!("\"{word}\"")).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{word}\""));
        }
        assert_eq!(KeyManager::parse("AWS"), KeyManager::Aws);
        assert_eq!(
            KeyManager::parse("aws"),
            KeyManager::Other("aws".into()),
            "AWS's words are case-sensitive"
        );
        assert_eq!(
            SimDecision::parse("explicitDeny"),
            SimDecision::ExplicitDeny
        );
        assert!(KeyState::parse("PendingReplicaDeletion").is_pending_deletion());
        assert!(!KeyState::parse("Disabled").is_pending_deletion());
    }

    #[test]
    fn times_are_compared_as_times_and_written_in_utc() {
        let a = Timestamp::parse("2026-11-20T16:42:07Z").unwrap();
        let b = Timestamp::parse("2026-11-20T17:00:00+01:00").unwrap();
        assert!(b < a, "16:00 UTC is earlier, whatever the text says");
        assert_eq!(b.to_string(), "2026-11-20T16:00:00Z");
        assert_eq!(Timestamp::parse("yesterday"), None);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"2026-11-20T16:42:07Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), a);
    }
}
