//! Who is asking: access keys, their secrets, and the identities behind them.
//!
//! Root credentials come from the environment or are generated once into the data
//! dir; users, their keys and policies, roles and STS sessions live in the identity
//! store; [`crate::services::identities`] resolves any access key and judges each
//! request at access time.

pub mod policy;
pub mod secrets;

use std::io::Write as _;
use std::path::Path;

/// The root access key pair.
#[derive(Clone)]
pub struct RootCredentials {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// How root credentials were obtained (so `serve` can tell the operator once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootSource {
    /// `LINKGATE_ROOT_ACCESS_KEY` / `LINKGATE_ROOT_SECRET_KEY`.
    Environment,
    /// Read from `<data_dir>/root-credentials`.
    File,
    /// Generated now and written to `<data_dir>/root-credentials`.
    Generated,
}

const ROOT_FILE: &str = "root-credentials";

impl RootCredentials {
    /// From the environment pair if both are set, else the data-dir file, else new
    /// random credentials written there with mode 0600.
    pub fn load_or_create(data_dir: &Path, env_ak: Option<String>, env_sk: Option<String>) -> std::io::Result<(Self, RootSource)> {
        if let (Some(ak), Some(sk)) = (env_ak.filter(|s| !s.is_empty()), env_sk.filter(|s| !s.is_empty())) {
            return Ok((Self { access_key_id: ak, secret_access_key: sk }, RootSource::Environment));
        }
        let path = data_dir.join(ROOT_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let field = |name: &str| {
                text.lines().find_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    (k.trim() == name).then(|| v.trim().to_owned())
                })
            };
            if let (Some(ak), Some(sk)) = (field("aws_access_key_id"), field("aws_secret_access_key")) {
                return Ok((Self { access_key_id: ak, secret_access_key: sk }, RootSource::File));
            }
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is malformed", path.display())));
        }
        let creds = Self::generate();
        std::fs::create_dir_all(data_dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&path)?;
        write!(
            file,
            "# linkgate root credentials, in AWS credentials-file format:\n# AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE=linkgate aws ...\n[linkgate]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            path.display(),
            creds.access_key_id,
            creds.secret_access_key
        )?;
        file.sync_all()?;
        Ok((creds, RootSource::Generated))
    }

    /// New random credentials: `AKIA` + 16 base-32 characters, 40-character secret.
    pub fn generate() -> Self {
        Self { access_key_id: secrets::new_access_key_id(false), secret_access_key: secrets::new_secret_access_key() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::random_hex;

    #[test]
    fn generated_once_then_read_back_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("linkgate-root-{}", random_hex(6)));
        let (a, src) = RootCredentials::load_or_create(&dir, None, None).unwrap();
        assert_eq!(src, RootSource::Generated);
        assert!(a.access_key_id.starts_with("AKIA") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        let (b, src) = RootCredentials::load_or_create(&dir, None, None).unwrap();
        assert_eq!((src, b.access_key_id, b.secret_access_key), (RootSource::File, a.access_key_id, a.secret_access_key));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(ROOT_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (c, src) = RootCredentials::load_or_create(&dir, Some("AKIAENV".into()), Some("s".into())).unwrap();
        assert_eq!((src, c.access_key_id.as_str()), (RootSource::Environment, "AKIAENV"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
