//! Redis through Sentinel: ask the sentinels where the master is, then make
//! sure that node really is a master. Done afresh on every call, so after a
//! failover the next call follows the new master.

use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::config::{HostPort, SentinelConfig};
use crate::readiness::{error_chain, Check, CheckFuture};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(400);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(400);

/// Handle on the Redis deployment behind a set of sentinels.
pub struct Sentinel {
    config: SentinelConfig,
}

/// A connection to the current master.
pub struct Master {
    pub addr: HostPort,
    pub conn: MultiplexedConnection,
}

impl Sentinel {
    pub fn new(config: SentinelConfig) -> Self {
        Sentinel { config }
    }

    pub fn config(&self) -> &SentinelConfig {
        &self.config
    }

    /// Asks all sentinels at once; the first that names a master wins.
    pub async fn master_addr(&self) -> Result<HostPort, String> {
        let name = self.config.master_name.as_str();
        let mut asks: FuturesUnordered<_> = self
            .config
            .endpoints
            .iter()
            .map(|ep| async move { (ep, ask_sentinel(ep, name).await) })
            .collect();
        let mut errors = Vec::new();
        while let Some((ep, result)) = asks.next().await {
            match result {
                Ok(addr) => return Ok(addr),
                Err(e) => errors.push((ep.to_string(), e)),
            }
        }
        // Report in the configured order, whatever order the failures came in.
        errors.sort_by_key(|(ep, _)| {
            self.config
                .endpoints
                .iter()
                .position(|e| e.to_string() == *ep)
        });
        let detail: Vec<String> = errors
            .into_iter()
            .map(|(ep, e)| format!("{ep}: {e}"))
            .collect();
        Err(format!(
            "no sentinel named a master ({})",
            detail.join("; ")
        ))
    }

    /// Finds the master, connects, and checks that it answers PING and
    /// reports `role:master`.
    pub async fn master(&self) -> Result<Master, String> {
        let addr = self.master_addr().await?;
        let mut conn = connect(&addr)
            .await
            .map_err(|e| format!("master {addr}: {e}"))?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("master {addr}: PING: {e}"))?;
        if pong != "PONG" {
            return Err(format!("master {addr}: PING answered {pong:?}"));
        }
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("master {addr}: INFO: {e}"))?;
        match info_role(&info) {
            Some("master") => Ok(Master { addr, conn }),
            Some(role) => Err(format!(
                "{addr} named master by sentinel but reports role:{role}"
            )),
            None => Err(format!("{addr}: INFO replication has no role line")),
        }
    }
}

impl Check for Sentinel {
    fn name(&self) -> &str {
        "redis"
    }
    fn run(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let m = self.master().await?;
            Ok(format!("master {}", m.addr))
        })
    }
}

async fn connect(addr: &HostPort) -> Result<MultiplexedConnection, String> {
    let info: ConnectionInfo = ConnectionAddr::Tcp(addr.host.clone(), addr.port)
        .into_connection_info()
        .map_err(|e| error_chain(&e))?;
    let client = Client::open(info).map_err(|e| error_chain(&e))?;
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .map_err(|e| error_chain(&e))
}

async fn ask_sentinel(ep: &HostPort, master_name: &str) -> Result<HostPort, String> {
    let mut conn = connect(ep).await?;
    let reply: Option<Vec<String>> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(master_name)
        .query_async(&mut conn)
        .await
        .map_err(|e| error_chain(&e))?;
    parse_master_addr(reply, master_name)
}

/// Interprets the reply to `SENTINEL get-master-addr-by-name`: a null reply
/// when the sentinel does not know the master, else `[host, port]`.
pub fn parse_master_addr(
    reply: Option<Vec<String>>,
    master_name: &str,
) -> Result<HostPort, String> {
    let items = reply.ok_or_else(|| format!("does not know a master named '{master_name}'"))?;
    match items.as_slice() {
        [host, port] => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("bad port {port:?} in master address"))?;
            if host.is_empty() {
                return Err("empty host in master address".into());
            }
            Ok(HostPort {
                host: host.clone(),
                port,
            })
        }
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// The `role:` value of an `INFO replication` reply.
pub fn info_role(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|l| l.trim().strip_prefix("role:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_addr_reply() {
        let a = parse_master_addr(Some(vec!["redis-master".into(), "6379".into()]), "m").unwrap();
        assert_eq!(a.to_string(), "redis-master:6379");
        let a = parse_master_addr(Some(vec!["172.18.0.5".into(), "6380".into()]), "m").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("172.18.0.5", 6380));
        let e = parse_master_addr(None, "mymaster").unwrap_err();
        assert!(e.contains("'mymaster'"), "{e}");
        assert!(parse_master_addr(Some(vec!["h".into()]), "m").is_err());
        assert!(parse_master_addr(Some(vec!["h".into(), "x".into()]), "m").is_err());
        assert!(parse_master_addr(Some(vec!["".into(), "1".into()]), "m").is_err());
    }

    #[test]
    fn role_from_info() {
        let master = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=172.18.0.3,port=6379,state=online,offset=42,lag=0\r\n";
        assert_eq!(info_role(master), Some("master"));
        let replica =
            "# Replication\r\nrole:slave\r\nmaster_host:redis-master\r\nmaster_port:6379\r\n";
        assert_eq!(info_role(replica), Some("slave"));
        assert_eq!(info_role("# Replication\r\n"), None);
    }

    #[tokio::test]
    async fn no_sentinel_answers() {
        // Port 1 on localhost: refused at once.
        let s = Sentinel::new(SentinelConfig {
            endpoints: vec![
                HostPort {
                    host: "127.0.0.1".into(),
                    port: 1,
                },
                HostPort {
                    host: "127.0.0.1".into(),
                    port: 2,
                },
            ],
            master_name: "mymaster".into(),
        });
        let e = s.master_addr().await.unwrap_err();
        assert!(
            e.starts_with("no sentinel named a master (127.0.0.1:1: "),
            "{e}"
        );
        assert!(e.contains("; 127.0.0.1:2: "), "{e}");
    }
}
