//! Serving the API on a listener with the limits anything reachable over a socket needs: a
//! header-read timeout (a client that never finishes its request headers, or idles between
//! requests, is dropped), a cap on open connections (one over the cap is closed at once, so it
//! holds no file descriptor), and a graceful shutdown that waits, bounded, for the connections
//! being served.
//!
//! Both listeners (the Unix socket and the web UI's TCP port) go through [`serve`], each with its
//! own cap, so that flooding one leaves the other answering.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

/// How much one listener may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most (streams included).
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and to start the next one.
    pub header_timeout: Duration,
    /// How long a shutdown waits for connections still being served.
    pub drain: Duration,
}

/// File descriptors kept for everything else: Docker connections, log and state files, the
/// watcher, child processes' pipes.
const RESERVED_FDS: u64 = 96;

impl Limits {
    /// Limits for the owner-only Unix socket and for the web UI's TCP listener, within an
    /// open-file limit of `nofile`: each cap is a share of what is left after the reserve, so
    /// both listeners full still leave the daemon descriptors to work with.
    pub fn for_listeners(nofile: u64) -> (Limits, Limits) {
        let spare = nofile.saturating_sub(RESERVED_FDS).max(8);
        let cap =
            |share: u64, most: u64| usize::try_from((spare / share).clamp(2, most)).unwrap_or(2);
        let base = Limits {
            max_connections: 0,
            header_timeout: Duration::from_secs(5),
            drain: Duration::from_secs(5),
        };
        (
            Limits {
                max_connections: cap(3, 512),
                ..base
            },
            Limits {
                max_connections: cap(6, 64),
                ..base
            },
        )
    }
}

/// Raise this process's soft open-file limit to its hard limit; returns the limit in force.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting and wait (at most
/// `limits.drain`) for the connections in flight.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) where
    L: Listener,
    L::Io: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    let mut refused: u64 = 0;
    loop {
        let io = tokio::select! {
            (io, _) = listener.accept() => io,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Over the cap: close at once rather than let it wait holding a descriptor.
            drop(io);
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    cap = limits.max_connections,
                    refused,
                    "connection cap reached; closing new connections"
                );
            }
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after the drain period; leaving them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn server(limits: Limits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, limits, async move {
            let _ = rx.await;
        }));
        (addr, tx)
    }

    async fn get_ok(addr: std::net::SocketAddr) -> bool {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            return false;
        };
        if s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .is_err()
        {
            return false;
        }
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
        out.starts_with("HTTP/1.1 200")
    }

    const TEST: Limits = Limits {
        max_connections: 4,
        header_timeout: Duration::from_millis(300),
        drain: Duration::from_secs(1),
    };

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_dropped() {
        let (addr, _stop) = server(TEST).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(3), slow.read(&mut buf))
            .await
            .expect("the server closes the connection well before 3 s");
        // Closed (0 bytes) or answered with a timeout status, never left open.
        assert!(
            read.map(|n| n == 0 || buf.starts_with(b"HTTP/1.1 408"))
                .unwrap_or(true)
        );
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let read = tokio::time::timeout(Duration::from_secs(3), silent.read(&mut buf)).await;
        assert!(
            read.is_ok(),
            "a connection that sends nothing is dropped too"
        );
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_slots_come_back() {
        let (addr, _stop) = server(TEST).await;
        let mut held = Vec::new();
        for _ in 0..TEST.max_connections {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            held.push(s);
        }
        // Give the server a moment to take every slot.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!get_ok(addr).await, "a fifth connection is refused");
        // The held ones time out, and a normal request is served again.
        tokio::time::sleep(TEST.header_timeout * 3).await;
        assert!(get_ok(addr).await);
    }

    #[tokio::test]
    async fn shutdown_stops_accepting() {
        let (addr, stop) = server(TEST).await;
        assert!(get_ok(addr).await);
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[test]
    fn caps_fit_the_open_file_limit_and_leave_a_reserve() {
        let (unix, tcp) = Limits::for_listeners(256);
        assert!(unix.max_connections + tcp.max_connections + 96 <= 256);
        assert!(tcp.max_connections >= 2 && unix.max_connections > tcp.max_connections);
        let (unix, tcp) = Limits::for_listeners(1_048_576);
        assert_eq!((unix.max_connections, tcp.max_connections), (512, 64));
        let (unix, tcp) = Limits::for_listeners(0);
        assert!(unix.max_connections >= 2 && tcp.max_connections >= 2);
    }
}
