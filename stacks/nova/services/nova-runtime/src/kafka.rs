//! Kafka through rskafka (pure Rust). The client is built once and reused;
//! after a failure it is dropped and built again on the next call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use tokio::sync::Mutex;

use crate::config::HostPort;
use crate::readiness::{error_chain, Check, CheckFuture};

/// Handle on a Kafka cluster.
pub struct Kafka {
    brokers: Vec<HostPort>,
    client_id: String,
    client: Mutex<Option<Arc<Client>>>,
}

impl Kafka {
    pub fn new(brokers: Vec<HostPort>, client_id: &str) -> Self {
        Kafka {
            brokers,
            client_id: client_id.to_string(),
            client: Mutex::new(None),
        }
    }

    pub fn brokers(&self) -> &[HostPort] {
        &self.brokers
    }

    async fn client(&self) -> Result<Arc<Client>, String> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        // Bounded retries: a broker that is down fails the call instead of
        // making it wait forever.
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            base: 2.0,
            deadline: Some(Duration::from_millis(800)),
        };
        let client = ClientBuilder::new(self.brokers.iter().map(|b| b.to_string()).collect())
            .client_id(self.client_id.clone())
            .backoff_config(backoff)
            .build()
            .await
            .map_err(|e| error_chain(&e))?;
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    async fn reset(&self) {
        *self.client.lock().await = None;
    }

    /// Names of the (non-internal) topics: a metadata request to a broker.
    pub async fn topics(&self) -> Result<Vec<String>, String> {
        let client = self.client().await?;
        match client.list_topics().await {
            Ok(t) => Ok(t.into_iter().map(|t| t.name).collect()),
            Err(e) => {
                self.reset().await;
                Err(error_chain(&e))
            }
        }
    }

    /// Appends one record to partition 0 of `topic`; returns its offset.
    pub async fn produce(
        &self,
        topic: &str,
        key: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<i64, String> {
        let client = self.client().await?;
        let result = async {
            let partition = client
                .partition_client(topic, 0, UnknownTopicHandling::Error)
                .await
                .map_err(|e| error_chain(&e))?;
            let record = Record {
                key,
                value: Some(value),
                headers: BTreeMap::new(),
                timestamp: now_utc(),
            };
            let offsets = partition
                .produce(vec![record], Compression::NoCompression)
                .await
                .map_err(|e| error_chain(&e))?;
            offsets
                .first()
                .copied()
                .ok_or_else(|| "broker returned no offset".to_string())
        }
        .await;
        if result.is_err() {
            self.reset().await;
        }
        result
    }
}

fn now_utc() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    rskafka::chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Check for Kafka {
    fn name(&self) -> &str {
        "kafka"
    }
    fn run(&self) -> CheckFuture<'_> {
        Box::pin(async move { self.topics().await.map(|_| String::new()) })
    }
}
