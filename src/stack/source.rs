//! Where the loader reads files from: the disk, or memory (unit tests and the fuzz target).
//!
//! Every file the loader reads (stack files, `.env`, `env_file`s, included and extended files) goes
//! through `Sources`, so that the rest of the loader is a pure function of the file contents and
//! so that every read is capped: `-f /dev/zero`, a FIFO that never ends or a 10 GB `.env` is an
//! error, never a hang on memory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most a single stack or env file may hold. Real Compose files are a few KB; this is far
/// above any of them and far below what would hurt the machine.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("file not found")]
    NotFound,
    #[error("is a directory")]
    IsADirectory,
    #[error("larger than {} MiB (novadev's limit for a stack or env file)", MAX_FILE_BYTES >> 20)]
    TooLarge,
    #[error("{0}")]
    Io(std::io::Error),
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound)
    }
}

/// The files the loader can see.
pub trait Sources {
    /// The whole content of a file, at most `MAX_FILE_BYTES`.
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError>;
    fn is_dir(&self, path: &Path) -> bool;
    fn is_file(&self, path: &Path) -> bool;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Sources for Disk {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e),
        })?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(ReadError::IsADirectory);
        }
        // `take` rather than the file's length: devices and pipes report 0 and may never end.
        let mut content = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(ReadError::Io)?;
        if content.len() as u64 > MAX_FILE_BYTES {
            return Err(ReadError::TooLarge);
        }
        Ok(content)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
}

/// Another source that remembers every path the loader asked for (read, or looked at), found or
/// not: the files a stack depends on, so that a change to any of them (a `.env` created later
/// included) can be noticed.
pub struct Recording<'a> {
    inner: &'a dyn Sources,
    seen: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a dyn Sources) -> Recording<'a> {
        Recording {
            inner,
            seen: std::sync::Mutex::new(std::collections::BTreeSet::new()),
        }
    }

    fn note(&self, path: &Path) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_path_buf());
    }

    /// Every path asked for, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

impl Sources for Recording<'_> {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        self.note(path);
        self.inner.read(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.note(path);
        self.inner.is_file(path)
    }
}

/// Files held in memory, by absolute path. A directory exists when a file is inside it.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Adds (or replaces) a file.
    pub fn with(mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) -> Memory {
        self.files.insert(path.into(), content.into());
        self
    }
}

impl Sources for Memory {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        match self.files.get(path) {
            Some(content) if content.len() as u64 > MAX_FILE_BYTES => Err(ReadError::TooLarge),
            Some(content) => Ok(content.clone()),
            None if self.is_dir(path) => Err(ReadError::IsADirectory),
            None => Err(ReadError::NotFound),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.files
            .keys()
            .any(|f| f.starts_with(path) && f.as_path() != path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }
}

#[cfg(test)]
mod recording_tests {
    use super::*;

    #[test]
    fn a_recording_source_remembers_what_was_asked_for_found_or_not() {
        let memory = Memory::new().with("/p/compose.yaml", "services: {}");
        let recording = Recording::new(&memory);
        assert!(recording.read(Path::new("/p/compose.yaml")).is_ok());
        assert!(recording.read(Path::new("/p/.env")).is_err());
        assert_eq!(
            recording.paths(),
            vec![PathBuf::from("/p/.env"), PathBuf::from("/p/compose.yaml")]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_device_is_refused_once_past_the_cap() {
        let started = std::time::Instant::now();
        let err = Disk.read(Path::new("/dev/zero")).expect_err("too large");
        assert!(matches!(err, ReadError::TooLarge), "{err}");
        // The cap is what stops it: reading /dev/zero never ends by itself.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn disk_read_tells_missing_files_and_directories_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            Disk.read(&dir.path().join("nope"))
                .is_err_and(|e| e.is_not_found())
        );
        assert!(matches!(
            Disk.read(dir.path()),
            Err(ReadError::IsADirectory)
        ));
        std::fs::write(dir.path().join("a"), "x").expect("write");
        assert_eq!(Disk.read(&dir.path().join("a")).expect("read"), b"x");
    }

    #[test]
    fn memory_directories_are_implied_by_their_files() {
        let m = Memory::new().with("/p/app/Dockerfile", "FROM x");
        assert!(m.is_dir(Path::new("/p/app")));
        assert!(m.is_dir(Path::new("/p")));
        assert!(!m.is_dir(Path::new("/p/app/Dockerfile")));
        assert!(m.is_file(Path::new("/p/app/Dockerfile")));
        assert!(
            m.read(Path::new("/p/other"))
                .is_err_and(|e| e.is_not_found())
        );
        assert!(matches!(
            m.read(Path::new("/p/app")),
            Err(ReadError::IsADirectory)
        ));
    }
}
