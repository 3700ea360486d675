//! Group commit: one thread owns the writer connection and commits queued writes
//! together.
//!
//! Each write is a closure. The thread takes every closure queued since its last
//! round, runs them inside one `BEGIN IMMEDIATE … COMMIT`, each in its own
//! savepoint (one failing does not undo the others), and then answers each through
//! its oneshot channel: one fsync covers the whole batch. Callers await the answer,
//! so no async worker is blocked while SQLite writes.
//!
//! A batch of one write needs no savepoint: if it fails, the whole transaction is
//! rolled back instead. That spares the savepoint's statements and the copy of
//! every page it touches into the statement journal (measured with callgrind on
//! sequential `max_uses` redemptions, whose use and audit row touch four pages).

use std::sync::mpsc;

use rusqlite::Connection;

use super::store_error;
use crate::store::{StoreError, StoreErrorKind, StoreResult};

/// A queued write: runs inside the shared transaction and returns how to report
/// its result once the commit is known.
type Job = Box<dyn FnOnce(&Connection, Isolation) -> Ran + Send>;

/// How a job is kept from undoing the other writes of its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isolation {
    /// It shares the transaction: it runs in its own savepoint.
    Savepoint,
    /// It is the transaction's only write: if it fails, the transaction is
    /// rolled back.
    Alone,
}

/// A job that has run: whether it failed, and how to report it.
struct Ran {
    failed: bool,
    finish: Finish,
}
/// Reports a queued write's result, given the commit's error (if any); runs
/// after the commit, outside any transaction.
type Finish = Box<dyn FnOnce(&Connection, Option<&rusqlite::Error>) + Send>;

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

    /// Queues `f` and waits until the transaction holding it is durable. The
    /// write is queued when the returned future is first polled and goes ahead
    /// even if the future is dropped afterwards; a successful result nobody
    /// waits for any more goes to `unclaimed`.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        unclaimed: impl FnOnce(&Connection, T) + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c: &Connection, isolation: Isolation| -> Ran {
            let result = match isolation {
                Isolation::Savepoint => in_savepoint(c, f),
                Isolation::Alone => f(c),
            };
            let failed = result.is_err();
            let finish: Finish = Box::new(move |c: &Connection, commit_error: Option<&rusqlite::Error>| {
                let result = match (result, commit_error) {
                    (Ok(v), None) => Ok(v),
                    (Err(e), _) => Err(store_error(what, e)),
                    (Ok(_), Some(e)) => {
                        Err(StoreError::new(StoreErrorKind::Unavailable, format!("{what}: the group commit failed: {e}"), None))
                    }
                };
                if let Err(Ok(value)) = tx.send(result) {
                    unclaimed(c, value);
                }
            });
            Ran { failed, finish }
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
        let isolation = if in_transaction && batch.len() == 1 { Isolation::Alone } else { Isolation::Savepoint };
        let ran: Vec<Ran> = batch.into_iter().map(|job| job(conn, isolation)).collect();
        if isolation == Isolation::Alone && ran.iter().any(|r| r.failed) {
            // The only write failed: nothing of it may stay (its own error is reported).
            let _ = conn.execute_batch("ROLLBACK");
            ran.into_iter().for_each(|r| (r.finish)(conn, None));
            continue;
        }
        let finishes: Vec<Finish> = ran.into_iter().map(|r| r.finish).collect();
        let commit_error = if in_transaction {
            conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).err().inspect(|_| {
                let _ = conn.execute_batch("ROLLBACK");
            })
        } else {
            None
        };
        for finish in finishes {
            finish(conn, commit_error.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    fn committer() -> (Committer, Connection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = super::super::connect(&path).unwrap();
        writer.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)").unwrap();
        let reader = super::super::connect(&path).unwrap();
        (Committer::start(writer).unwrap(), reader, dir)
    }

    fn rows(c: &Connection) -> Vec<i64> {
        let mut s = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
        s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    fn insert_then_fail(c: &Connection, v: i64) -> rusqlite::Result<()> {
        c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        Err(rusqlite::Error::QueryReturnedNoRows)
    }

    /// A lone write runs without a savepoint: what it wrote before failing must
    /// still be undone, and the next write must work.
    #[tokio::test]
    async fn a_failing_lone_write_leaves_nothing() {
        let (committer, reader, _dir) = committer();
        assert!(committer.run("fail", |c| insert_then_fail(c, 1), |_, _| {}).await.is_err());
        assert_eq!(rows(&reader), Vec::<i64>::new());
        committer.run("ok", |c| c.execute("INSERT INTO t (v) VALUES (2)", []).map(drop), |_, _| {}).await.unwrap();
        assert_eq!(rows(&reader), [2]);
    }

    /// In a batch, a failing write is undone alone.
    #[tokio::test]
    async fn a_failing_write_in_a_batch_undoes_only_itself() {
        let (committer, reader, _dir) = committer();
        let (started_tx, started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        // The first write holds the committer until the next two are queued, so
        // they share the following transaction.
        let mut first = Box::pin(committer.run(
            "hold",
            move |c| {
                started_tx.send(()).unwrap();
                released.recv().unwrap();
                c.execute("INSERT INTO t (v) VALUES (1)", []).map(drop)
            },
            |_, _| {},
        ));
        assert!((&mut first).now_or_never().is_none());
        started.recv().unwrap();
        let mut failing = Box::pin(committer.run("fail", |c| insert_then_fail(c, 2), |_, _| {}));
        let mut fine = Box::pin(committer.run("ok", |c| c.execute("INSERT INTO t (v) VALUES (3)", []).map(drop), |_, _| {}));
        assert!((&mut failing).now_or_never().is_none());
        assert!((&mut fine).now_or_never().is_none());
        release.send(()).unwrap();
        first.await.unwrap();
        assert!(failing.await.is_err());
        fine.await.unwrap();
        assert_eq!(rows(&reader), [1, 3]);
    }
}
