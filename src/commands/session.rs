//! What every command that talks to AWS shares: one SDK configuration (loaded on first use, so
//! a command that needs none never touches the credential chain) and one call log. It owns no
//! runtime: the computations are async, and each front end runs them on its own (the CLI's
//! presenters with [`block_on`]).

use super::{AthenaTable, CommandError, LogSource};
use crate::diagnosis::athena::athena_sql;
use crate::diagnosis::model::{Evidence, KeyEvidence, SourceKind, recover_history};
use crate::evidence::aws::{ConnectOptions, Connection};
use crate::evidence::record::KeyRef;
use crate::evidence::sources::archive::ArchiveOptions;
use crate::evidence::sources::s3::S3Location;
use crate::evidence::sources::{Found, archive, athena, s3};
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
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
}

pub struct Session {
    settings: AwsSettings,
    connection: tokio::sync::OnceCell<Connection>,
    pub calls: Calls,
}

/// Runs a computation to its end on a runtime of this thread: what the CLI's presenters do.
pub fn block_on<F: Future>(future: F) -> io::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future))
}

impl Session {
    pub fn new(settings: AwsSettings) -> Session {
        let deadline = std::time::Instant::now() + settings.max_duration;
        Session {
            settings,
            connection: tokio::sync::OnceCell::new(),
            calls: Calls::with_deadline(deadline),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
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
                    endpoint_url: self.settings.endpoint_url.clone(),
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

/// A key whose policy in force may be recovered from the logs the user named.
pub trait Recoverable {
    fn policy_known(&self) -> bool;
    /// The newest successful event of `found` becomes the policy in force.
    fn recover(&mut self, found: &Found, kind: SourceKind);
}

impl Recoverable for Evidence {
    fn policy_known(&self) -> bool {
        Evidence::policy_known(self)
    }
    fn recover(&mut self, found: &Found, kind: SourceKind) {
        self.recover_policy(&found.events, found.records, found.skipped.records, kind);
    }
}

impl Recoverable for KeyEvidence {
    fn policy_known(&self) -> bool {
        KeyEvidence::policy_known(self)
    }
    fn recover(&mut self, found: &Found, kind: SourceKind) {
        if !Recoverable::policy_known(self) {
            recover_history(
                &mut self.history,
                &found.events,
                found.records,
                found.skipped.records,
                kind,
            );
        }
    }
}

impl Session {
    /// Recovers the policy in force of a key from the sources the user named, in order — the log
    /// archive (local or S3), then Athena — while it is still unknown. A source that cannot be
    /// read is evidence (its calls are listed, and the report says what is left open); only a
    /// local archive that cannot be opened at all is an error.
    pub async fn recover_from_logs(
        &self,
        target: &mut (dyn Recoverable + Send),
        key: &KeyRef,
        logs: Option<&LogSource>,
        athena: Option<&AthenaTable>,
    ) -> Result<(), CommandError> {
        if let Some(logs) = logs.filter(|_| !target.policy_known()) {
            let found = match logs {
                LogSource::Local(path) => {
                    Some(archive::scan_local(path, key, &Default::default())?)
                }
                LogSource::S3(location) => {
                    self.read_s3(location, key, &Default::default()).await.ok()
                }
            };
            if let Some(found) = found {
                target.recover(&found, SourceKind::Archive);
            }
        }
        if let (Some(table), Some(id)) = (athena, key.key_id.as_deref())
            && !target.policy_known()
        {
            let sql = athena_sql(&table.table, id, None, None);
            if let Ok(found) = self.read_athena(table, sql, key).await {
                target.recover(&found, SourceKind::Athena);
            }
        }
        Ok(())
    }
}
