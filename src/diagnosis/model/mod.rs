//! The types every layer above `policy` shares: the evidence record that `evidence` writes and
//! `diagnosis` reads, the findings, and the reports that `report` renders. Data only: no rule
//! lives here.

mod answers;
mod check;
mod diagnose;
mod evidence;
mod explain;
mod finding;
mod scan;
mod text;
mod timeline;

pub use answers::*;
pub use check::*;
pub use diagnose::*;
pub use evidence::*;
pub use explain::*;
pub use finding::*;
pub use scan::*;
pub use text::*;
pub use timeline::*;
