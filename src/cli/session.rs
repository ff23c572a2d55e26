//! Wiring an engine session to this terminal: stdin to the session, its output to stdout and
//! stderr. With a TTY the terminal goes raw (keys, Ctrl-C included, go to the process, as with
//! `docker exec -it`) and window size changes follow; it is restored however the session ends.

use std::io::IsTerminal;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Failure;
use crate::engine::session::{Output, Session};

/// Puts the terminal back in cooked mode when dropped.
struct RawMode;

impl RawMode {
    fn enter() -> Result<RawMode, Failure> {
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| Failure::runtime(format!("cannot put the terminal in raw mode: {e}")))?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Whether a session should get a TTY: both ends are a terminal, and not turned off (`-T`).
pub fn wants_tty(no_tty: bool) -> bool {
    !no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's size (columns, rows), if it has one.
pub fn terminal_size() -> Option<(u16, u16)> {
    crossterm::terminal::size().ok()
}

/// Run the session to its end: stdin is forwarded until it ends (then the session's input is
/// closed, so the process sees end-of-file), everything the session prints is written out.
/// `on_resize` is called with the new size when the terminal's window changes.
pub async fn pump<F, Fut>(session: Session, tty: bool, on_resize: F) -> Result<(), Failure>
where
    F: Fn(u16, u16) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _raw = if tty { Some(RawMode::enter()?) } else { None };
    let Session { mut output, input } = session;
    let mut input = input;
    // stdin is read on its own task: a blocking read must not hold the output up.
    let forward = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if input.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                    let _ = input.flush().await;
                }
            }
        }
        let _ = input.shutdown().await;
    });
    let mut resized = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .map_err(|e| Failure::runtime(format!("cannot follow the window size: {e}")))?;
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let result = loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                None => break Ok(()),
                Some(Err(e)) => break Err(Failure::runtime(e)),
                Some(Ok(Output::Stdout(bytes))) => {
                    if stdout.write_all(&bytes).await.and(stdout.flush().await).is_err() {
                        break Ok(());
                    }
                }
                Some(Ok(Output::Stderr(bytes))) => {
                    let _ = stderr.write_all(&bytes).await;
                    let _ = stderr.flush().await;
                }
            },
            Some(()) = resized.recv(), if tty => {
                if let Some((cols, rows)) = terminal_size() {
                    on_resize(cols, rows).await;
                }
            }
        }
    };
    // The process is done: what is left on stdin is not for it.
    forward.abort();
    result
}
