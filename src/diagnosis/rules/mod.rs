//! Rules: facts in, findings out.
//!
//! - [`policy`]: what follows from the key policy alone (also `explain`'s findings);
//! - [`live`]: what needs live evidence (simulation, key metadata, history, existence, failed
//!   calls).

pub mod live;
pub mod policy;

use super::model::{Code, Finding};

pub(crate) fn has(findings: &[Finding], code: Code) -> bool {
    findings.iter().any(|f| f.code == code)
}
