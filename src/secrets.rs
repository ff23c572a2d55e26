//! Dev secrets: key pairs a stack asks for (`x-novadev.keys`), generated once into the project's
//! state dir (owner-only), mounted read-only into the containers that name them, never printed.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("key pair `{name}`: {message}")]
    Key { name: String, message: String },
    #[error("key pair `{name}`: {path}: {source}")]
    Io {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a project's key pairs live.
pub fn keys_dir(project: &str) -> PathBuf {
    crate::paths::ProjectPaths::for_project(project)
        .dir
        .join("keys")
}

/// The directory holding key pair `name` (`private.pem`, `public.pem`), created with a fresh
/// Ed25519 pair if it does not exist yet. Returns the directory and a fingerprint of the public
/// key (so containers are recreated when the pair is regenerated).
pub fn ensure_key_pair(base: &Path, name: &str) -> Result<(PathBuf, String), SecretError> {
    let dir = base.join(name);
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    let io = |path: &Path| {
        let name = name.to_string();
        let path = path.to_path_buf();
        move |source| SecretError::Io { name, path, source }
    };
    if !(private.is_file() && public.is_file()) {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        // The directory is bind-mounted into containers whose process may run as another user:
        // readable, but only the owner may change it.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).map_err(io(&dir))?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SecretError::Key {
            name: name.to_string(),
            message: format!("no OS randomness: {e}"),
        })?;
        let key = SigningKey::from_bytes(&seed);
        let private_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SecretError::Key {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        let public_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| SecretError::Key {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        // Write both under temporary names, then rename: a crash leaves no half pair behind.
        let write = |path: &Path, text: &[u8], mode: u32| -> Result<(), SecretError> {
            let tmp = path.with_extension("pem.tmp");
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(mode)
                .open(&tmp)
                .map_err(io(&tmp))?;
            std::io::Write::write_all(&mut file, text).map_err(io(&tmp))?;
            file.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io(path))
        };
        // Readable by the container's (unknown) user: these are throwaway dev keys on a
        // developer's machine, in a directory only the owner can write.
        write(&private, private_pem.as_bytes(), 0o644)?;
        write(&public, public_pem.as_bytes(), 0o644)?;
        tracing::info!(key = name, dir = %dir.display(), "generated a dev key pair");
    }
    let public_pem = std::fs::read(&public).map_err(io(&public))?;
    let fingerprint = hex::encode(&Sha256::digest(&public_pem)[..8]);
    Ok((dir, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pair_is_generated_once_and_kept() {
        let base = tempfile::tempdir().unwrap();
        let (dir, first) = ensure_key_pair(base.path(), "jwt").unwrap();
        let private = std::fs::read_to_string(dir.join("private.pem")).unwrap();
        let public = std::fs::read_to_string(dir.join("public.pem")).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let (_, second) = ensure_key_pair(base.path(), "jwt").unwrap();
        assert_eq!(first, second, "an existing pair is kept");
        assert_eq!(
            std::fs::read_to_string(dir.join("private.pem")).unwrap(),
            private
        );
    }

    #[test]
    fn different_names_get_different_pairs() {
        let base = tempfile::tempdir().unwrap();
        let (_, a) = ensure_key_pair(base.path(), "a").unwrap();
        let (_, b) = ensure_key_pair(base.path(), "b").unwrap();
        assert_ne!(a, b);
    }
}
