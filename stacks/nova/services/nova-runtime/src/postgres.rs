//! Postgres: one shared connection, reopened when it breaks.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use crate::config::PostgresConfig;
use crate::readiness::{error_chain, Check, CheckFuture};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);

/// A lazily opened connection to the service's database.
pub struct Postgres {
    config: PostgresConfig,
    client: Mutex<Option<Arc<Client>>>,
}

impl Postgres {
    pub fn new(config: PostgresConfig) -> Self {
        Postgres {
            config,
            client: Mutex::new(None),
        }
    }

    pub fn describe(&self) -> String {
        self.config.describe()
    }

    /// The open connection, or a new one if there is none or it has closed.
    pub async fn client(&self) -> Result<Arc<Client>, String> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            if !c.is_closed() {
                return Ok(c.clone());
            }
            *slot = None;
        }
        let mut cfg = self.config.config.clone();
        cfg.connect_timeout(CONNECT_TIMEOUT);
        let (client, connection) = cfg.connect(NoTls).await.map_err(|e| error_chain(&e))?;
        let target = self.config.describe();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection to {target} ended: {e}");
            }
        });
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forgets the connection so the next call opens a new one.
    pub async fn reset(&self) {
        *self.client.lock().await = None;
    }

    async fn ping(&self) -> Result<String, String> {
        let client = self.client().await?;
        match client.simple_query("SELECT 1").await {
            Ok(_) => Ok(String::new()),
            Err(e) => {
                self.reset().await;
                Err(error_chain(&e))
            }
        }
    }
}

impl Check for Postgres {
    fn name(&self) -> &str {
        "postgres"
    }
    fn run(&self) -> CheckFuture<'_> {
        Box::pin(self.ping())
    }
}
