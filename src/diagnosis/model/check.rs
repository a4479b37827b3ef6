//! `check`: the key resources read from policy files, templates and plans, and the report (the
//! contract's "`kms-doctor check` (JSON)").

use super::Finding;
use serde::Serialize;

/// What an input file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A bare key policy, or the `{"Policy": "…"}` that `get-key-policy` prints.
    Policy,
    /// A CloudFormation template, JSON or YAML (CDK output included).
    Cloudformation,
    /// `terraform show -json PLAN`.
    TerraformPlan,
}

/// A place in a file, 1-based; `None` where the input has no lines (a plan's resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Location {
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Location {
    pub fn at(line: usize, column: usize) -> Location {
        Location {
            line: Some(line),
            column: Some(column),
        }
    }
}

/// A key policy as a template or plan declares it, resolved as far as can be offline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeclaredPolicy {
    /// The policy JSON. Values that cannot be known offline stand as `${…}`.
    pub text: String,
    /// Where the policy is.
    pub at: Location,
    /// Where each statement is, in order (the policy's place when statements have none).
    pub statements: Vec<Location>,
    /// The expressions that could not be resolved (`Fn::ImportValue Shared-Admin`, …).
    pub unresolved: Vec<String>,
}

/// The resource types `check` reads: the keys and key policies it judges, and the principals a
/// change can remove. Written in every output as the input's own name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResourceType {
    CfnKmsKey,
    CfnKmsReplicaKey,
    CfnIamRole,
    CfnIamUser,
    TfKmsKey,
    TfKmsKeyPolicy,
    TfKmsReplicaKey,
    TfIamRole,
    TfIamUser,
    TfPermissionSet,
    TfAccountAssignment,
    /// A key policy document given as a file.
    #[default]
    PolicyDocument,
    /// A principal named with `--without`.
    WithoutFlag,
}

impl ResourceType {
    const ALL: [ResourceType; 13] = [
        ResourceType::CfnKmsKey,
        ResourceType::CfnKmsReplicaKey,
        ResourceType::CfnIamRole,
        ResourceType::CfnIamUser,
        ResourceType::TfKmsKey,
        ResourceType::TfKmsKeyPolicy,
        ResourceType::TfKmsReplicaKey,
        ResourceType::TfIamRole,
        ResourceType::TfIamUser,
        ResourceType::TfPermissionSet,
        ResourceType::TfAccountAssignment,
        ResourceType::PolicyDocument,
        ResourceType::WithoutFlag,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::CfnKmsKey => "AWS::KMS::Key",
            ResourceType::CfnKmsReplicaKey => "AWS::KMS::ReplicaKey",
            ResourceType::CfnIamRole => "AWS::IAM::Role",
            ResourceType::CfnIamUser => "AWS::IAM::User",
            ResourceType::TfKmsKey => "aws_kms_key",
            ResourceType::TfKmsKeyPolicy => "aws_kms_key_policy",
            ResourceType::TfKmsReplicaKey => "aws_kms_replica_key",
            ResourceType::TfIamRole => "aws_iam_role",
            ResourceType::TfIamUser => "aws_iam_user",
            ResourceType::TfPermissionSet => "aws_ssoadmin_permission_set",
            ResourceType::TfAccountAssignment => "aws_ssoadmin_account_assignment",
            ResourceType::PolicyDocument => "policy",
            ResourceType::WithoutFlag => "--without",
        }
    }

    /// A template's or plan's type name, when `check` reads that type.
    pub fn parse(name: &str) -> Option<ResourceType> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Declared in Terraform (its attribute names are snake_case).
    pub fn is_terraform(self) -> bool {
        self.as_str().starts_with("aws_")
    }
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ResourceType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One key, or one key policy, that an input declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeclaredKey {
    /// The logical ID, the resource address, or the file name.
    pub name: String,
    pub resource_type: ResourceType,
    pub at: Location,
    /// The policy after the change.
    pub policy: PolicyDecl,
    /// The policy before the change (a plan's `before`).
    pub before: Option<DeclaredPolicy>,
    /// Where `BypassPolicyLockoutSafetyCheck` (or `bypass_policy_lockout_safety_check`) is set
    /// to true.
    pub bypass: Option<Location>,
    /// The key's account and partition, as far as known (`--account`, the deployer's, or a
    /// default).
    pub account: String,
    pub partition: String,
    /// The account was given (`--account`, the deployer's), not inferred: only then is a
    /// principal of another account known to be one.
    pub account_known: bool,
    /// Findings the input itself accepts (CloudFormation `Metadata`, a `# kms-doctor:ignore`
    /// comment), each with its reason.
    pub ignores: Vec<Ignore>,
}

/// A finding accepted where it stands, with the reason someone gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub code: super::Code,
    pub reason: String,
    pub kind: SuppressionKind,
}

/// Where a finding was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionKind {
    /// In the template itself (`Metadata`, a comment).
    Inline,
    /// In `.kms-doctor.toml` (`check`'s ignores, `scan`'s mute list).
    Config,
    /// In the `--baseline` file: known before.
    Baseline,
}

/// Why a finding does not count: it stays in JSON and SARIF, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub kind: SuppressionKind,
    pub reason: String,
}

/// Findings accepted by the configuration file, for paths and resources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigIgnore {
    pub code: Option<super::Code>,
    /// Globs of the files it applies to (all when empty).
    pub paths: Vec<String>,
    /// Logical IDs or resource addresses it applies to (all when empty).
    pub resources: Vec<String>,
    pub reason: String,
}

/// What an input says of a key's policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PolicyDecl {
    /// The policy, as the input states it.
    Stated(DeclaredPolicy),
    /// None stated: KMS sets its default key policy, which delegates to the account.
    #[default]
    KmsDefault,
    /// Known only when the plan is applied (Terraform's `after_unknown`).
    KnownAfterApply,
}

impl PolicyDecl {
    /// The policy, when the input states it.
    pub fn stated(&self) -> Option<&DeclaredPolicy> {
        match self {
            PolicyDecl::Stated(p) => Some(p),
            _ => None,
        }
    }

    pub fn stated_mut(&mut self) -> Option<&mut DeclaredPolicy> {
        match self {
            PolicyDecl::Stated(p) => Some(p),
            _ => None,
        }
    }

    pub fn into_stated(self) -> Option<DeclaredPolicy> {
        match self {
            PolicyDecl::Stated(p) => Some(p),
            _ => None,
        }
    }
}

/// What could not be read in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub message: String,
    #[serde(flatten)]
    pub at: Location,
}

/// One input file, read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputFile {
    pub path: String,
    pub kind: Option<InputKind>,
    pub keys: Vec<DeclaredKey>,
    pub error: Option<InputError>,
    /// The IAM principals the change deletes or replaces (a plan's; a template's against
    /// `--against OLD`).
    pub removed: Vec<Removed>,
    /// A template's IAM roles and users, to compare with its old version (`--against OLD`).
    pub principals: Vec<DeclaredPrincipal>,
}

/// An IAM role or user a template declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPrincipal {
    pub logical_id: String,
    pub kind: IamPrincipalKind,
    /// `RoleName` / `UserName`, when the template states it and it can be known offline
    /// (without one, CloudFormation makes a name up: its ARN cannot be known before).
    pub name: Option<String>,
    pub path: String,
    pub at: Location,
}

/// A principal that a change deletes or replaces, or that `--without` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub principal: RemovedPrincipal,
    pub how: Removal,
    /// What removes it: a plan's resource address, a template's logical ID, or `--without`.
    pub by: String,
    pub resource_type: ResourceType,
    pub at: Location,
}

/// The IAM principals a template can declare, and that a change can remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamPrincipalKind {
    Role,
    User,
}

impl IamPrincipalKind {
    /// Its CloudFormation type.
    pub fn resource_type(self) -> ResourceType {
        match self {
            IamPrincipalKind::Role => ResourceType::CfnIamRole,
            IamPrincipalKind::User => ResourceType::CfnIamUser,
        }
    }

    /// The word its ARN has before the path: `role`, `user`.
    pub fn arn_noun(self) -> &'static str {
        match self {
            IamPrincipalKind::Role => "role",
            IamPrincipalKind::User => "user",
        }
    }
}

/// Who goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RemovedPrincipal {
    /// A role, a user, or (for `--without`) an account's root: by ARN.
    Iam { arn: String },
    /// An IAM Identity Center permission set: its `AWSReservedSSO_NAME_…` roles, in `account`
    /// only when given (an account assignment), else in every account.
    PermissionSet {
        name: super::PermissionSetName,
        account: Option<String>,
    },
}

impl RemovedPrincipal {
    /// How a report names it.
    pub fn describe(&self) -> super::Text {
        match self {
            RemovedPrincipal::Iam { arn } => super::Text::code(arn.clone()),
            RemovedPrincipal::PermissionSet { name, account } => crate::text!(
                "the permission set ",
                super::code(name.clone()),
                " (its ",
                super::code(format!("AWSReservedSSO_{name}_…")),
                " role",
                match account {
                    Some(a) => crate::text!(" in account ", super::code(a.clone())),
                    None => "s".into(),
                },
                ")"
            ),
        }
    }
}

/// How a change removes a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    Deleted,
    /// Deleted and created again under the same ARN: a new unique ID, which no key policy holds.
    Replaced,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocatedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl LocatedFinding {
    pub fn counts(&self) -> bool {
        self.finding.counts()
    }
}

/// What a baseline remembers of a finding: the file, the resource and the code, not the line,
/// so that it survives edits that move it.
pub fn fingerprint(path: &str, resource: &str, code: super::Code) -> String {
    format!("{path}#{resource}#{code}")
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckedResource {
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub line: Option<usize>,
    pub findings: Vec<LocatedFinding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckedFile {
    pub path: String,
    pub kind: Option<InputKind>,
    pub resources: Vec<CheckedResource>,
    /// Why the file could not be read (`null` when it was).
    pub error: Option<String>,
    /// Where, when the reader could tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_location: Option<Location>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSummary {
    pub files: u64,
    pub resources: u64,
    pub errors: u64,
    pub warnings: u64,
    /// Files that could not be read.
    pub unreadable: u64,
    /// Findings accepted (inline, the configuration file, the baseline): not counted above.
    pub suppressed: u64,
    /// Principals the change deletes or replaces.
    pub principals_removed: u64,
    /// Keys that exist (`--keys`, `--live`) judged against them; and of those, the keys whose
    /// policy was not known (not judged: they may lose access too).
    pub existing_keys: u64,
    pub existing_keys_unknown: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub schema_version: u32,
    pub files: Vec<CheckedFile>,
    pub summary: CheckSummary,
    /// Findings about the keys that exist as a whole (`--live`, `--keys`): what the read of
    /// them could not examine (`scan-incomplete`), keys whose policy is unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// The configuration file that applied (its ignores, `fail_on`, `account`), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}
