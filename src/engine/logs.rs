//! Container log streams, decoded into lines.
//!
//! Docker sends a container's output as frames: with timestamps on, each frame is one log entry
//! prefixed by its own timestamp, and an entry longer than 16 KiB is split into several frames,
//! only the last of which ends with a newline. [`LineAssembler`] turns frames back into lines:
//! one buffer per stream (stdout and stderr never splice into each other), each frame's own
//! timestamp removed (a line keeps its first piece's), a bare `\r` (progress bars) ending a line
//! like `\n`, a line cut at [`MAX_LINE_BYTES`] (marked truncated; the rest up to its newline is
//! dropped, so a service that never prints a newline costs a bounded buffer), and what is left
//! flushed when the stream ends.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::{Stream, StreamExt};

use super::Engine;
pub use crate::protocol::{LogLine, LogQuery, MAX_LINE_BYTES};

/// Which of a container's outputs a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Stdout,
    Stderr,
    /// A TTY container's one stream: not framed per entry, so a timestamp only follows a newline.
    Console,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Stdout | Source::Console => "stdout",
            Source::Stderr => "stderr",
        }
    }
}

/// A line being put together from one stream's frames.
#[derive(Debug, Default)]
struct Partial {
    bytes: Vec<u8>,
    time: String,
    truncated: bool,
    /// The last byte seen was a `\r`: a `\n` right after it ends nothing more.
    after_cr: bool,
    /// Started a line (even an empty one) that has not ended yet.
    open: bool,
}

/// Turns Docker's log frames into lines; see the module docs.
#[derive(Debug)]
pub struct LineAssembler {
    service: String,
    timestamps: bool,
    max_line: usize,
    stdout: Partial,
    stderr: Partial,
}

impl LineAssembler {
    pub fn new(service: &str, timestamps: bool) -> LineAssembler {
        LineAssembler::with_limit(service, timestamps, MAX_LINE_BYTES)
    }

    pub fn with_limit(service: &str, timestamps: bool, max_line: usize) -> LineAssembler {
        LineAssembler {
            service: service.to_string(),
            timestamps,
            max_line: max_line.max(4),
            stdout: Partial::default(),
            stderr: Partial::default(),
        }
    }

    /// Take one frame; complete lines are appended to `out`.
    pub fn push(&mut self, source: Source, frame: &[u8], out: &mut Vec<LogLine>) {
        let framed = source != Source::Console;
        let mut rest = frame;
        // A framed entry always starts with its timestamp; a console chunk only carries one
        // where a new line starts.
        let starts_entry = framed || !self.partial(source).open;
        // Every line that starts in this frame gets the frame's time; one that began in an
        // earlier frame keeps its own.
        let mut frame_time = String::new();
        if self.timestamps && starts_entry {
            let (time, after) = split_timestamp(rest);
            frame_time = time.to_string();
            rest = after;
        }
        while !rest.is_empty() {
            {
                let partial = self.partial(source);
                if !partial.open && partial.time.is_empty() {
                    partial.time.clone_from(&frame_time);
                }
            }
            let end = rest.iter().position(|b| *b == b'\n' || *b == b'\r');
            let (piece, terminator) = match end {
                Some(i) => (&rest[..i], Some(rest[i])),
                None => (rest, None),
            };
            let skip_lf = {
                let partial = self.partial(source);
                let skip = piece.is_empty() && terminator == Some(b'\n') && partial.after_cr;
                partial.after_cr = false;
                skip
            };
            if !skip_lf {
                self.append(source, piece, out);
                if let Some(t) = terminator {
                    self.end_line(source, out);
                    self.partial(source).after_cr = t == b'\r';
                }
            }
            rest = match end {
                Some(i) => &rest[i + 1..],
                None => &[],
            };
            if self.timestamps && !framed && terminator == Some(b'\n') && !rest.is_empty() {
                let (time, after) = split_timestamp(rest);
                frame_time = time.to_string();
                rest = after;
            }
        }
    }

    /// The stream ended: whatever was printed without a final newline is a line too.
    pub fn finish(&mut self, out: &mut Vec<LogLine>) {
        for source in [Source::Stdout, Source::Stderr] {
            let partial = self.partial(source);
            if partial.open || !partial.bytes.is_empty() {
                self.end_line(source, out);
            }
        }
    }

    fn partial(&mut self, source: Source) -> &mut Partial {
        match source {
            Source::Stdout | Source::Console => &mut self.stdout,
            Source::Stderr => &mut self.stderr,
        }
    }

    fn append(&mut self, source: Source, piece: &[u8], out: &mut Vec<LogLine>) {
        let max = self.max_line;
        let partial = self.partial(source);
        partial.open = true;
        if partial.truncated {
            return;
        }
        let room = max.saturating_sub(partial.bytes.len());
        if piece.len() <= room {
            partial.bytes.extend_from_slice(piece);
            return;
        }
        // Keep what fits, cut at a character boundary, and show it now: a line that may never
        // end must not stay invisible.
        let mut keep = room;
        while keep > 0 && keep < piece.len() && (piece[keep] & 0xC0) == 0x80 {
            keep -= 1;
        }
        partial.bytes.extend_from_slice(&piece[..keep]);
        partial.truncated = true;
        let line = self.take(source);
        out.push(line);
        // The line stays open (its rest is dropped until the newline) and truncated.
        let partial = self.partial(source);
        partial.open = true;
        partial.truncated = true;
    }

    fn end_line(&mut self, source: Source, out: &mut Vec<LogLine>) {
        let partial = self.partial(source);
        if partial.truncated {
            // Already shown when it was cut.
            *partial = Partial::default();
            return;
        }
        let line = self.take(source);
        out.push(line);
    }

    fn take(&mut self, source: Source) -> LogLine {
        let service = self.service.clone();
        let partial = std::mem::take(self.partial(source));
        LogLine {
            service,
            stream: source.name().to_string(),
            time: partial.time,
            text: String::from_utf8_lossy(&partial.bytes).into_owned(),
            truncated: partial.truncated,
        }
    }
}

/// `2024-05-01T10:00:00.123456789Z rest` → (`2024-05-01T10:00:00.123456789Z`, `rest`); anything
/// that does not start with such a timestamp is left whole.
fn split_timestamp(frame: &[u8]) -> (&str, &[u8]) {
    let Some(space) = frame.iter().take(40).position(|b| *b == b' ') else {
        return ("", frame);
    };
    let head = &frame[..space];
    let looks_like_time = head.len() >= 20
        && head[4] == b'-'
        && head[7] == b'-'
        && head[10] == b'T'
        && head[..4].iter().all(u8::is_ascii_digit);
    match (looks_like_time, std::str::from_utf8(head)) {
        (true, Ok(time)) => (time, &frame[space + 1..]),
        _ => ("", frame),
    }
}

impl Engine {
    /// The log of one container as lines. With timestamps from Docker, always: callers decide
    /// whether to show them.
    pub fn log_lines(
        &self,
        container: &str,
        service: &str,
        query: &LogQuery,
    ) -> impl Stream<Item = LogLine> + Send + 'static {
        let options = LogsOptions {
            follow: query.follow,
            stdout: true,
            stderr: true,
            since: query
                .since
                .map(|s| i32::try_from(s).unwrap_or(i32::MAX))
                .unwrap_or(0),
            timestamps: true,
            tail: query
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let raw = self.docker().logs(container, Some(options));
        let assembler = LineAssembler::new(service, true);
        // `None` marks the end, so the assembler can flush what has no final newline.
        raw.map(Some)
            .chain(futures_util::stream::once(async { None }))
            .scan(assembler, |assembler, item| {
                let mut lines = Vec::new();
                match item {
                    Some(Ok(LogOutput::StdOut { message })) => {
                        assembler.push(Source::Stdout, &message, &mut lines);
                    }
                    Some(Ok(LogOutput::StdErr { message })) => {
                        assembler.push(Source::Stderr, &message, &mut lines);
                    }
                    Some(Ok(LogOutput::Console { message })) => {
                        assembler.push(Source::Console, &message, &mut lines);
                    }
                    Some(Ok(LogOutput::StdIn { .. })) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "log stream ended with an error");
                        assembler.finish(&mut lines);
                    }
                    None => assembler.finish(&mut lines),
                }
                futures_util::future::ready(Some(lines))
            })
            .flat_map(futures_util::stream::iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2024-05-01T10:00:00.000000001Z";
    const T2: &str = "2024-05-01T10:00:00.000000002Z";

    fn frame(time: &str, text: &str) -> Vec<u8> {
        format!("{time} {text}").into_bytes()
    }

    fn texts(lines: &[LogLine]) -> Vec<(&str, &str, &str, bool)> {
        lines
            .iter()
            .map(|l| {
                (
                    l.stream.as_str(),
                    l.time.as_str(),
                    l.text.as_str(),
                    l.truncated,
                )
            })
            .collect()
    }

    #[test]
    fn frames_of_one_long_line_are_joined_without_their_timestamps() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Stdout, &frame(T1, "first half, "), &mut out);
        a.push(Source::Stdout, &frame(T2, "second half\n"), &mut out);
        assert_eq!(
            texts(&out),
            vec![("stdout", T1, "first half, second half", false)]
        );
    }

    #[test]
    fn stdout_and_stderr_pieces_do_not_splice_into_each_other() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Stdout, &frame(T1, "out-a "), &mut out);
        a.push(Source::Stderr, &frame(T1, "err line\n"), &mut out);
        a.push(Source::Stdout, &frame(T2, "out-b\n"), &mut out);
        assert_eq!(
            texts(&out),
            vec![
                ("stderr", T1, "err line", false),
                ("stdout", T1, "out-a out-b", false)
            ]
        );
    }

    #[test]
    fn a_line_without_a_newline_is_flushed_at_the_end() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Stdout, &frame(T1, "no newline"), &mut out);
        assert!(out.is_empty());
        a.finish(&mut out);
        assert_eq!(texts(&out), vec![("stdout", T1, "no newline", false)]);
    }

    #[test]
    fn a_huge_line_is_cut_shown_at_once_and_the_rest_dropped() {
        let mut a = LineAssembler::with_limit("web", true, 10);
        let mut out = Vec::new();
        for _ in 0..1000 {
            a.push(Source::Stdout, &frame(T1, "0123456789abcdef"), &mut out);
        }
        assert_eq!(texts(&out), vec![("stdout", T1, "0123456789", true)]);
        a.push(Source::Stdout, &frame(T2, "tail\n"), &mut out);
        a.push(Source::Stdout, &frame(T2, "next\n"), &mut out);
        a.finish(&mut out);
        assert_eq!(
            texts(&out),
            vec![
                ("stdout", T1, "0123456789", true),
                ("stdout", T2, "next", false)
            ]
        );
        assert!(a.stdout.bytes.capacity() <= 64, "the buffer stays bounded");
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let mut a = LineAssembler::with_limit("web", false, 5);
        let mut out = Vec::new();
        a.push(Source::Stdout, "abcdé€f\n".as_bytes(), &mut out);
        assert_eq!(out[0].text, "abcd");
        assert!(out[0].truncated);
    }

    #[test]
    fn carriage_returns_end_lines_and_crlf_counts_once() {
        let mut a = LineAssembler::new("web", false);
        let mut out = Vec::new();
        a.push(Source::Stdout, b"10%\r20%\r30%", &mut out);
        a.push(Source::Stdout, b"\r", &mut out);
        a.push(Source::Stdout, b"\ndone\r\n", &mut out);
        let lines: Vec<&str> = out.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(lines, vec!["10%", "20%", "30%", "done"]);
    }

    #[test]
    fn every_line_of_a_frame_gets_the_frames_time() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Stdout, &frame(T1, "a\rb\nc\n"), &mut out);
        assert_eq!(
            texts(&out),
            vec![
                ("stdout", T1, "a", false),
                ("stdout", T1, "b", false),
                ("stdout", T1, "c", false)
            ]
        );
    }

    #[test]
    fn empty_lines_are_kept() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Stdout, &frame(T1, "\n"), &mut out);
        a.push(Source::Stdout, &frame(T2, "x\n"), &mut out);
        assert_eq!(
            texts(&out),
            vec![("stdout", T1, "", false), ("stdout", T2, "x", false)]
        );
    }

    #[test]
    fn console_chunks_carry_timestamps_only_after_newlines() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Console, format!("{T1} hel").as_bytes(), &mut out);
        a.push(
            Source::Console,
            format!("lo\n{T2} world\n").as_bytes(),
            &mut out,
        );
        assert_eq!(
            texts(&out),
            vec![
                ("stdout", T1, "hello", false),
                ("stdout", T2, "world", false)
            ]
        );
    }

    #[test]
    fn text_that_merely_starts_like_a_date_is_not_eaten() {
        let mut a = LineAssembler::new("web", true);
        let mut out = Vec::new();
        a.push(Source::Stdout, b"2024 was a year\n", &mut out);
        assert_eq!(out[0].text, "2024 was a year");
        assert_eq!(out[0].time, "");
    }
}
