//! Dev JWTs: EdDSA (Ed25519) tokens signed by identity-service. The key
//! pair is PEM (PKCS#8 private key, SPKI public key), as written by
//! `openssl genpkey -algorithm ed25519`. Key material never appears in an
//! error message or a log line.
//!
//! It lives in the runtime (not in identity-service) so that any service can
//! verify tokens, and so that every service is built with the same
//! dependency features (one set of compiled dependencies for all `-p` builds).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The `iss` of every token.
pub const ISSUER: &str = "nova-identity";

/// The claims of a Nova dev token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

impl Claims {
    pub fn new(sub: &str, ttl_seconds: u64) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Claims {
            sub: sub.to_string(),
            iss: ISSUER.to_string(),
            iat: now,
            exp: now + ttl_seconds,
        }
    }
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "sub", "iss"]);
    v
}

/// A public key: verifies tokens.
pub struct Verifier {
    key: DecodingKey,
}

impl Verifier {
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        DecodingKey::from_ed_pem(pem)
            .map(|key| Verifier { key })
            .map_err(|e| format!("not an Ed25519 public key in PEM ({e})"))
    }

    /// The claims of a valid token (signature, issuer, expiry checked).
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        jsonwebtoken::decode::<Claims>(token.trim(), &self.key, &validation())
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

/// A key pair: issues and verifies tokens.
pub struct Signer {
    key: EncodingKey,
    verifier: Verifier,
}

impl Signer {
    /// Loads both keys and checks that they belong together.
    pub fn from_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, String> {
        let key = EncodingKey::from_ed_pem(private_pem)
            .map_err(|e| format!("not an Ed25519 private key in PEM ({e})"))?;
        let verifier = Verifier::from_pem(public_pem)?;
        let signer = Signer { key, verifier };
        let token = signer.issue("key-pair-check", 60)?;
        signer
            .verifier
            .verify(&token)
            .map_err(|_| "the public key does not match the private key".to_string())?;
        Ok(signer)
    }

    /// Reads the two PEM files; errors name the file, never its contents.
    pub fn from_files(private_path: &str, public_path: &str) -> Result<Self, String> {
        let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"));
        let private = read(private_path)?;
        let public = read(public_path)?;
        EncodingKey::from_ed_pem(&private)
            .map_err(|e| format!("{private_path}: not an Ed25519 private key in PEM ({e})"))?;
        Verifier::from_pem(&public).map_err(|e| format!("{public_path}: {e}"))?;
        Signer::from_pem(&private, &public)
            .map_err(|e| format!("{public_path} and {private_path}: {e}"))
    }

    /// A signed token for `sub`, valid for `ttl_seconds`.
    pub fn issue(&self, sub: &str, ttl_seconds: u64) -> Result<String, String> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &Claims::new(sub, ttl_seconds),
            &self.key,
        )
        .map_err(|e| format!("signing failed: {e}"))
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Throwaway keys made for these tests only.
    const PRIV_1: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIMhFJbI311AJwjhyA+kwg1hxvn0LDd6kWPQ68JofbnTr\n-----END PRIVATE KEY-----\n";
    const PUB_1: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAXexBHIGPKRxuFbJB3ZUakSIpfKUOrC1kZo1Te9F8AX8=\n-----END PUBLIC KEY-----\n";
    const PUB_2: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAe0y6CZQp8GtCy02lWaVGEgf5kKGnMi1GFnfMnPyML14=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn issue_and_verify() {
        let s = Signer::from_pem(PRIV_1.as_bytes(), PUB_1.as_bytes()).unwrap();
        let token = s.issue("alice", 3600).unwrap();
        assert_eq!(token.matches('.').count(), 2);
        let c = s.verifier().verify(&token).unwrap();
        assert_eq!((c.sub.as_str(), c.iss.as_str()), ("alice", ISSUER));
        assert_eq!(c.exp - c.iat, 3600);
        // Tampered payload and another key are refused.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = s.issue("mallory", 3600).unwrap();
        parts[1] = other.split('.').nth(1).unwrap();
        assert!(s.verifier().verify(&parts.join(".")).is_err());
        let v2 = Verifier::from_pem(PUB_2.as_bytes()).unwrap();
        assert!(v2.verify(&token).is_err());
    }

    #[test]
    fn mismatched_or_bad_keys() {
        let e = Signer::from_pem(PRIV_1.as_bytes(), PUB_2.as_bytes())
            .err()
            .unwrap();
        assert!(e.contains("does not match"), "{e}");
        let e = Signer::from_pem(PUB_1.as_bytes(), PUB_1.as_bytes())
            .err()
            .unwrap();
        assert!(e.contains("private key"), "{e}");
        assert!(!e.contains("MCow"), "{e}");
    }

    #[test]
    fn files_errors_name_the_file_not_the_key() {
        let dir = std::env::temp_dir().join(format!("nova-jwt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
        std::fs::write(p("priv.pem"), PRIV_1).unwrap();
        std::fs::write(p("pub.pem"), PUB_1).unwrap();
        std::fs::write(p("other.pub"), PUB_2).unwrap();
        assert!(Signer::from_files(&p("priv.pem"), &p("pub.pem")).is_ok());
        let e = Signer::from_files(&p("missing.pem"), &p("pub.pem"))
            .err()
            .unwrap();
        assert!(
            e.starts_with(&format!("cannot read {}", p("missing.pem"))),
            "{e}"
        );
        let e = Signer::from_files(&p("pub.pem"), &p("pub.pem"))
            .err()
            .unwrap();
        assert!(e.starts_with(&p("pub.pem")) && !e.contains("MCow"), "{e}");
        let e = Signer::from_files(&p("priv.pem"), &p("other.pub"))
            .err()
            .unwrap();
        assert!(e.contains("does not match") && !e.contains("MC4C"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
