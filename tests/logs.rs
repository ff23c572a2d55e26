//! Logs as real containers print them (real Docker): huge lines, lines Docker splits, progress
//! bars, terminal escape sequences, and readers that go away or pile up.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::{Project, wait_for};
use serde_json::Value;

const PRINTERS: &str = r#"
services:
  huge:
    image: debian:bookworm-slim
    init: true
    # 40 MB without a newline, then silence.
    command: ["sh", "-c", "head -c 40000000 /dev/zero | tr '\\0' x; exec sleep infinity"]
  split:
    image: debian:bookworm-slim
    init: true
    # One 40,000-byte line (Docker stores it as three pieces), then a short one.
    command: ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' y; echo; echo after; exec sleep infinity"]
  progress:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "printf '10%%\\r20%%\\r30%%\\n'; printf '\\033]0;pwned\\007\\033[31mred\\033[0m\\n'; exec sleep infinity"]
  chatty:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "i=0; while [ $$i -lt 2000 ]; do i=$$((i+1)); echo line-$$i; done; exec sleep infinity"]
"#;

fn json_lines(run: &common::Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn long_split_and_progress_lines_and_escapes_come_out_right() {
    let p = Project::new("logs-shape", PRINTERS);
    p.up_ok(&[]);

    // Docker's pieces of one long line are joined, with no timestamp spliced into the text.
    let split = wait_for("the split line", Duration::from_secs(20), || {
        let run = p.novadev(&["logs", "--json", "split"]);
        let lines = json_lines(&run);
        (lines.len() == 2).then_some(lines)
    });
    let text = split[0]["text"].as_str().expect("text");
    assert_eq!(text.len(), 40_000, "joined whole");
    assert!(text.bytes().all(|b| b == b'y'), "nothing spliced in");
    assert_eq!(split[1]["text"], "after");

    // 40 MB without a newline: shown, cut and marked, not swallowed.
    let huge = wait_for("the huge line", Duration::from_secs(30), || {
        let run = p.novadev(&["logs", "--json", "huge"]);
        json_lines(&run).into_iter().next()
    });
    assert_eq!(huge["truncated"], true);
    let cut = huge["text"].as_str().expect("text");
    assert_eq!(cut.len(), 64 * 1024);
    assert!(cut.bytes().all(|b| b == b'x'));
    let plain = p.novadev(&["logs", "huge"]);
    assert!(plain.stdout.contains("[cut at 64 KiB]"), "the cut is said");

    // `\r`-only progress shows every step; escape sequences never reach the terminal.
    let progress = wait_for("the progress lines", Duration::from_secs(20), || {
        let run = p.novadev(&["logs", "progress"]);
        (run.stdout.lines().count() == 4).then_some(run)
    });
    let lines: Vec<&str> = progress.stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            "progress | 10%",
            "progress | 20%",
            "progress | 30%",
            "progress | red"
        ]
    );
    assert!(!progress.stdout.contains('\u{1b}'), "no escape sequence");
}

#[test]
fn a_reader_that_goes_away_ends_logs_quietly() {
    let p = Project::new("logs-pipe", PRINTERS);
    p.up_ok(&["chatty"]);
    wait_for("2000 lines", Duration::from_secs(20), || {
        let run = p.novadev(&["logs", "chatty"]);
        (run.stdout.lines().count() == 2000).then_some(())
    });
    for args in [
        vec!["logs", "--json", "chatty"],
        vec!["logs", "chatty"],
        vec!["logs", "-f", "chatty"],
    ] {
        let mut child = p
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run novadev logs");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("one line");
        // `| head -1`: the reader is gone after the first line.
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        assert!(!first.is_empty());
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn five_followers_of_a_line_that_never_ends_cost_the_daemon_little() {
    let p = Project::new("logs-mem", PRINTERS);
    p.up_ok(&["huge"]);
    wait_for("the huge line", Duration::from_secs(30), || {
        let run = p.novadev(&["logs", "--json", "huge"]);
        (!run.stdout.is_empty()).then_some(())
    });
    let pid = p.daemon_pid().expect("daemon");
    let before = rss_kib(pid);
    let followers: Vec<_> = (0..5)
        .map(|_| {
            p.command(&["logs", "-f", "huge"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("follow")
        })
        .collect();
    // Each follower reads the whole 40 MB history through the daemon.
    std::thread::sleep(Duration::from_secs(8));
    let during = rss_kib(pid);
    for mut f in followers {
        let _ = f.kill();
        let _ = f.wait();
    }
    eprintln!("daemon RSS: {before} KiB before, {during} KiB with five followers");
    assert!(
        during < before + 48 * 1024,
        "five followers took the daemon from {before} KiB to {during} KiB"
    );
}
