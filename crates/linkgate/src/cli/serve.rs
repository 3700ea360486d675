//! `linkgate serve`: run the gateway. Loads the configuration, locks the data dir,
//! loads or generates the secrets, and hands everything to the composition root
//! ([`crate::app`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use crate::app::{App, Secrets};
use crate::auth::secrets::{MasterKey, MasterKeySource};
use crate::auth::{RootCredentials, RootSource};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::credentials::ProcessEnvironment;
use crate::datadir::DataDir;

/// Arguments of `linkgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8420; port 0 picks a free port).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory (default ./linkgate-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML); LINKGATE_* variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Loads the configuration: defaults < file < environment < flags.
pub fn load_config(args: &ServeArgs) -> Result<Config, CliError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut config = Config::load(args.config.as_deref(), &env).map_err(|e| CliError::usage(e.to_string()))?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(d) = &args.data_dir {
        config.data_dir.clone_from(d);
    }
    Ok(config)
}

/// Loads (or generates, telling the operator once) the root credentials and the
/// master key from the environment or the data dir.
fn load_secrets(data_dir: &DataDir) -> Result<Secrets, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::failure(format!("{what}: {e}"));
    let dir = data_dir.path();
    let (root, source) = RootCredentials::load_or_create(
        dir,
        std::env::var("LINKGATE_ROOT_ACCESS_KEY").ok(),
        std::env::var("LINKGATE_ROOT_SECRET_KEY").ok(),
    )
    .map_err(|e| fail("cannot load root credentials", &e))?;
    if source == RootSource::Generated {
        eprintln!(
            "linkgate: generated root credentials (saved to {}, mode 0600):\n  AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}",
            dir.join("root-credentials").display(),
            root.access_key_id,
            root.secret_access_key
        );
    }
    let (master, master_source) =
        MasterKey::load_or_create(dir, std::env::var("LINKGATE_MASTER_KEY").ok()).map_err(|e| fail("cannot load the master key", &e))?;
    if master_source == MasterKeySource::Generated {
        eprintln!("linkgate: generated a master key at {} (mode 0600); back it up with the database", dir.join("master.key").display());
    }
    Ok(Secrets { root, master })
}

/// Runs `linkgate serve` until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let config = load_config(args)?;
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| CliError::failure(e.to_string()))?;
    runtime.block_on(async move {
        let data_dir = DataDir::open(&config.data_dir).map_err(|e| CliError::failure(e.to_string()))?;
        let secrets = load_secrets(&data_dir)?;
        let listen = config.listen;
        let app = App::open(data_dir, config, secrets, &ProcessEnvironment, Arc::new(SystemClock))
            .await
            .map_err(|e| CliError::failure(e.to_string()))?;
        let listener = crate::http::server::bind(listen).map_err(|e| CliError::failure(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| CliError::failure(e.to_string()))?;
        eprintln!("linkgate listening on http://{addr}");
        app.serve(listener, shutdown_signal()).await.map_err(|e| CliError::failure(format!("server failed: {e}")))
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LINKGATE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
