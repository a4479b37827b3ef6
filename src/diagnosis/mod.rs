//! Everything that decides: evidence in, findings and reports out. Pure: no I/O, no async, no
//! clock (the caller passes the time). Each finding has one stable `code` from the diagnosis
//! contract; `docs/diagnostics.md` documents every one of them.
//!
//! - [`model`]: the shared data (evidence record, findings, reports);
//! - [`rules`]: policy-only and live-evidence findings;
//! - [`verdict`]: one access verdict per action;
//! - [`steps`]: who acts, decided once, and the next steps that follow;
//! - [`diagnose`](mod@diagnose), [`explain`](mod@explain), [`timeline`], [`scan`](mod@scan),
//!   [`check`](mod@check): one report builder per command.

pub mod athena;
pub mod case;
pub mod check;
pub mod diagnose;
pub mod exit;
pub mod explain;
pub mod iam_restorers;
pub mod judge;
pub mod model;
pub mod restore_paths;
pub mod rules;
pub mod scan;
pub mod steps;
pub mod timeline;
pub mod verdict;
pub mod without;

pub use diagnose::diagnose;
pub use explain::{ExplainRequest, explain};
