//! Prerequisite checks before `up`, as the old deploy script printed them: the engine and its
//! version, CPUs and memory against what the stack declares it needs, and host ports free (naming
//! the process that holds one, when the system lets us see it).

use std::net::SocketAddr;

use super::Failure;
use super::output::{GREEN, RED, YELLOW, paint};
use crate::engine::Engine;
use crate::stack::model::{Protocol, Stack};

/// The CPU and memory lines: what the engine has against what the stack asks for.
fn resource_lines(stack: &Stack, cpus: i64, memory: u64) -> Vec<String> {
    let req = stack.novadev.requirements;
    let cpu = match req.cpus {
        Some(need) if (cpus as f64) < need => format!(
            "  {} CPUs: {cpus} available, the stack asks for {need}; expect slow starts",
            paint(YELLOW, "!")
        ),
        Some(need) => format!(
            "  {} CPUs: {cpus} available (stack needs {need})",
            paint(GREEN, "✓")
        ),
        None => format!("  {} CPUs: {cpus} available", paint(GREEN, "✓")),
    };
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let mem = match req.memory_bytes {
        Some(need) if memory < need => format!(
            "  {} Memory: {:.1} GiB available, the stack asks for {:.1} GiB",
            paint(YELLOW, "!"),
            gib(memory),
            gib(need)
        ),
        Some(need) => format!(
            "  {} Memory: {:.1} GiB available (stack needs {:.1} GiB)",
            paint(GREEN, "✓"),
            gib(memory),
            gib(need)
        ),
        None => format!(
            "  {} Memory: {:.1} GiB available",
            paint(GREEN, "✓"),
            gib(memory)
        ),
    };
    vec![cpu, mem]
}

/// Print the checks; fail when a port the stack needs is taken by something else.
pub async fn check(
    engine: &Engine,
    stack: &Stack,
    services: &[String],
    quiet: bool,
) -> Result<(), Failure> {
    let say = |line: String| {
        if !quiet {
            anstream::println!("{line}");
        }
    };
    say("Prerequisites".to_string());
    say(format!(
        "  {} Docker Engine {} (API {}) at {}",
        paint(GREEN, "✓"),
        engine.version(),
        engine.api_version(),
        engine.host()
    ));
    let (cpus, memory) = engine.resources().await.unwrap_or((0, 0));
    for line in resource_lines(stack, cpus, memory) {
        say(line);
    }

    let ours = engine.list_containers(&stack.name).await?;
    let running: Vec<&str> = ours
        .iter()
        .filter(|c| c.is_running())
        .map(|c| c.service.as_str())
        .collect();
    let selected: Vec<String> = match crate::stack::graph::Graph::build(stack) {
        Ok(graph) if !services.is_empty() => graph
            .closure(services)
            .map_err(Failure::bad_input)?
            .into_iter()
            .collect(),
        _ => stack.services.keys().cloned().collect(),
    };
    let mut checked = 0;
    let mut clashes = Vec::new();
    for name in &selected {
        // A port held by this project's own running container is the one it will keep using.
        if running.contains(&name.as_str()) {
            continue;
        }
        let Some(svc) = stack.services.get(name) else {
            continue;
        };
        for port in &svc.ports {
            let (Some(host_port), Protocol::Tcp) = (port.host_port, port.protocol) else {
                continue;
            };
            checked += 1;
            let addr = format!("{}:{host_port}", port.host_ip);
            let free = match addr.parse::<SocketAddr>() {
                Ok(sock) => std::net::TcpListener::bind(sock).is_ok(),
                Err(_) => true,
            };
            if !free {
                let holder = port_holder(host_port)
                    .map(|p| format!("by {p}"))
                    .unwrap_or_else(|| "by another process".into());
                clashes.push(format!(
                    "service `{name}` publishes {addr} ({}), but that port is already in use on this host {holder}",
                    port.pos
                ));
            }
        }
    }
    if clashes.is_empty() {
        say(format!(
            "  {} Host ports free ({checked} checked)",
            paint(GREEN, "✓")
        ));
        Ok(())
    } else {
        say(format!(
            "  {} Host ports: {} in use",
            paint(RED, "✗"),
            clashes.len()
        ));
        Err(Failure::runtime(clashes.join("\n")))
    }
}

/// The process listening on a TCP port, as `name (pid N)`, from /proc (Linux). `None` when it
/// can't be seen (another user's process without privileges, or not Linux).
pub fn port_holder(port: u16) -> Option<String> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if inodes
                .iter()
                .any(|i| target == format!("socket:[{i}]").as_str())
            {
                let comm = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_else(|_| "?".into());
                let note = if comm == "docker-proxy" {
                    " — a container of another project publishes it"
                } else {
                    ""
                };
                return Some(format!("{comm} (pid {pid}){note}"));
            }
        }
    }
    None
}

/// Socket inodes in LISTEN state on `port` in a /proc/net/tcp table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?;
            let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (local_port == port && *state == "0A").then(|| inode.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_found_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 424242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1538 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   999        0 434343 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(listening_inodes(table, 5432), vec!["424242".to_string()]);
        assert!(listening_inodes(table, 5433).is_empty());
    }

    #[test]
    fn the_holder_of_a_port_we_listen_on_is_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = port_holder(port).expect("our own socket is visible");
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        );
    }
}
