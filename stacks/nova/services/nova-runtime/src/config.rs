//! Configuration from the environment.
//!
//! Everything here is pure: [`Config::from_lookup`] takes a lookup function so
//! tests need not touch the process environment.

use std::fmt;
use std::str::FromStr;

/// Default sentinel port when an endpoint names only a host.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;
/// Default Kafka port when a broker names only a host.
pub const DEFAULT_KAFKA_PORT: u16 = 9092;
/// Master name used when `REDIS_SENTINEL_MASTER_NAME` is unset.
pub const DEFAULT_MASTER_NAME: &str = "mymaster";

/// A host and port, as written in the environment (`redis-sentinel-1:26379`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl HostPort {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    pub fn parse(s: &str, default_port: u16) -> Result<HostPort, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty address".into());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: missing `]`"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None => return Err(format!("`{s}`: unexpected text after `]`")),
                },
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(format!("`{s}`: write IPv6 addresses as [addr]:port"))
                }
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{s}`: empty host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => parse_port(p).map_err(|e| format!("`{s}`: {e}"))?,
        };
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match u16::from_str(s.trim()) {
        Ok(0) => Err("port 0 is not allowed".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("`{s}` is not a port number (1-65535)")),
    }
}

/// Parses a comma-separated address list; blank items are skipped.
pub fn parse_host_list(s: &str, default_port: u16) -> Result<Vec<HostPort>, String> {
    s.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| HostPort::parse(item, default_port))
        .collect()
}

/// Where to find the Redis master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelConfig {
    pub endpoints: Vec<HostPort>,
    pub master_name: String,
}

/// Postgres settings. The URL itself is kept for the driver but never
/// printed: [`PostgresConfig::describe`] gives a password-free summary.
#[derive(Clone)]
pub struct PostgresConfig {
    pub url: String,
    pub config: tokio_postgres::Config,
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresConfig({})", self.describe())
    }
}

impl PostgresConfig {
    pub fn parse(url: &str) -> Result<PostgresConfig, String> {
        let config = tokio_postgres::Config::from_str(url.trim()).map_err(|e| e.to_string())?;
        if config.get_hosts().is_empty() {
            return Err("no host given".into());
        }
        Ok(PostgresConfig {
            url: url.trim().to_string(),
            config,
        })
    }

    /// `user@host:port/dbname`, without the password.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let host = match c.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = c.get_ports().first().copied().unwrap_or(5432);
        let user = c.get_user().unwrap_or("?");
        let db = c.get_dbname().unwrap_or(user);
        format!("{user}@{host}:{port}/{db}")
    }

    pub fn dbname(&self) -> &str {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("")
    }
}

/// The resolved configuration of one service.
#[derive(Clone, Debug)]
pub struct Config {
    pub service: String,
    pub grpc_port: u16,
    pub http_port: u16,
    pub postgres: Option<PostgresConfig>,
    pub redis: Option<SentinelConfig>,
    pub kafka: Option<Vec<HostPort>>,
}

/// A configuration error names the variable and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env(
        service: &str,
        default_grpc_port: u16,
        default_http_port: u16,
    ) -> Result<Config, Vec<ConfigError>> {
        Self::from_lookup(service, default_grpc_port, default_http_port, |k| {
            std::env::var(k).ok()
        })
    }

    /// Builds the configuration from any variable lookup. A variable that is
    /// set but empty (or only blanks) counts as unset. Every error is reported,
    /// not only the first.
    pub fn from_lookup(
        service: &str,
        default_grpc_port: u16,
        default_http_port: u16,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, Vec<ConfigError>> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut errors = Vec::new();
        let mut port = |var: &'static str, default: u16| match get(var) {
            None => default,
            Some(v) => parse_port(&v).unwrap_or_else(|message| {
                errors.push(ConfigError { var, message });
                default
            }),
        };
        let grpc_port = port("GRPC_PORT", default_grpc_port);
        let http_port = port("HTTP_PORT", default_http_port);
        if grpc_port == http_port {
            errors.push(ConfigError {
                var: "HTTP_PORT",
                message: format!("same as GRPC_PORT ({grpc_port})"),
            });
        }

        let postgres = get("DATABASE_URL").and_then(|url| match PostgresConfig::parse(&url) {
            Ok(p) => Some(p),
            Err(message) => {
                errors.push(ConfigError {
                    var: "DATABASE_URL",
                    message,
                });
                None
            }
        });

        let master_name = get("REDIS_SENTINEL_MASTER_NAME");
        let redis = match get("REDIS_SENTINEL_ENDPOINTS") {
            None => {
                if master_name.is_some() {
                    errors.push(ConfigError {
                        var: "REDIS_SENTINEL_ENDPOINTS",
                        message: "not set, but REDIS_SENTINEL_MASTER_NAME is".into(),
                    });
                }
                None
            }
            Some(v) => match parse_host_list(&v, DEFAULT_SENTINEL_PORT) {
                Ok(endpoints) if endpoints.is_empty() => None,
                Ok(endpoints) => Some(SentinelConfig {
                    endpoints,
                    master_name: master_name
                        .map(|m| m.trim().to_string())
                        .unwrap_or_else(|| DEFAULT_MASTER_NAME.to_string()),
                }),
                Err(message) => {
                    errors.push(ConfigError {
                        var: "REDIS_SENTINEL_ENDPOINTS",
                        message,
                    });
                    None
                }
            },
        };

        let kafka = match get("KAFKA_BROKERS") {
            None => None,
            Some(v) => match parse_host_list(&v, DEFAULT_KAFKA_PORT) {
                Ok(b) if b.is_empty() => None,
                Ok(b) => Some(b),
                Err(message) => {
                    errors.push(ConfigError {
                        var: "KAFKA_BROKERS",
                        message,
                    });
                    None
                }
            },
        };

        if errors.is_empty() {
            Ok(Config {
                service: service.to_string(),
                grpc_port,
                http_port,
                postgres,
                redis,
                kafka,
            })
        } else {
            Err(errors)
        }
    }

    /// One human-readable line of what this service checks, without secrets.
    pub fn describe_checks(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.postgres {
            parts.push(format!("postgres({})", p.describe()));
        }
        if let Some(r) = &self.redis {
            let eps: Vec<String> = r.endpoints.iter().map(|e| e.to_string()).collect();
            parts.push(format!(
                "redis(master '{}' via sentinels {})",
                r.master_name,
                eps.join(",")
            ));
        }
        if let Some(k) = &self.kafka {
            let b: Vec<String> = k.iter().map(|e| e.to_string()).collect();
            parts.push(format!("kafka({})", b.join(",")));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, Vec<ConfigError>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup("test-service", 50051, 8080, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = cfg(&[]).unwrap();
        assert_eq!((c.grpc_port, c.http_port), (50051, 8080));
        assert!(c.postgres.is_none() && c.redis.is_none() && c.kafka.is_none());
        assert_eq!(c.describe_checks(), "none");
    }

    #[test]
    fn ports_override_and_errors() {
        let c = cfg(&[("GRPC_PORT", "6000"), ("HTTP_PORT", " 7000 ")]).unwrap();
        assert_eq!((c.grpc_port, c.http_port), (6000, 7000));
        let e = cfg(&[("GRPC_PORT", "x"), ("HTTP_PORT", "70000")]).unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].var, "GRPC_PORT");
        assert_eq!(e[1].var, "HTTP_PORT");
        let e = cfg(&[("GRPC_PORT", "0")]).unwrap_err();
        assert!(e[0].message.contains("port 0"));
        let e = cfg(&[("GRPC_PORT", "8080")]).unwrap_err();
        assert!(e[0].message.contains("same as GRPC_PORT"));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = cfg(&[
            ("GRPC_PORT", ""),
            ("DATABASE_URL", "  "),
            ("REDIS_SENTINEL_ENDPOINTS", ""),
            ("KAFKA_BROKERS", " , "),
        ])
        .unwrap();
        assert_eq!(c.grpc_port, 50051);
        assert!(c.postgres.is_none() && c.redis.is_none() && c.kafka.is_none());
    }

    #[test]
    fn sentinels_and_master() {
        let c = cfg(&[
            (
                "REDIS_SENTINEL_ENDPOINTS",
                "redis-sentinel-1:26379, redis-sentinel-2:26380,redis-sentinel-3",
            ),
            ("REDIS_SENTINEL_MASTER_NAME", "mymaster"),
        ])
        .unwrap();
        let r = c.redis.unwrap();
        assert_eq!(r.master_name, "mymaster");
        let eps: Vec<String> = r.endpoints.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            eps,
            [
                "redis-sentinel-1:26379",
                "redis-sentinel-2:26380",
                "redis-sentinel-3:26379"
            ]
        );
        // Master name defaults; a master name without endpoints is an error.
        let c = cfg(&[("REDIS_SENTINEL_ENDPOINTS", "s:1")]).unwrap();
        assert_eq!(c.redis.unwrap().master_name, DEFAULT_MASTER_NAME);
        let e = cfg(&[("REDIS_SENTINEL_MASTER_NAME", "m")]).unwrap_err();
        assert_eq!(e[0].var, "REDIS_SENTINEL_ENDPOINTS");
        let e = cfg(&[("REDIS_SENTINEL_ENDPOINTS", "a:1,b:x")]).unwrap_err();
        assert!(e[0].message.contains("`b:x`"), "{}", e[0].message);
    }

    #[test]
    fn kafka_brokers() {
        let c = cfg(&[("KAFKA_BROKERS", "kafka:9092,kafka-2")]).unwrap();
        let b: Vec<String> = c.kafka.unwrap().iter().map(|e| e.to_string()).collect();
        assert_eq!(b, ["kafka:9092", "kafka-2:9092"]);
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(
            HostPort::parse("[::1]:7", 1).unwrap(),
            HostPort {
                host: "::1".into(),
                port: 7
            }
        );
        assert_eq!(HostPort::parse("[::1]", 9).unwrap().port, 9);
        assert_eq!(
            HostPort::parse("[::1]:7", 1).unwrap().to_string(),
            "[::1]:7"
        );
        assert!(HostPort::parse("::1:7", 1).is_err());
        assert!(HostPort::parse(":7", 1).is_err());
        assert!(HostPort::parse("[::1]x", 1).is_err());
        assert!(HostPort::parse("h:", 1).is_err());
    }

    #[test]
    fn database_url_is_parsed_and_never_described_with_password() {
        let c = cfg(&[(
            "DATABASE_URL",
            "postgres://nova:s3cret@postgres:5432/nova_auth",
        )])
        .unwrap();
        let p = c.postgres.as_ref().unwrap();
        assert_eq!(p.describe(), "nova@postgres:5432/nova_auth");
        assert_eq!(p.dbname(), "nova_auth");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(!c.describe_checks().contains("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = cfg(&[("DATABASE_URL", "postgres://[bad")]).unwrap_err();
        assert_eq!(e[0].var, "DATABASE_URL");
    }
}
