//! The real `linkgate` binary: as a server process (for crashes, restarts and a
//! second server on one data dir), and as the CLI against a [`TestServer`](super::TestServer).

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sigv4::AmzDate;

use super::{ACCESS_KEY, REGION, SECRET_KEY, Target, sdk_client};

/// A `linkgate serve` child process; killed (SIGKILL) and reaped on drop, whatever
/// happened in the test.
pub struct BinServer {
    child: Option<Child>,
    /// Where it listens, once it said so.
    pub addr: Option<SocketAddr>,
    /// Its data dir.
    pub data_dir: PathBuf,
    stderr: Arc<Mutex<String>>,
    listening: std::sync::mpsc::Receiver<SocketAddr>,
}

impl BinServer {
    /// Spawns `linkgate serve --listen 127.0.0.1:0 --data-dir DIR` with the test
    /// root credentials (when `root_env`) and `env`; no other `LINKGATE_*` variable
    /// of this process leaks in. Does not wait.
    pub fn spawn(data_dir: &Path, env: &[(&str, &str)], root_env: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_linkgate"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("LINKGATE_") {
                cmd.env_remove(k);
            }
        }
        if root_env {
            cmd.env("LINKGATE_ROOT_ACCESS_KEY", ACCESS_KEY).env("LINKGATE_ROOT_SECRET_KEY", SECRET_KEY);
        }
        cmd.env("LINKGATE_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("linkgate listening on http://")
                    && let Ok(addr) = a.trim().parse::<SocketAddr>()
                {
                    let _ = tx.send(addr);
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self { child: Some(child), addr: None, data_dir: data_dir.to_path_buf(), stderr, listening: rx }
    }

    /// Spawns and waits (up to 30 s) until it listens.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut s = Self::spawn(data_dir, env, true);
        s.wait_listening(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        s
    }

    /// Waits until the process says where it listens.
    pub fn wait_listening(&mut self, wait: Duration) -> Result<SocketAddr, String> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(addr) = self.listening.recv_timeout(Duration::from_millis(50)) {
                self.addr = Some(addr);
                return Ok(addr);
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("linkgate exited ({status}) before listening; stderr:\n{}", self.stderr()));
            }
        }
        Err(format!("linkgate did not listen within {wait:?}; stderr:\n{}", self.stderr()))
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("not listening")
    }

    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `wait` for the process to exit.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SDK client with the root credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        sdk_client(&self.endpoint(), ACCESS_KEY, SECRET_KEY)
    }
}

/// A server process, on the real clock.
impl Target for BinServer {
    fn addr(&self) -> SocketAddr {
        BinServer::addr(self)
    }

    fn now(&self) -> AmzDate {
        AmzDate::now()
    }
}

impl Drop for BinServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The CLI with a clean environment: only `HOME` (an empty directory, so no
/// `~/.aws` of the developer's leaks in), the root access key with `secret`, and
/// the region. The caller adds the arguments and how the endpoint is named.
pub fn cli(home: &Path, secret: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_linkgate"));
    cmd.env_clear().env("HOME", home).env("AWS_ACCESS_KEY_ID", ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", secret).env("AWS_REGION", REGION);
    cmd
}

/// Runs `cmd` off the runtime's threads with `stdin` piped to it (then closed);
/// returns what it printed and its exit status.
pub async fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let input = stdin.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        // The CLI may exit before reading everything (a usage error): ignore EPIPE.
        let _ = pipe.write_all(&input);
        drop(pipe);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// Bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stdout of a run that must succeed.
#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", out.status, text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// Stderr of a run that must fail with exit code `code`.
#[track_caller]
pub fn fails(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stderr)
}
