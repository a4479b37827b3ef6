//! What every command that talks to AWS shares: one async runtime, one SDK configuration
//! (loaded on first use, so a command that needs none never touches the credential chain),
//! one call log.

use crate::evidence::Calls;
use crate::evidence::aws::{ConnectOptions, Connection};
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
}

pub struct Session {
    settings: AwsSettings,
    runtime: tokio::runtime::Runtime,
    connection: tokio::sync::OnceCell<Connection>,
    pub calls: Calls,
}

impl Session {
    pub fn new(settings: AwsSettings) -> io::Result<Session> {
        Ok(Session {
            settings,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            connection: tokio::sync::OnceCell::new(),
            calls: Calls::default(),
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
                };
                async move { Connection::load(&opts).await }
            })
            .await
    }
}
