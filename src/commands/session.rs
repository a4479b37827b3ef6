//! What every command that talks to AWS shares: one async runtime, one SDK configuration
//! (loaded on first use, so a command that needs none never touches the credential chain),
//! one call log.

use super::AthenaTable;
use crate::evidence::aws::{ConnectOptions, Connection};
use crate::evidence::record::KeyRef;
use crate::evidence::sources::archive::ArchiveOptions;
use crate::evidence::sources::s3::S3Location;
use crate::evidence::sources::{Found, athena, s3};
use crate::evidence::{AthenaQuery, CallError, Calls};
use std::future::Future;
use std::io;
use std::time::Duration;

/// Where and as whom to talk to AWS, as the command line gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Bound on each AWS call.
    pub timeout: Duration,
    /// Bound on the whole run (`--max-duration`).
    pub max_duration: Duration,
    /// The Region for global calls (STS, Organizations) when neither the flags, the
    /// environment nor the profile give one (`scan --all-regions` needs none of its own).
    pub fallback_region: Option<String>,
}

pub struct Session {
    settings: AwsSettings,
    runtime: tokio::runtime::Runtime,
    connection: tokio::sync::OnceCell<Connection>,
    pub calls: Calls,
}

impl Session {
    pub fn new(settings: AwsSettings) -> io::Result<Session> {
        let deadline = std::time::Instant::now() + settings.max_duration;
        Ok(Session {
            settings,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            connection: tokio::sync::OnceCell::new(),
            calls: Calls::with_deadline(deadline),
        })
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Runs a future on the session's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The SDK configuration, loaded once.
    pub async fn connection(&self) -> &Connection {
        self.connection
            .get_or_init(|| {
                let opts = ConnectOptions {
                    region: self.settings.region.clone(),
                    profile: self.settings.profile.clone(),
                    timeout: Some(self.settings.timeout),
                    fallback_region: self.settings.fallback_region.clone(),
                };
                async move { Connection::load(&opts).await }
            })
            .await
    }

    /// Reads a log archive in S3, its calls in the session's log.
    pub async fn read_s3(
        &self,
        location: &S3Location,
        key: &KeyRef,
        options: &ArchiveOptions,
    ) -> Result<Found, CallError> {
        let client = self.connection().await.s3();
        s3::scan_s3(&client, &self.calls, location, key, options, self.timeout()).await
    }

    /// Runs `sql` on Athena and reads its rows as CloudTrail records.
    pub async fn read_athena(
        &self,
        table: &AthenaTable,
        sql: String,
        key: &KeyRef,
    ) -> Result<Found, CallError> {
        let client = self.connection().await.athena();
        let query = AthenaQuery {
            sql,
            database: table.database.clone(),
            workgroup: table.workgroup.clone(),
            output: table.output.clone(),
        };
        athena::run(
            &client,
            &self.calls,
            &query,
            key,
            self.timeout(),
            table.max_wait,
        )
        .await
    }
}
