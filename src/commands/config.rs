//! `.kms-doctor.toml`: what a team accepts and decides once for `check` and `scan`. `check`
//! finds it from the checked path upward to the repository root, as cargo finds
//! `.cargo/config.toml` and cfn-lint its `.cfnlintrc`, passing over files others could have
//! planted; `scan` reads only `--config` or the user's own. Every accepted finding carries its
//! reason, and every entry names what it accepts.
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

/// Where a configuration was looked for: the file that applies, and the files passed over
/// because anyone but the user could have put them there (said on standard error).
#[derive(Debug, Default, Clone)]
pub struct Found {
    pub path: Option<PathBuf>,
    pub passed_over: Vec<(PathBuf, Untrusted)>,
}

/// Why a configuration file found is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// Another user owns it.
    NotOwned,
    /// Its directory lets others (group or world) create and replace files.
    SharedDirectory,
}

impl Untrusted {
    pub fn as_str(self) -> &'static str {
        match self {
            Untrusted::NotOwned => "another user owns it",
            Untrusted::SharedDirectory => "its directory is writable by others",
        }
    }
}

/// The configuration that applies to `start`: the nearest `.kms-doctor.toml` at or above it,
/// no higher than the repository root (the first directory holding `.git`; without one, the
/// start directory only), else the user's own (`$XDG_CONFIG_HOME/kms-doctor/config.toml`, or
/// `~/.config/…`). A file another user owns, or in a directory others can write to, is passed
/// over, as git's `safe.directory` passes over a repository another user owns: a file planted
/// in a shared parent (`/tmp`, a CI workspace) must not silence a check.
pub fn find(start: &Path) -> Found {
    let mut found = Found::default();
    let Ok(absolute) = std::path::absolute(start) else {
        return found;
    };
    let dir = if absolute.is_dir() {
        absolute.as_path()
    } else {
        match absolute.parent() {
            Some(d) => d,
            None => return found,
        }
    };
    let repository_root = dir.ancestors().find(|d| d.join(".git").exists());
    let searched: Vec<&Path> = match repository_root {
        Some(root) => dir
            .ancestors()
            .take_while(|d| *d != root)
            .chain([root])
            .collect(),
        None => vec![dir],
    };
    for candidate in searched
        .iter()
        .map(|d| d.join(FILE_NAME))
        .chain(user_config())
    {
        if !candidate.is_file() {
            continue;
        }
        match trusted(&candidate) {
            Ok(()) => {
                found.path = Some(candidate);
                return found;
            }
            Err(why) => found.passed_over.push((candidate, why)),
        }
    }
    found
}

/// The user's own configuration file, when the environment names a home for it.
pub fn user_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("kms-doctor").join("config.toml"))
}

/// Whether a configuration file found by searching may be used: the user owns it, and its
/// directory is not writable by group or others.
#[cfg(unix)]
fn trusted(path: &Path) -> Result<(), Untrusted> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).map_err(|_| Untrusted::NotOwned)?;
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(Untrusted::NotOwned);
    }
    let dir = path.parent().and_then(|d| std::fs::metadata(d).ok());
    if dir.is_none_or(|d| d.mode() & 0o022 != 0) {
        return Err(Untrusted::SharedDirectory);
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_path: &Path) -> Result<(), Untrusted> {
    Ok(())
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
    // An entry that names nothing accepts everything: refused, not read as "all".
    if let Some(i) = config
        .check
        .ignore
        .iter()
        .find(|i| i.code.is_none() && i.paths.is_empty() && i.resources.is_empty())
    {
        return Err(invalid(format!(
            "a [[check.ignore]] entry names no code, path or resource (reason {:?}): it would accept every finding; name what it accepts",
            i.reason.as_deref().unwrap_or_default()
        )));
    }
    if let Some(m) = config.scan.mute.iter().find(|m| {
        m.account.is_none()
            && m.region.is_none()
            && m.key.is_none()
            && m.alias.is_none()
            && m.tag.is_none()
            && m.code.is_none()
    }) {
        return Err(invalid(format!(
            "a [[scan.mute]] entry names no account, region, key, alias, tag or code (reason {:?}): it would mute every key; name what it mutes",
            m.reason.as_deref().unwrap_or_default()
        )));
    }
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
