//! The types every layer above `policy` shares: the evidence record that `evidence` writes and
//! `diagnosis` reads, the findings, and the reports that `report` renders. Data, with the
//! readings every layer needs of it (which policy is in force, AWS's words parsed into types);
//! no rule lives here: what a report concludes, and how a run ends, is decided in `diagnosis`.

mod answers;
mod check;
mod diagnose;
mod evidence;
mod explain;
mod finding;
mod redact;
mod scan;
mod text;
mod timeline;

pub use answers::*;
pub use check::*;
pub use diagnose::*;
pub use evidence::*;
pub use explain::*;
pub use finding::*;
pub use redact::{Kind, Redact};
pub use scan::*;
pub use text::*;
pub use timeline::*;
