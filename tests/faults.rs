//! Fault injection against the real Docker engine: a state directory that is full, read-only or
//! too deep for a socket.

mod common;

use std::process::Command;

use common::Project;

const ONE: &str = r#"
services:
  app:
    image: debian:bookworm-slim
    init: true
    command: ["sleep", "infinity"]
"#;

/// A small tmpfs mounted for the test's life (the tests run as root, as CI does).
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn tmpfs(options: &str) -> Mount {
        let dir = tempfile::Builder::new()
            .prefix("nvm")
            .tempdir_in("/tmp")
            .expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: these tests need root (as in CI)"
        );
        Mount { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// `up` with the daemon's state in `state`: must fail with one sentence and leave no token.
fn up_fails_clearly(p: &Project, state: &std::path::Path, expect: &str) {
    let state_text = state.display().to_string();
    let run = p.novadev_env(&["up"], &[("NOVADEV_STATE_DIR", state_text.as_str())]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one sentence: {}", run.stderr);
    assert!(errors[0].contains(expect), "{}", errors[0]);
    assert!(errors[0].contains("NOVADEV_STATE_DIR"), "{}", errors[0]);
    assert!(
        !state.join(&p.name).join("ui-token").exists(),
        "no token file left behind"
    );
    assert!(p.containers().is_empty(), "nothing started");
}

#[test]
fn a_full_state_dir_is_one_clear_sentence() {
    let p = Project::new("full", ONE);
    let mount = Mount::tmpfs("size=64k");
    // Fill it up.
    let _ = std::fs::write(mount.path().join("filler"), vec![0u8; 128 * 1024]);
    up_fails_clearly(&p, mount.path(), "No space left on device");
}

#[test]
fn a_read_only_state_dir_is_one_clear_sentence() {
    let p = Project::new("ro", ONE);
    let mount = Mount::tmpfs("size=1m,ro");
    up_fails_clearly(&p, mount.path(), "Read-only file system");
}

#[test]
fn a_project_name_too_long_for_a_socket_is_one_clear_sentence() {
    let mut p = Project::new("long", ONE);
    p.name = format!("{}-{}", p.name, "x".repeat(100));
    let run = p.novadev(&["up"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("longer than a Unix socket allows"),
        "{}",
        run.stderr
    );
    assert!(p.containers().is_empty());
}
