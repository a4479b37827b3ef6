//! `.kms-doctor.toml`: what a team accepts and decides once for `check` and `scan`, found from
//! the checked path (or the working directory) upward, as cargo finds `.cargo/config.toml` and
//! cfn-lint its `.cfnlintrc`. Every accepted finding carries its reason.
//!
//! ```toml
//! [check]
//! fail_on = "warning"            # when --fail-on is not given
//! account = "111122223333"       # when --account is not given
//!
//! [[check.ignore]]
//! code = "single-restorer"
//! paths = ["legacy/**"]          # globs; every file when left out
//! resources = ["LegacyKey"]      # logical IDs or resource addresses; every one when left out
//! reason = "break-glass role managed by the platform team"
//!
//! [[scan.mute]]                  # Prowler's mute list: every field given must match
//! account = "111122223333"
//! region = "eu-west-1"
//! key = "arn:aws:kms:…"          # key ARN or key ID
//! alias = "alias/legacy"
//! tag = "lifecycle=retired"      # or a tag key alone: any value (reads the keys' tags)
//! code = "single-restorer"
//! reason = "decommissioned in Q1"
//! ```

use crate::diagnosis::model::{Code, ConfigIgnore, KeyMute, Severity};
use serde::Deserialize;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The file's name.
pub const FILE_NAME: &str = ".kms-doctor.toml";
/// Largest configuration file read.
const MAX_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub scan: ScanConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub fail_on: Option<FailOnWord>,
    pub account: Option<String>,
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    #[serde(default)]
    pub mute: Vec<Mute>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOnWord {
    Error,
    Warning,
    Never,
}

impl FailOnWord {
    pub fn severity(self) -> Option<Severity> {
        match self {
            FailOnWord::Error => Some(Severity::Error),
            FailOnWord::Warning => Some(Severity::Warning),
            FailOnWord::Never => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    pub code: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub reason: Option<String>,
}

/// A finding `scan` does not count: every field given must match the key.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mute {
    pub account: Option<String>,
    pub region: Option<String>,
    pub key: Option<String>,
    pub alias: Option<String>,
    /// `KEY=VALUE`, or `KEY` for any value.
    pub tag: Option<String>,
    pub code: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a kms-doctor configuration: {message}")]
    Invalid { path: String, message: String },
}

/// The configuration that applies to `start`: the nearest `.kms-doctor.toml` at or above it.
pub fn find(start: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(start).ok()?;
    let dir = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent()?
    };
    dir.ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// Reads and checks a configuration file: every ignore and mute has a known code (when it names
/// one) and a reason.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let shown = path.display().to_string();
    let mut text = String::new();
    crate::evidence::open_regular(path)
        .and_then(|f| f.take(MAX_BYTES).read_to_string(&mut text))
        .map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
    let invalid = |message: String| ConfigError::Invalid {
        path: shown.clone(),
        message,
    };
    let config: Config = toml::from_str(&text).map_err(|e| invalid(e.message().to_owned()))?;
    for (what, code, reason) in config
        .check
        .ignore
        .iter()
        .map(|i| ("[[check.ignore]]", &i.code, &i.reason))
        .chain(
            config
                .scan
                .mute
                .iter()
                .map(|m| ("[[scan.mute]]", &m.code, &m.reason)),
        )
    {
        if reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(invalid(format!(
                "every {what} needs a reason: say why it is accepted"
            )));
        }
        if let Some(code) = code
            && Code::parse(code).is_none()
        {
            return Err(invalid(format!(
                "{code:?} in {what} is not a kms-doctor finding code (see docs/diagnostics.md)"
            )));
        }
    }
    if let Some(account) = &config.check.account
        && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(format!(
            "account {account:?} is not a 12-digit account ID"
        )));
    }
    Ok(config)
}

impl ScanConfig {
    /// The mute list as `scan` applies it.
    pub fn mutes(&self) -> Vec<KeyMute> {
        self.mute
            .iter()
            .map(|m| KeyMute {
                account: m.account.clone(),
                region: m.region.clone(),
                key: m.key.clone(),
                alias: m.alias.clone(),
                tag: m.tag.clone(),
                code: m.code.as_deref().and_then(Code::parse),
                reason: m.reason.clone().unwrap_or_default(),
            })
            .collect()
    }
}

impl CheckConfig {
    /// The ignores as `check` applies them.
    pub fn ignores(&self) -> Vec<ConfigIgnore> {
        self.ignore
            .iter()
            .map(|i| ConfigIgnore {
                code: i.code.as_deref().and_then(Code::parse),
                paths: i.paths.clone(),
                resources: i.resources.clone(),
                reason: i.reason.clone().unwrap_or_default(),
            })
            .collect()
    }
}
