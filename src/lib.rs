//! kms-doctor: why a principal cannot read or update a KMS key policy, and who can restore
//! access.
//!
//! Layers, each usable alone: [`cli`] (arguments) → [`policy`] (the pure key-policy engine) →
//! [`diagnosis`] (rules that turn evidence into findings) → [`report`] (text, JSON, Markdown).
//! [`explain`] ties them together for `kms-doctor explain`; [`app`] runs a parsed command line.

pub mod app;
pub mod archive;
pub mod cli;
pub mod diagnose;
pub mod diagnosis;
pub mod evidence;
pub mod explain;
pub mod policy;
pub mod report;
pub mod timeline;
