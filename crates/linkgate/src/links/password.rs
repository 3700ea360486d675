//! Link passwords: stored only as argon2id hashes (PHC strings), so a copy of the
//! database gives an attacker a slow, salted guess per candidate and nothing more.
//!
//! Hashing and verifying cost tens of milliseconds of CPU by design; callers run
//! them on a blocking thread (see [`crate::http::links`]).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

/// Longest password accepted, bytes: argon2 takes any length, but a megabyte
/// "password" is an attack on the CPU, not a secret.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Checks a password offered at link creation.
pub fn validate(password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err("password must not be empty (leave it out for a link without one).".into());
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("password may be at most {MAX_PASSWORD_LEN} bytes."));
    }
    Ok(())
}

/// The argon2id PHC string for `password`, with a fresh random salt and the
/// crate's recommended parameters (OWASP's m = 19 MiB, t = 2, p = 1).
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the stored PHC string. A damaged hash matches
/// nothing (fail closed).
pub fn verify(phc: &str, password: &str) -> bool {
    password.len() <= MAX_PASSWORD_LEN && Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_salted_argon2id_and_verifies_only_the_password() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("correct horse"));
        assert!(verify(&a, "correct horse"));
        assert!(verify(&b, "correct horse"));
        assert!(!verify(&a, "correct horsE"));
        assert!(!verify(&a, ""));
        assert!(!verify("not a phc string", "correct horse"));
        assert!(!verify(&a, &"x".repeat(MAX_PASSWORD_LEN + 1)));
    }

    #[test]
    fn validation() {
        assert!(validate("p").is_ok());
        assert!(validate(&"p".repeat(MAX_PASSWORD_LEN)).is_ok());
        assert!(validate("").unwrap_err().contains("empty"));
        assert!(validate(&"p".repeat(MAX_PASSWORD_LEN + 1)).unwrap_err().contains("1024"));
    }
}
