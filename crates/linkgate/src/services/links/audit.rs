//! One redemption's audit row: written with the use it records, or appended when
//! the answer is known.

use std::sync::Arc;

use crate::store::links::{AuditRecord, AuditSettle};
use crate::store::write_behind::BufferedLinks;

/// Where a redemption's audit row stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditSlot {
    /// Written durably with the use ([`crate::store::links::LinkStore::consume`]),
    /// saying what was about to be answered (the row's id and its status, outcome
    /// and bytes); settled if the answer turns out otherwise (the client left
    /// early, the upload failed, the upstream answered).
    Written(AuditSettle),
    /// Not written yet: appended (buffered) once the answer is known.
    Pending,
}

/// Writes the audit rows of one redemption: everything but the status, outcome
/// and bytes is fixed when the request arrives.
#[derive(Clone)]
pub struct Auditor {
    buffer: Arc<BufferedLinks>,
    template: AuditRecord,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").field("link", &self.template.link_id).finish_non_exhaustive()
    }
}

impl Auditor {
    /// An auditor for attempts described by `template` (its status, outcome and
    /// bytes are replaced by each row).
    pub fn new(buffer: Arc<BufferedLinks>, template: AuditRecord) -> Self {
        Self { buffer, template }
    }

    /// The row this attempt would write with this answer.
    pub fn row(&self, status: u16, outcome: &str, bytes: u64) -> AuditRecord {
        AuditRecord { status, outcome: outcome.to_owned(), bytes, ..self.template.clone() }
    }

    /// Records the final answer: settles a written row if it says otherwise, or
    /// appends a new one. Never fails the request (the answer was already
    /// decided); does not wait. The last thing an auditor does, so the new row
    /// takes its template instead of a copy.
    pub fn finish(self, slot: &AuditSlot, status: u16, outcome: &str, bytes: u64) {
        match slot {
            AuditSlot::Written(said) => {
                if (said.status, said.outcome.as_str(), said.bytes) != (status, outcome, bytes) {
                    self.buffer.push_settle(AuditSettle { id: said.id, status, outcome: outcome.to_owned(), bytes });
                }
            }
            AuditSlot::Pending => self.buffer.push_audit(AuditRecord { status, outcome: outcome.to_owned(), bytes, ..self.template }),
        }
    }
}
