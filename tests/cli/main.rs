//! The integration tests, as one binary (one link of the library and the SDK, not one per
//! file). Tests that need moto_server are `#[ignore]`d: `.ci/run` starts moto and runs them
//! with `--include-ignored`; elsewhere they show as ignored, never as passed.

mod agreement;
mod bounds;
mod check_cli;
mod corpus;
mod diagnose_e2e;
mod diagnose_moto;
mod diagnose_report;
mod docs;
mod explain_cli;
mod first_run;
mod generate;
mod history_archive;
mod hostile;
mod install;
mod layers;
mod library;
mod output_files;
mod properties;
mod redaction;
mod reports;
mod rules;
mod runs;
mod scan_e2e;
mod scan_gather;
mod scan_moto;
mod sdk_mapping;

mod support {
    pub mod archive;
    pub mod cli;
    pub mod fake;
    pub mod markdown;
    pub mod scenario;
}
