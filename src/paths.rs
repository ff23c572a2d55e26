//! Where a project's daemon lives on disk: socket, lock, pid, log, web UI token and state, in one
//! owner-only directory per project.
//!
//! Base directory: `$NOVADEV_STATE_DIR`, else `$XDG_RUNTIME_DIR/novadev`, else the XDG state dir
//! (`~/.local/state/novadev`), else `/tmp/novadev-<user>`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPaths {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub lock: PathBuf,
    pub pid: PathBuf,
    pub log: PathBuf,
    /// The web UI's token, written by the daemon for the CLI to print (`novadev ui`).
    pub ui_token: PathBuf,
    /// A page that opens the web UI with its token (`novadev ui --open` hands its path to the
    /// browser, so the token is on no command line).
    pub ui_opener: PathBuf,
}

pub fn base_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NOVADEV_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("novadev");
    }
    if let Some(dir) = dirs::state_dir() {
        return dir.join("novadev");
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    std::env::temp_dir().join(format!("novadev-{user}"))
}

impl ProjectPaths {
    pub fn for_project(project: &str) -> ProjectPaths {
        ProjectPaths::under(&base_dir(), project)
    }

    pub fn under(base: &Path, project: &str) -> ProjectPaths {
        let dir = base.join(project);
        ProjectPaths {
            socket: dir.join("daemon.sock"),
            lock: dir.join("daemon.lock"),
            pid: dir.join("daemon.pid"),
            log: dir.join("daemon.log"),
            ui_token: dir.join("ui-token"),
            ui_opener: dir.join("open-ui.html"),
            dir,
        }
    }

    /// Create the directory, readable by its owner only.
    pub fn create(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
    }
}

/// An identity of the running executable (path and modification time): a daemon started from an
/// older build of novadev is replaced rather than spoken to with a newer API.
pub fn build_id() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let mtime = std::fs::metadata(&exe)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}@{}#{mtime}", env!("CARGO_PKG_VERSION"), exe.display())
}
