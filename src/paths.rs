//! Where a project's daemon lives on disk: socket, lock, pid, log, web UI token and state, in one
//! owner-only directory per project.
//!
//! Base directory: `$NOVADEV_STATE_DIR`, else `$XDG_RUNTIME_DIR/novadev`, else the XDG state dir
//! (`~/.local/state/novadev`), else `/tmp/novadev-<user>`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Longest path a Unix socket can be bound at (`sun_path` holds 108 bytes with the final NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Why a project's state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error(
        "the daemon's socket path {} is {len} bytes, longer than a Unix socket allows ({MAX_SOCKET_PATH}); use a shorter project name (-p) or a shorter NOVADEV_STATE_DIR",
        path.display()
    )]
    SocketPathTooLong { path: PathBuf, len: usize },
    #[error(
        "the state directory {} cannot be written ({source}); free some space there or point NOVADEV_STATE_DIR elsewhere",
        dir.display()
    )]
    NotWritable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

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

    /// Make sure a daemon can live here: the socket path fits, the directory exists (owner-only)
    /// and takes a write. Checked before a daemon starts, so that a full or read-only disk is
    /// one sentence rather than a daemon dying half-way with nowhere to log why.
    pub fn prepare(&self) -> Result<(), PathsError> {
        let len = self.socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(PathsError::SocketPathTooLong {
                path: self.socket.clone(),
                len,
            });
        }
        let not_writable = |source| PathsError::NotWritable {
            dir: self.dir.clone(),
            source,
        };
        self.create().map_err(not_writable)?;
        // A pid's worth of bytes, synced: an empty file can be created on a full disk.
        let probe = self.dir.join(".write-probe");
        let written = write_atomic(&probe, b"0123456789abcdef0123456789abcdef", 0o600);
        let _ = std::fs::remove_file(&probe);
        written.map_err(not_writable)
    }
}

/// Write `bytes` to `path` (mode `mode`) all or nothing: into a temporary file beside it, synced,
/// then renamed over it. On any failure nothing is left behind, not even an empty file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_too_long_is_refused_with_the_remedy() {
        let base = tempfile::tempdir().unwrap();
        let paths = ProjectPaths::under(base.path(), &"p".repeat(120));
        let err = paths.prepare().unwrap_err().to_string();
        assert!(err.contains("longer than a Unix socket allows"), "{err}");
        assert!(err.contains("-p"), "{err}");
        assert!(!paths.dir.exists(), "nothing created");
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_one_sentence() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let paths = ProjectPaths::under(&file, "proj");
        let err = paths.prepare().unwrap_err().to_string();
        assert!(err.starts_with("the state directory"), "{err}");
        assert!(err.contains("NOVADEV_STATE_DIR"), "{err}");
    }

    #[test]
    fn prepare_leaves_an_owner_only_directory_and_no_probe() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let paths = ProjectPaths::under(base.path(), "proj");
        paths.prepare().unwrap();
        let mode = std::fs::metadata(&paths.dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(std::fs::read_dir(&paths.dir).unwrap().count(), 0);
    }

    #[test]
    fn an_atomic_write_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pid");
        write_atomic(&path, b"1", 0o600).unwrap();
        write_atomic(&path, b"22", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"22");
        let missing = dir.path().join("no/such/dir/pid");
        assert!(write_atomic(&missing, b"1", 0o600).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
