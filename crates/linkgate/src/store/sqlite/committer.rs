//! Group commit: one thread owns the writer connection and commits queued writes
//! together.
//!
//! Each write is a closure. The thread takes every closure queued since its last
//! round, runs them inside one `BEGIN IMMEDIATE … COMMIT`, each in its own
//! savepoint (one failing does not undo the others), and then answers each through
//! its oneshot channel: one fsync covers the whole batch. Callers await the answer,
//! so no async worker is blocked while SQLite writes.

use std::sync::mpsc;

use rusqlite::Connection;

use super::store_error;
use crate::store::{StoreError, StoreErrorKind, StoreResult};

/// A queued write: runs inside the shared transaction and returns how to report
/// its result once the commit is known.
type Job = Box<dyn FnOnce(&Connection) -> Finish + Send>;
/// Reports a queued write's result, given the commit's error (if any).
type Finish = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// The sending side of the committer thread; the thread ends when it is dropped.
pub(super) struct Committer {
    queue: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the thread that owns `writer`.
    pub(super) fn start(writer: Connection) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel();
        std::thread::Builder::new().name("sqlite-commit".into()).spawn(move || commit_loop(&writer, &jobs))?;
        Ok(Self { queue })
    }

    /// Queues `f` and waits until the transaction holding it is durable.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c: &Connection| -> Finish {
            let result = in_savepoint(c, f);
            Box::new(move |commit_error: Option<&rusqlite::Error>| {
                let result = match (result, commit_error) {
                    (Ok(v), None) => Ok(v),
                    (Err(e), _) => Err(store_error(what, e)),
                    (Ok(_), Some(e)) => {
                        Err(StoreError::new(StoreErrorKind::Unavailable, format!("{what}: the group commit failed: {e}"), None))
                    }
                };
                let _ = tx.send(result);
            })
        });
        if self.queue.send(job).is_err() {
            return Err(stopped());
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, "the database committer thread has stopped", None)
}

/// Runs `f` inside `SAVEPOINT job … RELEASE job`, rolling back to the savepoint
/// if it fails.
fn in_savepoint<T>(c: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    c.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(c) {
        Ok(v) => {
            c.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

/// Commits batches until the sending side is dropped.
fn commit_loop(conn: &Connection, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        // Without a transaction each savepoint commits on its own: slower, still correct.
        let in_transaction = conn.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).is_ok();
        let finishes: Vec<Finish> = batch.into_iter().map(|job| job(conn)).collect();
        let commit_error = if in_transaction {
            conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).err().inspect(|_| {
                let _ = conn.execute_batch("ROLLBACK");
            })
        } else {
            None
        };
        for finish in finishes {
            finish(commit_error.as_ref());
        }
    }
}
