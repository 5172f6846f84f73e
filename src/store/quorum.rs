//! The separation-of-duties rows: the MAC'd roster-and-rules row, requests
//! and the officers' votes. Every write re-checks, inside its transaction,
//! what it depends on (the roster it replaces, a request still open, a
//! request never executed before), and appends its audit record there.

use super::audit::{self, AuditEntry};
use super::db::TokenDb;
use super::rows::{Dialect, Row, Tx, vals};
use super::schema::TxResult;
use crate::error::{Error, Result};
use crate::quorum::{Request, Vote};

/// The `quorum` row as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct QuorumRow {
    pub key_wrapped: Vec<u8>,
    pub config: Vec<u8>,
    pub mac: Vec<u8>,
}

impl std::fmt::Debug for QuorumRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuorumRow(..)")
    }
}

const SELECT_REQUEST: &str = "SELECT id, nonce, op, target, about, requester, reason, created,
     expires, state FROM quorum_request";

fn request_of(r: &Row) -> TxResult<Request> {
    Ok(Request {
        id: r.get(0)?,
        nonce: r.get(1)?,
        op: r.get(2)?,
        target: r.get(3)?,
        about: r.get(4)?,
        requester: r.get(5)?,
        reason: r.get(6)?,
        created: r.get(7)?,
        expires: r.get(8)?,
        state: r.get(9)?,
    })
}

fn row_in(tx: &dyn Tx) -> TxResult<Option<QuorumRow>> {
    tx.query_opt(
        "SELECT key_wrapped, config, mac FROM quorum WHERE id = 1",
        vals![],
    )?
    .map(|r| {
        Ok(QuorumRow {
            key_wrapped: r.get(0)?,
            config: r.get(1)?,
            mac: r.get(2)?,
        })
    })
    .transpose()
}

fn request_in(tx: &dyn Tx, id: i64) -> TxResult<Option<Request>> {
    tx.query_opt(&format!("{SELECT_REQUEST} WHERE id = ?1"), vals![id])?
        .map(|r| request_of(&r))
        .transpose()
}

/// Replaces the `quorum` row, which must still be `old`.
pub(super) fn replace_in(tx: &dyn Tx, old: &QuorumRow, new: &QuorumRow) -> TxResult<()> {
    if row_in(tx)?.as_ref() != Some(old) {
        return Err(Error::FunctionFailed
            .because(&"the officers or rules changed meanwhile; try again")
            .into());
    }
    tx.exec(
        "UPDATE quorum SET key_wrapped = ?1, config = ?2, mac = ?3 WHERE id = 1",
        vals![&new.key_wrapped, &new.config, &new.mac],
    )?;
    Ok(())
}

/// The trail already records an execution of the request with this
/// nonce: the `state` column can be edited back, the append-only chain
/// cannot (without `audit verify` seeing it).
fn executed_before(tx: &dyn Tx, nonce_hex: &str) -> TxResult<bool> {
    // The event is a literal so that the partial index `audit_quorum`
    // serves the lookup; the nonce is searched for as bytes in the body.
    let sql = match tx.dialect() {
        Dialect::Sqlite => {
            "SELECT 1 FROM audit WHERE event = 'quorum_executed'
             AND instr(body, CAST(?1 AS BLOB)) > 0"
        }
        Dialect::Postgres => {
            "SELECT 1 FROM audit WHERE event = 'quorum_executed'
             AND position(CAST(?1 AS BYTEA) in body) > 0"
        }
    };
    tx.exists(sql, vals![nonce_hex.as_bytes()])
}

impl TokenDb {
    pub fn quorum_row(&self) -> Result<Option<QuorumRow>> {
        self.read(row_in)
    }

    /// Replaces the roster-and-rules row, if it is still `expected` (what
    /// the caller checked and changed), with its audit record.
    pub fn set_quorum_row(
        &self,
        expected: Option<&QuorumRow>,
        row: &QuorumRow,
        record: &AuditEntry,
    ) -> Result<()> {
        self.write(|tx| {
            if row_in(tx)?.as_ref() != expected {
                return Err(Error::FunctionFailed
                    .because(&"the officers or rules changed meanwhile; try again")
                    .into());
            }
            tx.exec(
                "INSERT INTO quorum (id, key_wrapped, config, mac) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET key_wrapped = excluded.key_wrapped,
                     config = excluded.config, mac = excluded.mac",
                vals![&row.key_wrapped, &row.config, &row.mac],
            )?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// Stores a new request (its id is the next free one) with its record;
    /// returns the id. `fill` gets the id to finish the record.
    pub fn insert_request(&self, req: &Request, record: &dyn Fn(i64) -> AuditEntry) -> Result<i64> {
        self.write(|tx| {
            let id: i64 = tx
                .query_opt(
                    "SELECT COALESCE(MAX(id), 0) + 1 FROM quorum_request",
                    vals![],
                )?
                .map(|r| r.get(0))
                .transpose()?
                .unwrap_or(1);
            tx.exec(
                "INSERT INTO quorum_request (id, nonce, op, target, about, requester, reason,
                     created, expires, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending')",
                vals![
                    id,
                    &req.nonce,
                    req.op.as_str(),
                    req.target.as_str(),
                    req.about.as_str(),
                    req.requester.as_str(),
                    req.reason.as_str(),
                    req.created,
                    req.expires
                ],
            )?;
            audit::append(tx, &record(id))?;
            Ok(id)
        })
    }

    pub fn requests(&self) -> Result<Vec<Request>> {
        self.read(|tx| {
            tx.query(&format!("{SELECT_REQUEST} ORDER BY id"), vals![])?
                .iter()
                .map(request_of)
                .collect()
        })
    }

    pub fn request(&self, id: i64) -> Result<Option<Request>> {
        self.read(|tx| request_in(tx, id))
    }

    /// Open requests for exactly this operation and target, oldest first.
    pub fn requests_for(&self, op: &str, target: &str) -> Result<Vec<Request>> {
        self.read(|tx| {
            tx.query(
                &format!(
                    "{SELECT_REQUEST} WHERE op = ?1 AND target = ?2
                     AND state IN ('pending', 'approved') ORDER BY id"
                ),
                vals![op, target],
            )?
            .iter()
            .map(request_of)
            .collect()
        })
    }

    pub fn votes(&self, request: i64) -> Result<Vec<Vote>> {
        self.read(|tx| {
            tx.query(
                "SELECT officer, decision, time, signature FROM quorum_vote
                 WHERE request = ?1 ORDER BY time, officer",
                vals![request],
            )?
            .iter()
            .map(|r| {
                Ok(Vote {
                    officer: r.get(0)?,
                    decision: r.get(1)?,
                    time: r.get(2)?,
                    signature: r.get(3)?,
                })
            })
            .collect()
        })
    }

    /// Stores an officer's vote on `req` (unchanged since it was signed,
    /// still open, not voted on by this officer), sets the request's
    /// `state` hint, and appends the record.
    pub fn add_vote(
        &self,
        req: &Request,
        vote: &Vote,
        state: &str,
        now_ms: i64,
        record: &AuditEntry,
    ) -> Result<()> {
        self.write(|tx| {
            let current = request_in(tx, req.id)?;
            let Some(current) = current.filter(|c| c.nonce == req.nonce) else {
                return Err(Error::ArgumentsBad
                    .because(&format_args!("request {} no longer exists", req.id))
                    .into());
            };
            if current != *req {
                return Err(Error::FunctionFailed
                    .because(&format_args!("request {} changed meanwhile", req.id))
                    .into());
            }
            if !matches!(current.state.as_str(), "pending" | "approved")
                || now_ms >= current.expires
            {
                return Err(Error::ActionProhibited
                    .because(&format_args!(
                        "request {} is {}",
                        req.id,
                        current.shown_state(now_ms)
                    ))
                    .into());
            }
            if tx.exists(
                "SELECT 1 FROM quorum_vote WHERE request = ?1 AND officer = ?2",
                vals![req.id, vote.officer.as_str()],
            )? {
                return Err(Error::ActionProhibited
                    .because(&format_args!(
                        "{} already voted on request {}",
                        vote.officer, req.id
                    ))
                    .into());
            }
            tx.exec(
                "INSERT INTO quorum_vote (request, officer, decision, time, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                vals![
                    req.id,
                    vote.officer.as_str(),
                    vote.decision.as_str(),
                    vote.time,
                    &vote.signature
                ],
            )?;
            tx.exec(
                "UPDATE quorum_request SET state = ?2 WHERE id = ?1",
                vals![req.id, state],
            )?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// Marks open request `id` expired (if it still is open and past
    /// `now_ms`), with its record; `false` if another process did first.
    pub fn expire_request(&self, id: i64, now_ms: i64, record: &AuditEntry) -> Result<bool> {
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE quorum_request SET state = 'expired'
                 WHERE id = ?1 AND state IN ('pending', 'approved') AND expires <= ?2",
                vals![id, now_ms],
            )?;
            if n == 0 {
                return Ok(false);
            }
            audit::append(tx, record)?;
            Ok(true)
        })
    }

    /// Uses up an approved request: inside the transaction the request must
    /// be exactly the one whose votes were verified (against the roster
    /// row `roster`, still the stored one), carry no vote that was not
    /// counted (a late denial), and never have been executed —
    /// by its state or by the trail. Marks it executed and appends the
    /// execution record (which names the nonce).
    pub fn consume_request(
        &self,
        req: &Request,
        votes_seen: usize,
        roster: Option<&QuorumRow>,
        nonce_hex: &str,
        record: &AuditEntry,
    ) -> Result<()> {
        self.write(|tx| {
            let current = request_in(tx, req.id)?;
            // The votes were checked against `roster`: an officer removed
            // (or a rule raised) since must not count.
            let unchanged = current.as_ref() == Some(req) && row_in(tx)?.as_ref() == roster;
            let votes: i64 = tx
                .query_opt(
                    "SELECT count(*) FROM quorum_vote WHERE request = ?1",
                    vals![req.id],
                )?
                .map(|r| r.get(0))
                .transpose()?
                .unwrap_or(0);
            if !unchanged
                || usize::try_from(votes).ok() != Some(votes_seen)
                || req.state == "executed"
                || executed_before(tx, nonce_hex)?
            {
                return Err(Error::ActionProhibited
                    .because(&format_args!(
                        "request {} changed, or was used, meanwhile",
                        req.id
                    ))
                    .into());
            }
            tx.exec(
                "UPDATE quorum_request SET state = 'executed' WHERE id = ?1",
                vals![req.id],
            )?;
            audit::append(tx, record)?;
            Ok(())
        })
    }
}
