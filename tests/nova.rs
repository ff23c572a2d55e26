//! The Nova platform (stacks/nova) brought up for real: Postgres schemas and role, Redis
//! Sentinel with a failover, a Kafka round trip from the host, and the eight services ready over
//! HTTP and gRPC. One test, in sequence, so the stack comes up once: the first run compiles the
//! services (minutes on 2 cores).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Project, free_port, http_get, report_services, wait_for};

const SERVICES: [(&str, u16, u16); 8] = [
    ("identity-service", 50051, 8080),
    ("social-service", 50052, 8081),
    ("communication-service", 50053, 8082),
    ("user-service", 50054, 8083),
    ("content-service", 50055, 8084),
    ("media-service", 50056, 8085),
    ("search-service", 50057, 8086),
    ("events-service", 50058, 8087),
];

fn nova() -> (Project, Vec<(String, String)>) {
    let stack = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stacks/nova/compose.yaml");
    let p = Project::with_files("nova", &[stack]);
    // Infrastructure host ports are picked free so a developer's own Postgres/Redis don't clash;
    // the services keep the platform's fixed ports.
    let env = vec![
        ("NOVA_PG_PORT".to_string(), free_port().to_string()),
        ("NOVA_REDIS_PORT".to_string(), free_port().to_string()),
        ("NOVA_SENTINEL_PORT".to_string(), free_port().to_string()),
        ("NOVA_KAFKA_HOST_PORT".to_string(), free_port().to_string()),
    ];
    (p, env)
}

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn psql(p: &Project, db: &str, sql: &str) -> String {
    let run = p.exec(
        "postgres",
        &[
            "psql",
            "-U",
            "postgres",
            "-d",
            db,
            "-tAq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
    );
    assert!(run.ok(), "psql {db}: {sql}: {}", run.stderr);
    run.stdout.trim().to_string()
}

fn sentinel_master(p: &Project) -> Option<String> {
    let run = p.exec(
        "redis-sentinel-2",
        &[
            "redis-cli",
            "-p",
            "26379",
            "sentinel",
            "get-master-addr-by-name",
            "mymaster",
        ],
    );
    run.ok()
        .then(|| run.stdout.lines().next().unwrap_or("").to_string())
}

fn all_ready_over_http() -> Option<()> {
    SERVICES
        .iter()
        .all(|(_, _, http)| http_get(*http, "/health/ready").is_some())
        .then_some(())
}

#[test]
fn nova_platform_comes_up_complete_and_survives_a_redis_failover() {
    let (p, env) = nova();
    let env = env_refs(&env);
    let up = |args: &[&str]| {
        let mut all = vec!["--wait-timeout", "30m"];
        all.extend_from_slice(args);
        p.up_ok_env(&all, &env)
    };

    // `up social-service` starts only what social-service needs.
    let partial = up(&["social-service"]);
    let started: Vec<String> = report_services(&partial)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert!(started.contains(&"social-service".to_string()));
    assert!(started.contains(&"redis-sentinel-1".to_string()));
    assert!(started.contains(&"kafka-init".to_string()));
    for other in ["identity-service", "user-service", "events-service"] {
        assert!(
            !started.contains(&other.to_string()),
            "{other} is not needed"
        );
        assert!(
            !p.containers().iter().any(|c| c.service == other),
            "{other} was started"
        );
    }

    // The whole platform.
    let report = up(&[]);
    for (service, phase, _) in report_services(&report) {
        let expected = if service.ends_with("-init") {
            "completed"
        } else {
            "ready"
        };
        assert_eq!(phase, expected, "{service}");
    }

    // PostgreSQL: databases, schemas, and a role that can create tables in each schema.
    assert_eq!(
        psql(
            &p,
            "nova_auth",
            "SELECT string_agg(schema_name, ',' ORDER BY schema_name) FROM information_schema.schemata WHERE schema_name IN ('auth','streaming')"
        ),
        "auth,streaming"
    );
    assert_eq!(
        psql(
            &p,
            "nova_messaging",
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'messaging'"
        ),
        "messaging"
    );
    for (db, schema) in [
        ("nova_auth", "auth"),
        ("nova_auth", "streaming"),
        ("nova_messaging", "messaging"),
    ] {
        let run = p.exec(
            "postgres",
            &[
                "sh", "-c",
                &format!("PGPASSWORD=nova-dev-password psql -h 127.0.0.1 -U nova -d {db} -v ON_ERROR_STOP=1 -c 'CREATE TABLE IF NOT EXISTS {schema}.novadev_probe(id int); DROP TABLE {schema}.novadev_probe'"),
            ],
        );
        assert!(
            run.ok(),
            "role nova cannot create a table in {db}.{schema}: {}",
            run.stderr
        );
    }
    // The init is idempotent: running it again succeeds and changes nothing.
    let init = p.container("postgres-init");
    let rerun = std::process::Command::new("docker")
        .args(["start", "-a", &init.id])
        .output()
        .expect("docker start");
    assert!(
        rerun.status.success(),
        "second init run: {}",
        String::from_utf8_lossy(&rerun.stderr)
    );

    // Redis Sentinel names the master.
    assert_eq!(sentinel_master(&p).as_deref(), Some("redis-master"));

    // Kafka: a message produced from the host is consumed back.
    let kafka_port = env
        .iter()
        .find(|(k, _)| *k == "NOVA_KAFKA_HOST_PORT")
        .map(|(_, v)| *v)
        .expect("port");
    let roundtrip = std::process::Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka-roundtrip.py"))
        .args([
            "--bootstrap",
            &format!("127.0.0.1:{kafka_port}"),
            "--topic",
            "nova.social.events",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        roundtrip.status.success(),
        "kafka round trip: {}{}",
        String::from_utf8_lossy(&roundtrip.stdout),
        String::from_utf8_lossy(&roundtrip.stderr)
    );

    // Every service: /health/ready answers 200 and gRPC health says SERVING.
    for (service, _, http) in SERVICES {
        assert!(http_get(http, "/health/live").is_some(), "{service} live");
        let ready = http_get(http, "/health/ready");
        assert!(ready.is_some(), "{service} ready");
        let grpc = p.exec(
            service,
            &[&format!("/usr/local/bin/{service}"), "--health-check"],
        );
        assert!(
            grpc.ok() && grpc.stdout.contains("SERVING"),
            "{service} gRPC: {} {}",
            grpc.stdout,
            grpc.stderr
        );
    }
    // identity-service's JWT pair came from novadev, into the project's state dir.
    assert!(p.daemon_dir().join("keys/jwt/private.pem").is_file());

    // A second `up` recreates nothing.
    let again = up(&[]);
    for (service, _, taken) in report_services(&again) {
        assert_eq!(taken, "kept", "{service} must be kept on a second up");
    }

    // Failover: stop the master; the sentinels promote a replica; the services follow it.
    let master = p.container("redis-master");
    common::docker(&["stop", &master.id]);
    let promoted = wait_for("a promoted replica", Duration::from_secs(60), || {
        sentinel_master(&p).filter(|m| m.starts_with("redis-replica-"))
    });
    assert!(promoted.starts_with("redis-replica-"));
    wait_for(
        "every service ready again after the failover",
        Duration::from_secs(60),
        all_ready_over_http,
    );
}
