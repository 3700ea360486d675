//! `linkgate serve`: run the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use crate::auth::authority::Authority;
use crate::auth::secrets::{MasterKey, MasterKeySource};
use crate::auth::{RootCredentials, RootSource};
use crate::config::Config;
use crate::credentials::{Environment, ProcessEnvironment};
use crate::http::upstream::Upstreams;
use crate::http::{self, AppState};
use crate::objects::FsObjects;
use crate::store::cached::CachedStore;
use crate::store::sqlite::SqliteStore;

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

/// Opens the stores and builds the shared state.
pub fn build_state(config: Config) -> Result<Arc<AppState>, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::failure(format!("{what}: {e}"));
    std::fs::create_dir_all(&config.data_dir).map_err(|e| fail(&format!("cannot create data dir {}", config.data_dir.display()), &e))?;
    let (root, source) = RootCredentials::load_or_create(
        &config.data_dir,
        std::env::var("LINKGATE_ROOT_ACCESS_KEY").ok(),
        std::env::var("LINKGATE_ROOT_SECRET_KEY").ok(),
    )
    .map_err(|e| fail("cannot load root credentials", &e))?;
    if source == RootSource::Generated {
        eprintln!(
            "linkgate: generated root credentials (saved to {}, mode 0600):\n  AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}",
            config.data_dir.join("root-credentials").display(),
            root.access_key_id,
            root.secret_access_key
        );
    }
    let (master, master_source) = MasterKey::load_or_create(&config.data_dir, std::env::var("LINKGATE_MASTER_KEY").ok())
        .map_err(|e| fail("cannot load the master key", &e))?;
    if master_source == MasterKeySource::Generated {
        eprintln!(
            "linkgate: generated a master key at {} (mode 0600); back it up with the database",
            config.data_dir.join("master.key").display()
        );
    }
    open_state(config, root, master)
}

/// Opens the embedded stores under `config.data_dir` and builds the shared state.
/// Tests use this with their own root credentials and master key.
pub fn open_state(config: Config, root: RootCredentials, master: MasterKey) -> Result<Arc<AppState>, CliError> {
    open_state_in(config, root, master, &ProcessEnvironment)
}

/// [`open_state`], with upstream credentials (`[[upstreams]]`, `credentials = "env"`
/// or `"profile:NAME"`) read from `env` instead of the process environment.
pub fn open_state_in(config: Config, root: RootCredentials, master: MasterKey, env: &dyn Environment) -> Result<Arc<AppState>, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| CliError::failure(format!("{what}: {e}"));
    let upstreams = Upstreams::resolve(&config.upstreams, env).map_err(|e| CliError::usage(format!("invalid configuration: {e}")))?;
    let db = config.sqlite_path().map_err(|e| CliError::usage(e.to_string()))?;
    let store = Arc::new(SqliteStore::open(&db).map_err(|e| fail(&format!("cannot open database {}", db.display()), &e))?);
    let authority = Authority::new(root.clone(), store.clone(), Arc::new(master));
    let links: Arc<dyn crate::store::links::LinkStore> = store.clone();
    // The embedded store has one writer (this process), so caching reads is coherent.
    let store = CachedStore::new(store, 100_000);
    let objects = FsObjects::open(&config.data_dir).map_err(|e| fail("cannot open object directory", &e))?;
    Ok(Arc::new(AppState {
        link_guards: crate::links::guard::LinkGuards::new(&config.limits),
        config,
        store: Arc::new(store),
        objects,
        links,
        authority: Arc::new(authority),
        signing_keys: sigv4::SigningKeyCache::default(),
        root,
        upstreams,
    }))
}

/// Runs `linkgate serve` until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let config = load_config(args)?;
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| CliError::failure(e.to_string()))?;
    runtime.block_on(async move {
        let listen = config.listen;
        let state = build_state(config)?;
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| CliError::failure(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| CliError::failure(e.to_string()))?;
        eprintln!("linkgate listening on http://{addr}");
        http::serve(listener, state, shutdown_signal()).await.map_err(|e| CliError::failure(format!("server failed: {e}")))
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
