//! How each command's report ends the run: the contract's exit statuses, decided in one place.

use super::model::{
    CheckReport, DiagnoseReport, Exit, ExplainReport, Finding, ScanReport, Severity, Verdict,
};

/// `Clean` when the principal can read and update the key policy: no `error` finding and both
/// actions allowed.
pub fn diagnose(r: &DiagnoseReport) -> Exit {
    let error = r.findings.iter().any(|f| f.severity == Severity::Error);
    let all_allowed = r.access.iter().all(|a| a.verdict == Verdict::Allowed);
    Exit::findings_if(error || !all_allowed)
}

/// `Clean` when every asked action is allowed or delegated (or, without a principal, when
/// there is no error finding).
pub fn explain(r: &ExplainReport) -> Exit {
    let ok = if r.principal.is_some() {
        r.results.iter().all(|r| r.decision.is_granted())
            && !r
                .organizations
                .iter()
                .any(|o| o.decision == super::model::LayerDecision::Denied)
    } else {
        !r.findings.iter().any(|f| f.severity == Severity::Error)
    };
    Exit::findings_if(!ok)
}

/// `Findings` when a finding, of a key or of the scan itself (`scan-incomplete`), is at or
/// above `fail_on` (`None`: never).
pub fn scan(r: &ScanReport, fail_on: Option<Severity>) -> Exit {
    // A finding the mute list accepts does not count.
    let counted = r
        .keys
        .iter()
        .flat_map(|k| k.findings.iter().filter(|f| f.counts()));
    at_or_above(r.findings.iter().chain(counted), fail_on)
}

/// `Failure` when an input could not be read; else `Findings` when a finding is at or above
/// `fail_on` (`None`: never).
pub fn check(r: &CheckReport, fail_on: Option<Severity>) -> Exit {
    if r.summary.unreadable > 0 {
        return Exit::Failure;
    }
    at_or_above(
        r.files
            .iter()
            .flat_map(|f| &f.resources)
            .flat_map(|r| &r.findings)
            .filter(|l| l.counts())
            .map(|l| &l.finding)
            // What the read of the keys that exist missed counts too: a gap is not a pass.
            .chain(&r.findings),
        fail_on,
    )
}

/// `Findings` when one of `findings` is at or above `fail_on` (`None`: never).
fn at_or_above<'a>(
    mut findings: impl Iterator<Item = &'a Finding>,
    fail_on: Option<Severity>,
) -> Exit {
    Exit::findings_if(fail_on.is_some_and(|bar| findings.any(|f| f.severity.at_least(bar))))
}
