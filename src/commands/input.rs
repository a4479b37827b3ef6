//! The plain input of each command: its options as values (paths, strings, numbers, flags),
//! declared once with their help and defaults. The command line derives its flags from them
//! (`clap`); `validate` turns them into typed requests. A second front end (the MCP server, the
//! watcher) fills the same values and asks the same validation.

use crate::report::Format;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// A command's input with its defaults, as the command line gives it when only the values it
/// requires (`required`, placeholders the caller replaces) are given: clap's declaration is the
/// one source of every default, for every front end.
fn defaults<T: Args + clap::FromArgMatches>(required: &[&str]) -> T {
    let command = T::augment_args(clap::Command::new("input").no_binary_name(true));
    let matches = command
        .try_get_matches_from(required)
        .expect("the placeholders satisfy the declaration");
    T::from_arg_matches(&matches).expect("the matches are the declaration's")
}

/// Each command's input with nothing given but its defaults: a front end fills what it is
/// asked and leaves the rest (`..CheckArgs::default()`). What is required (a key, a path) is
/// left empty, and validation refuses it until filled.
macro_rules! input_defaults {
    ($($ty:ident => $required:expr, |$v:ident| $clear:expr;)*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                let mut $v: $ty = defaults($required);
                $clear;
                $v
            }
        }
    )*};
}

impl Default for ScanArgs {
    fn default() -> Self {
        defaults(&[])
    }
}

input_defaults! {
    CheckArgs => &["-"], |v| v.paths.clear();
    HistoryArgs => &["-"], |v| v.key.clear();
    DiagnoseArgs => &["-"], |v| v.key = None;
    ExplainArgs => &["--policy", "-"], |v| v.policy = PathBuf::new();
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files, directories (walked for .json, .yaml, .yml and .template files) or patterns
    /// (`infra/**/*.yaml`).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// The account the keys are in (AWS::AccountId) [default: the --deployer's account, else
    /// 123456789012].
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// The organisation's ID (o-…) the keys' principals are in: a condition on
    /// aws:PrincipalOrgID (a data perimeter) is then decided, not left conditional.
    #[arg(long, value_name = "ORG")]
    pub org_id: Option<String>,

    /// The principal that deploys changes (a CI role): it must keep kms:PutKeyPolicy.
    #[arg(long, value_name = "ARN")]
    pub deployer: Option<String>,

    /// A principal that must keep kms:PutKeyPolicy, such as a break-glass role (repeatable).
    #[arg(long, value_name = "ARN")]
    pub keep: Vec<String>,

    /// The version in force now: a key policy file (what a policy file takes away is reported),
    /// or the old CloudFormation template (the roles and users a template deletes or replaces,
    /// and what its key policies take away).
    #[arg(long, value_name = "OLD")]
    pub against: Option<PathBuf>,

    /// AWS::Region in templates [default: us-east-1], and, given once, aws:RequestedRegion of
    /// requests about their keys; with --live, the Region whose keys are read (repeatable)
    /// [default: the profile's or AWS_REGION].
    #[arg(long = "region", value_name = "REGION", conflicts_with = "all_regions")]
    pub regions: Vec<String>,

    /// Output format [default: text, piped or not] (--output: the AWS CLI's name for it)
    #[arg(long, visible_alias = "output", value_parser = formats(Format::CHECK))]
    pub format: Option<Format>,

    #[command(flatten)]
    pub org_policies: OrgPolicyArgs,

    /// Exit with status 1 when a finding is at or above this severity [default: error, or the
    /// configuration file's check.fail_on]
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,

    /// The configuration file (else the nearest .kms-doctor.toml at or above the first path):
    /// accepted findings with their reasons, fail_on, account.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Do not count the findings recorded in FILE (by --write-baseline): known before.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Record every finding that counts now in FILE, for --baseline.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// With --write-baseline: replace FILE even when it is not a kms-doctor baseline.
    #[arg(long, requires = "write_baseline")]
    pub force: bool,

    /// Skip named files that are not policies, templates or plans, as a directory walk does
    /// (for hooks that pass every changed file).
    #[arg(long)]
    pub ignore_unknown: bool,

    /// Follow links whose target leaves the directory walked (still not onto another
    /// filesystem). Without it such a link is reported, not followed.
    #[arg(long)]
    pub follow_links: bool,

    /// Succeed when no policy, template or plan is found (else: exit 2, as a path that names
    /// nothing to check is usually a mistake).
    #[arg(long)]
    pub allow_empty: bool,

    /// The keys that exist, from a saved scan (`kms-doctor scan --save-evidence FILE`): what the
    /// change deletes or replaces (IAM roles and users, Identity Center permission sets) is
    /// judged against their policies too, with no AWS access.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,

    /// Read the key policies of the accounts whose principals the change removes, read-only,
    /// with scan's calls and pacing (the caller's account with its credentials, others by
    /// assuming --role-name), and judge the change against them.
    #[arg(long, conflicts_with = "keys")]
    pub live: bool,

    /// With --live: every Region enabled in each account.
    #[arg(long, requires = "live")]
    pub all_regions: bool,

    /// With --live: read these accounts' keys too (comma-separated IDs), beside the accounts of
    /// the principals removed (a permission set removed everywhere names none).
    #[arg(long, value_name = "ID,...", value_delimiter = ',', requires = "live")]
    pub accounts: Vec<String>,

    /// With --live: read every active account of the organisation (organizations:ListAccounts),
    /// as `scan --org` does.
    #[arg(long, requires = "live", conflicts_with = "accounts")]
    pub org: bool,

    /// With --live: the role assumed in the other accounts.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "OrganizationAccountAccessRole",
        requires = "live"
    )]
    pub role_name: String,

    /// With --live: the AWS profile to use.
    #[arg(long, value_name = "PROFILE", requires = "live")]
    pub profile: Option<String>,

    /// With --live: send AWS calls to this endpoint.
    #[arg(long, value_name = "URL", value_parser = parse_endpoint_url, requires = "live")]
    pub endpoint_url: Option<String>,

    /// With --live: seconds to wait for each AWS call.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// With --live: seconds the reading of keys may take in all.
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_duration: u64,

    /// Files read at once (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, hide = true)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// A Region to scan (repeatable) [default: the profile's or AWS_REGION].
    #[arg(long = "region", value_name = "REGION", conflicts_with = "all_regions")]
    pub regions: Vec<String>,

    /// Scan every Region enabled in each account (account:ListRegions; the commercial Regions
    /// when that is denied).
    #[arg(long)]
    pub all_regions: bool,

    /// Scan these accounts (comma-separated IDs): the caller's own with its credentials, the
    /// others by assuming --role-name in them.
    #[arg(
        long,
        value_name = "ID,...",
        value_delimiter = ',',
        conflicts_with = "org"
    )]
    pub accounts: Vec<String>,

    /// Scan every active account of the organisation (organizations:ListAccounts, from the
    /// management account or a delegated administrator).
    #[arg(long)]
    pub org: bool,

    /// The role assumed in the other accounts.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "OrganizationAccountAccessRole"
    )]
    pub role_name: String,

    /// Keys examined at once in each account and Region.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Accounts scanned at once (each with its Regions, four at a time): more hides the
    /// latency of an organisation's many accounts; memory grows with the keys in flight.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub account_concurrency: u16,

    /// Output format [default: text, piped or not] (--output: the AWS CLI's name for it)
    #[arg(long, visible_alias = "output", value_parser = formats(Format::SCAN))]
    pub format: Option<Format>,

    /// What if these principals were gone (repeatable): a role, user or account root ARN, or
    /// an IAM Identity Center permission set's name. Reports only the keys that would lose a
    /// principal able to update their policy (one or none left), worst first.
    #[arg(long, value_name = "ARN|PERMISSION-SET")]
    pub without: Vec<String>,

    /// Save the evidence gathered to FILE (JSON), for `check --keys FILE`.
    #[arg(long, value_name = "FILE")]
    pub save_evidence: Option<PathBuf>,

    /// Replace the file of --save-evidence when it exists.
    #[arg(long)]
    pub force: bool,

    /// Examine part I of N of the scope (by account; by Region when one account is scanned),
    /// the same part on any machine: run I = 1 to N anywhere (not redacted), then
    /// `kms-doctor merge` their JSON reports into one.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with = "redact")]
    pub shard: Option<crate::evidence::scan::Shard>,

    #[command(flatten)]
    pub org_policies: OrgPolicyArgs,

    /// The configuration file with the mute list (else the nearest .kms-doctor.toml at or above
    /// the working directory).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Exit with status 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// Replace identifiers with stable pseudonyms, the same throughout the run: account IDs, key
    /// IDs, aliases, the names in ARNs, unique IDs, event IDs, IP addresses, user agents, Sids
    /// and policy names. AWS's own names (actions, AWS managed policies) are kept.
    #[arg(long)]
    pub redact: bool,

    /// Do not search CloudTrail for the policies that cannot be read.
    #[arg(long)]
    pub no_cloudtrail: bool,

    /// How far back to search CloudTrail's event history, in days (at most 90).
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub lookback_days: u32,

    /// A CloudTrail log archive (directory or file of logs, or s3://BUCKET/PREFIX) for the keys
    /// whose policy neither GetKeyPolicy nor the event history gave.
    #[arg(long, value_name = "PATH")]
    pub logs: Option<PathBuf>,

    #[command(flatten)]
    pub athena: AthenaArgs,

    /// The named profile from the AWS config files (else AWS_PROFILE).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Send every AWS call to this URL (else AWS_ENDPOINT_URL), as the AWS CLI's flag does.
    #[arg(long, value_name = "URL", value_parser = parse_endpoint_url)]
    pub endpoint_url: Option<String>,

    /// Seconds each AWS call may take.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// Seconds the whole scan may take; what is not done by then is reported as not scanned.
    #[arg(long, value_name = "SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_duration: u64,

    /// Least milliseconds between two CloudTrail LookupEvents calls (its quota is 2 a second).
    #[arg(long, value_name = "MS", default_value_t = 500, hide = true)]
    pub lookup_interval_ms: u64,

    /// Calls a second at most of each KMS operation, per account and Region (each is paced at
    /// its published quota, and never above this).
    #[arg(long, value_name = "N", default_value_t = 1000, hide = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub kms_rate: u32,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The JSON reports of `scan --shard I/N --format json`, one per shard (I = 1 to N).
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,

    /// Output format [default: text, piped or not] (--output: the AWS CLI's name for it)
    #[arg(long, visible_alias = "output", value_parser = formats(Format::SCAN))]
    pub format: Option<Format>,

    /// Exit with status 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,

    /// Replace identifiers with stable pseudonyms (as `scan --redact`; the shards must not
    /// be redacted themselves).
    #[arg(long)]
    pub redact: bool,

    /// As given to the shards' scans (repeatable): the principals judged gone.
    #[arg(long, value_name = "ARN|PERMISSION-SET")]
    pub without: Vec<String>,

    #[command(flatten)]
    pub org_policies: OrgPolicyArgs,

    /// The configuration file with the mute list, as given to the shards' scans.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `I/N`, 1 ≤ I ≤ N ≤ 10,000.
fn parse_shard(s: &str) -> Result<crate::evidence::scan::Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not I/N (such as 1/4)"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{s}` is not I/N (such as 1/4)"))
    };
    let (index, count) = (parse(i)?, parse(n)?);
    if count == 0 || count > 10_000 || index == 0 || index > count {
        return Err(format!("`{s}`: I must be 1 to N, and N at most 10000"));
    }
    Ok(crate::evidence::scan::Shard { index, count })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The key: key ID or key ARN (an alias too, when reading CloudTrail's event history).
    #[arg(value_name = "KEY")]
    pub key: String,

    /// Only events at or after this time (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,

    /// Only events at or before this time (YYYY-MM-DD, the whole day, or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = parse_until)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,

    /// Read a CloudTrail log archive instead of the 90-day event history: a directory tree or
    /// a single file of `.json.gz` / `.json` log files, as CloudTrail delivers them to S3, or
    /// s3://BUCKET/PREFIX.
    #[arg(long, value_name = "PATH")]
    pub logs: Option<PathBuf>,

    /// Print the Athena SQL that finds the key's policy changes in a CloudTrail table, and exit
    /// (the table: --athena-table, else cloudtrail_logs).
    #[arg(long)]
    pub print_athena_sql: bool,

    #[command(flatten)]
    pub athena: AthenaArgs,

    /// Worker threads for --logs (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Output format [default: text, piped or not] (--output: the AWS CLI's name for it)
    #[arg(long, visible_alias = "output", value_parser = formats(Format::DIAGNOSE))]
    pub format: Option<Format>,

    /// Replace identifiers with stable pseudonyms, the same throughout the run: account IDs, key
    /// IDs, aliases, the names in ARNs, unique IDs, event IDs, IP addresses, user agents, Sids
    /// and policy names. AWS's own names (actions, AWS managed policies) are kept.
    #[arg(long)]
    pub redact: bool,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Where and as whom to talk to AWS, and for how long (`diagnose` and `history`).
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// The AWS Region (else AWS_REGION, then the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// The named profile from the AWS config files (else AWS_PROFILE).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Send every AWS call to this URL (else AWS_ENDPOINT_URL), as the AWS CLI's flag does.
    #[arg(long, value_name = "URL", value_parser = parse_endpoint_url)]
    pub endpoint_url: Option<String>,

    /// Seconds each AWS call may take.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// Seconds the whole run may take; searches stop there and say so.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_duration: u64,

    /// Least milliseconds between two CloudTrail LookupEvents calls (its quota is 2 a second).
    #[arg(long, value_name = "MS", default_value_t = 500, hide = true)]
    pub lookup_interval_ms: u64,
}

/// The organisation's policies given as files: `check`, `scan` and `explain` read them alike.
#[derive(Debug, Args, Clone, Default)]
pub struct OrgPolicyArgs {
    /// A service control policy that applies (repeatable): a policy document, or the output of
    /// `aws organizations describe-policy`. Every one must allow; any Deny that matches denies,
    /// and a restorer it denies kms:PutKeyPolicy does not count.
    #[arg(long = "scp", value_name = "FILE")]
    pub scps: Vec<PathBuf>,

    /// A resource control policy that applies (repeatable), in the same forms: any Deny that
    /// matches denies.
    #[arg(long = "rcp", value_name = "FILE")]
    pub rcps: Vec<PathBuf>,
}

/// Querying a CloudTrail table with Athena.
#[derive(Debug, Args, Clone, Default)]
pub struct AthenaArgs {
    /// Query this Athena table of CloudTrail logs (the table AWS's CloudTrail console creates)
    /// for the key's policy changes.
    #[arg(long, value_name = "TABLE")]
    pub athena_table: Option<String>,

    /// The Athena database (catalog schema) of the table.
    #[arg(long, value_name = "DB", requires = "athena_table")]
    pub athena_database: Option<String>,

    /// The Athena workgroup to run the query in.
    #[arg(long, value_name = "WG", requires = "athena_table")]
    pub athena_workgroup: Option<String>,

    /// Where Athena writes the results (s3://…), when the workgroup sets no location.
    #[arg(long, value_name = "S3_URL", requires = "athena_table")]
    pub athena_output: Option<String>,

    /// Seconds to wait for the Athena query to finish.
    #[arg(long, value_name = "SECS", default_value_t = 300, hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub athena_max_wait: u64,
}

/// An `http://` or `https://` URL.
fn parse_endpoint_url(s: &str) -> Result<String, String> {
    if s.starts_with("https://") || s.starts_with("http://") {
        Ok(s.to_owned())
    } else {
        Err("an endpoint URL starts with https:// (or http://)".to_owned())
    }
}

/// A date (midnight UTC) or an RFC 3339 time.
fn parse_when(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| format!("expected YYYY-MM-DD or an RFC 3339 time, got {s:?}"))
}

/// Like `parse_when`, but a bare date means the end of that day.
fn parse_until(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = parse_when(s)?;
    Ok(if s.len() == 10 {
        t + chrono::Duration::days(1) - chrono::Duration::seconds(1)
    } else {
        t
    })
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The key: key ID, key ARN, alias name (alias/NAME) or alias ARN.
    #[arg(value_name = "KEY", required_unless_present = "from_evidence")]
    pub key: Option<String>,

    /// Diagnose this principal (user or role ARN, or session ARN) instead of the caller.
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// How far back to search CloudTrail's event history, in days (at most 90).
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub lookback_days: u32,

    /// Do not search CloudTrail for the policy's history.
    #[arg(long)]
    pub no_cloudtrail: bool,

    /// A CloudTrail log archive (directory or file of `.json.gz`/`.json` logs, or
    /// s3://BUCKET/PREFIX) to recover the policy in force from when CloudTrail's 90-day event
    /// history has nothing.
    #[arg(long, value_name = "PATH")]
    pub logs: Option<PathBuf>,

    #[command(flatten)]
    pub athena: AthenaArgs,

    /// Output format [default: text, piped or not] (--output: the AWS CLI's name for it)
    #[arg(long, visible_alias = "output", value_parser = formats(Format::DIAGNOSE))]
    pub format: Option<Format>,

    /// Replace identifiers with stable pseudonyms, the same throughout the run: account IDs, key
    /// IDs, aliases, the names in ARNs, unique IDs, event IDs, IP addresses, user agents, Sids
    /// and policy names. AWS's own names (actions, AWS managed policies) are kept.
    #[arg(long)]
    pub redact: bool,

    /// Write the corrected policy (the policy in force plus the account delegation statement)
    /// to FILE, for a restorer to apply.
    #[arg(long, value_name = "FILE")]
    pub write_fix: Option<PathBuf>,

    /// Save the evidence gathered to FILE (JSON), for `--from-evidence`.
    #[arg(long, value_name = "FILE")]
    pub save_evidence: Option<PathBuf>,

    /// Replace the files of --write-fix and --save-evidence when they exist.
    #[arg(long)]
    pub force: bool,

    /// What if these principals were gone (repeatable): a role, user or account root ARN, or
    /// an IAM Identity Center permission set's name. Adds what the key would lose.
    #[arg(long, value_name = "ARN|PERMISSION-SET")]
    pub without: Vec<String>,

    /// The longest chain of role assumptions searched from the principal to a restorer.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=5))]
    pub max_hops: u8,

    /// What the key policy's conditions are decided against (the inferred kms:PutKeyPolicy
    /// verdict; what AWS answered stays as it answered).
    #[command(flatten)]
    pub context: ContextArgs,

    /// Render the report from a saved evidence file, with no AWS access.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "principal", "region", "profile", "no_cloudtrail", "save_evidence", "logs", "athena_table"])]
    pub from_evidence: Option<PathBuf>,
}

/// The request context the key policy's conditions are decided against.
#[derive(Debug, Args, Default)]
pub struct ContextArgs {
    /// A request context value, such as aws:MultiFactorAuthPresent=true or
    /// aws:SourceVpc=vpc-1 (repeat a key for several values). Overrides the values derived
    /// from the principal.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub context: Vec<(String, String)>,

    /// A context key that is not in the request (conditions on unknown keys stay undecided).
    #[arg(long = "absent", value_name = "KEY")]
    pub absent: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The key policy JSON: a file, or - for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub policy: PathBuf,

    /// Who makes the request: an IAM user or role ARN, an assumed-role or federated-user
    /// session ARN, an account ID or root ARN, or a service principal. A role ARN stands for
    /// the role's sessions. Without it, only the policy-wide answers are given.
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,

    /// An action to decide (repeatable); the `kms:` prefix may be left out.
    /// [default: kms:GetKeyPolicy and kms:PutKeyPolicy]
    #[arg(long = "action", value_name = "ACTION")]
    pub actions: Vec<String>,

    /// The key's ARN, to check Resource elements and whether the key is in another account.
    #[arg(long, value_name = "ARN")]
    pub key_arn: Option<String>,

    #[command(flatten)]
    pub context: ContextArgs,

    #[command(flatten)]
    pub org_policies: OrgPolicyArgs,

    /// Output format [default: text, piped or not] (--output: the AWS CLI's name for it)
    #[arg(long, visible_alias = "output", value_parser = formats(Format::DIAGNOSE))]
    pub format: Option<Format>,
}

/// `--format`: the formats a command writes (`Format::SCAN`, …), offered and parsed by name.
fn formats(list: &'static [Format]) -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(list.iter().map(|f| f.name()))
        .map(|name| Format::parse(&name).expect("one of the names offered"))
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_values_split_at_the_first_equals() {
        assert_eq!(
            parse_key_value("aws:SourceArn=arn:a=b").unwrap(),
            ("aws:SourceArn".into(), "arn:a=b".into())
        );
        assert!(parse_key_value("novalue").is_err());
    }
}
