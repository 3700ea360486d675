//! Group commit: one thread owns the writer connection and commits queued writes
//! together.
//!
//! Each write is a closure. The thread takes every closure queued since its last
//! round and runs them inside one `BEGIN IMMEDIATE … COMMIT`, then answers each
//! through its oneshot channel: one fsync covers the whole batch. Callers await
//! the answer, so no async worker is blocked while SQLite writes.
//!
//! One failing write must not undo the others. Savepoints would do that, at the
//! price of their statements and of a copy of every page each write touches into
//! the statement journal (a `max_uses` redemption's use and audit row touch four
//! pages) — paid by every write, though writes almost never fail. So a batch is
//! first run plainly; only if a write fails is it rolled back and run again with
//! each write in its own savepoint. Writes are therefore `Fn`: they may run
//! twice, the first run leaving no trace.

use std::sync::mpsc;

use rusqlite::Connection;

use super::store_error;
use crate::store::{StoreError, StoreErrorKind, StoreResult};

/// A queued write.
trait Job: Send {
    /// Runs the write in the open transaction (in a savepoint of its own if
    /// `savepoint`); tells whether it succeeded. May be called again after a
    /// rollback; the last call's result is the one reported.
    fn attempt(&mut self, c: &Connection, savepoint: bool) -> bool;
    /// Reports the last attempt's result, given the commit's error (if any).
    /// Runs after the commit, outside any transaction.
    fn finish(self: Box<Self>, c: &Connection, commit_error: Option<&rusqlite::Error>);
}

/// A write, its last result and who waits for it.
struct Write<T, F, U> {
    what: &'static str,
    f: F,
    unclaimed: U,
    result: Option<rusqlite::Result<T>>,
    answer: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F, U> Job for Write<T, F, U>
where
    T: Send,
    F: Fn(&Connection) -> rusqlite::Result<T> + Send,
    U: FnOnce(&Connection, T) + Send,
{
    fn attempt(&mut self, c: &Connection, savepoint: bool) -> bool {
        let result = if savepoint { in_savepoint(c, &self.f) } else { (self.f)(c) };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, c: &Connection, commit_error: Option<&rusqlite::Error>) {
        let Write { what, unclaimed, result, answer, .. } = *self;
        let result = match (result, commit_error) {
            (Some(Ok(v)), None) => Ok(v),
            (Some(Err(e)), _) => Err(store_error(what, e)),
            (Some(Ok(_)), Some(e)) => {
                Err(StoreError::new(StoreErrorKind::Unavailable, format!("{what}: the group commit failed: {e}"), None))
            }
            (None, _) => Err(StoreError::new(StoreErrorKind::Unavailable, format!("{what}: not run"), None)),
        };
        if let Err(Ok(value)) = answer.send(result) {
            unclaimed(c, value);
        }
    }
}

/// The sending side of the committer thread; the thread ends when it is dropped.
pub(super) struct Committer {
    queue: mpsc::Sender<Box<dyn Job>>,
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
    /// waits for any more goes to `unclaimed`. `f` may run more than once (see
    /// the module doc); only its last run's writes stay.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
        unclaimed: impl FnOnce(&Connection, T) + Send + 'static,
    ) -> StoreResult<T> {
        let (answer, rx) = tokio::sync::oneshot::channel();
        let job = Box::new(Write { what, f, unclaimed, result: None, answer });
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
fn in_savepoint<T>(c: &Connection, f: impl Fn(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
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

fn begin(c: &Connection) -> bool {
    c.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).is_ok()
}

/// Commits batches until the sending side is dropped.
fn commit_loop(conn: &Connection, jobs: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        let commit_error = commit_batch(conn, &mut batch);
        for job in batch {
            job.finish(conn, commit_error.as_ref());
        }
    }
}

/// Runs a batch and commits it; the commit's error, if any.
fn commit_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Option<rusqlite::Error> {
    if begin(conn) {
        if batch.iter_mut().all(|job| job.attempt(conn, false)) {
            return commit(conn);
        }
        // A write failed, so the batch's work is undone. Alone, it has its
        // error and nothing else is lost; with others, they run again.
        let _ = conn.execute_batch("ROLLBACK");
        if batch.len() == 1 {
            return None;
        }
    }
    // Each write in a savepoint of its own; without a transaction each savepoint
    // commits on its own: slower, still correct.
    let in_transaction = begin(conn);
    for job in batch.iter_mut() {
        job.attempt(conn, true);
    }
    if in_transaction { commit(conn) } else { None }
}

/// Commits the open transaction (rolling back if that fails); the error, if any.
fn commit(conn: &Connection) -> Option<rusqlite::Error> {
    conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).err().inspect(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })
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

    /// In a batch, a failing write is undone alone: the batch is rolled back and
    /// the others run again, each in a savepoint.
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
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let mut fine = Box::pin(committer.run(
            "ok",
            move |c| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                c.execute("INSERT INTO t (v) VALUES (3)", []).map(drop)
            },
            |_, _| {},
        ));
        // Queued first, so it has run when the failing one fails.
        assert!((&mut fine).now_or_never().is_none());
        let mut failing = Box::pin(committer.run("fail", |c| insert_then_fail(c, 2), |_, _| {}));
        assert!((&mut failing).now_or_never().is_none());
        release.send(()).unwrap();
        first.await.unwrap();
        assert!(failing.await.is_err());
        fine.await.unwrap();
        assert_eq!(rows(&reader), [1, 3], "the failed write left nothing, the other's second run stayed once");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2, "run plainly, then again in a savepoint");
    }
}
