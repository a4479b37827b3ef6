//! kms-doctor: why a principal cannot read or update a KMS key policy, and who can restore
//! access.
//!
//! Layers, each importing only those below it (`tests/cli/layers.rs` checks):
//!
//! ```text
//! cli → commands → evidence | diagnosis → policy
//!                  report (renders diagnosis::model)
//! ```
//!
//! - [`cli`]: clap's types, then validation into typed requests;
//! - [`commands`]: one runner per command over a shared session;
//! - [`evidence`]: all gathering, the only code that talks to AWS;
//! - [`diagnosis`]: everything that decides, pure; its [`diagnosis::model`] is the data the
//!   other layers share;
//! - [`report`]: text, JSON and Markdown, escaping untrusted text at the point of output;
//! - [`policy`]: the key-policy engine, pure.

// No function of the product over 120 lines (clippy.toml's threshold; tests may be longer): a
// long function is where rules couple by order.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod cli;
pub mod commands;
pub mod diagnosis;
pub mod evidence;
pub mod policy;
pub mod report;
