//! Log lines as they cross the socket.

use serde::{Deserialize, Serialize};

/// Longest line kept; the rest of a longer line is dropped (and the line marked truncated).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One line a service printed (or novadev printed for it: its build, a sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub service: String,
    /// `stdout`, `stderr`, or what novadev itself adds for a service (`build`, `sync`, ...).
    pub stream: String,
    /// RFC 3339 timestamp (present when the runtime gives one), else empty.
    pub time: String,
    pub text: String,
    /// The line was longer than [`MAX_LINE_BYTES`]; `text` is its beginning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// What part of a log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    pub follow: bool,
    /// Last N lines; `None` = all.
    pub tail: Option<u64>,
    /// Unix seconds.
    pub since: Option<i64>,
}
