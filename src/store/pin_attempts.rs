//! PIN attempts in flight: a reservation per attempt so that concurrent
//! guesses from any number of processes never exceed the failure limit,
//! while an attempt that never completes (its process was killed) is never
//! counted as a wrong guess.
//!
//! The rule, kept by every transaction here: with `F` the persisted count
//! of completed wrong guesses and `R` the live reservations of a role,
//! `F + R <= max`. An attempt starts only by reserving a slot while
//! `F + R < max`; it ends by removing its reservation and resetting `F`
//! (right PIN) or incrementing it (wrong PIN) in one transaction. So the
//! number of wrong results ever reported stays `<= max`. A reservation
//! whose owner is dead (pid + process start time, same boot and pid
//! namespace) or whose lease ran out is stale and simply dropped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::rows::{Row, Tx, vals};
use super::schema::TxResult;
use super::seal::PinRecord;
use super::sqlite::{Role, TokenDb, load_pin};
use crate::error::{Error, Result};

/// How long a reservation holds without its owner being provably alive
/// or dead (another host, no /proc, a stopped process). Far longer than
/// the PIN KDF at any sane iteration count.
pub const LEASE: Duration = Duration::from_secs(60);

/// A started attempt: check `pin` against `record`, then finish it.
pub struct PinAttempt {
    pub id: i64,
    pub record: PinRecord,
    pub epoch: i64,
}

impl std::fmt::Debug for PinAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinAttempt").field("id", &self.id).finish()
    }
}

/// What [`TokenDb::begin_pin_attempt`] found.
#[derive(Debug)]
pub enum Begin {
    Started(PinAttempt),
    /// `F >= max`: locked by completed wrong guesses.
    Locked,
    /// Every remaining try is held by an attempt in flight: wait.
    Full,
}

/// What [`TokenDb::finish_pin_attempt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Counted: the failure count is now this value.
    Counted(u32),
    /// Our reservation was gone (dropped as stale) and the PIN locked
    /// meanwhile: the result must not be reported.
    Locked,
    /// Our reservation was gone and no try is free to count a wrong
    /// result: wait and finish again.
    Full,
    /// The PIN record changed (PIN change, re-initialization) while we
    /// checked: the verdict is about a record that no longer exists; start
    /// over. Nothing was counted.
    Stale,
}

/// Who holds a reservation, as far as this process can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    pid: i64,
    /// Start time of the process in clock ticks since boot (/proc stat
    /// field 22): with the pid it names one process, pid reuse excluded.
    started: Option<i64>,
    /// Boot id and pid namespace: pids are comparable only within both.
    host: Option<String>,
}

/// The start time of a running process; `None` if there is none (or it
/// is a zombie: killed, not yet reaped, its attempt is over all the same).
fn stat_start_time(pid: &str) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    // Field 3 (state) was consumed; field 22 is the 19th after it.
    fields.nth(18)?.parse().ok()
}

fn host_id() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.to_string_lossy()))
}

impl Owner {
    /// Read anew on each call: the pid changes across fork().
    fn current() -> Owner {
        Owner {
            pid: i64::from(std::process::id()),
            started: stat_start_time("self"),
            host: host_id(),
        }
    }

    /// `Some(false)` only when provably dead: same boot and pid namespace
    /// and no process with that pid and start time.
    fn alive(pid: i64, started: Option<i64>, host: Option<&str>, ours: &Owner) -> Option<bool> {
        let (Some(started), Some(host), Some(our_host)) = (started, host, ours.host.as_deref())
        else {
            return None;
        };
        if host != our_host {
            return None;
        }
        Some(stat_start_time(&pid.to_string()) == Some(started))
    }
}

fn now_ms() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn lease_ms() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX)
}

/// One `pin_attempt` row: id, pid, started, host, expires.
type Reservation = (i64, i64, Option<i64>, Option<String>, i64);

fn reservation_from_row(r: &Row) -> TxResult<Reservation> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Drops the role's stale reservations and counts the live ones.
fn live_reservations(tx: &dyn Tx, role: Role, ours: &Owner) -> TxResult<u32> {
    let rows = tx
        .query(
            "SELECT id, pid, started, host, expires FROM pin_attempt WHERE role = ?1",
            vals![role.byte()],
        )?
        .iter()
        .map(reservation_from_row)
        .collect::<TxResult<Vec<_>>>()?;
    let now = now_ms();
    let mut live = 0u32;
    for (id, pid, started, host, expires) in rows {
        let dead = Owner::alive(pid, started, host.as_deref(), ours) == Some(false);
        if dead || expires <= now {
            tx.exec("DELETE FROM pin_attempt WHERE id = ?1", vals![id])?;
        } else {
            live = live.saturating_add(1);
        }
    }
    Ok(live)
}

fn failures(tx: &dyn Tx, role: Role) -> TxResult<(u32, i64)> {
    let sql = match role {
        Role::So => "SELECT so_failures, epoch FROM token WHERE id = 1",
        Role::User => "SELECT user_failures, epoch FROM token WHERE id = 1",
    };
    let row = tx
        .query_opt(sql, vals![])?
        .ok_or(Error::UserPinNotInitialized)?;
    let (f, epoch): (i64, i64) = (row.get(0)?, row.get(1)?);
    Ok((u32::try_from(f).map_err(|_| Error::Tampered)?, epoch))
}

fn set_failures(tx: &dyn Tx, role: Role, value: Option<u32>) -> TxResult<u32> {
    // Saturating at u32::MAX; a CASE (not SQLite's two-argument min())
    // so that PostgreSQL runs it too, and no `+ 1` at the limit.
    let sql = match (role, value) {
        (Role::So, None) => {
            "UPDATE token SET so_failures = CASE WHEN so_failures < 4294967295
                 THEN so_failures + 1 ELSE 4294967295 END
             WHERE id = 1 RETURNING so_failures"
        }
        (Role::User, None) => {
            "UPDATE token SET user_failures = CASE WHEN user_failures < 4294967295
                 THEN user_failures + 1 ELSE 4294967295 END
             WHERE id = 1 RETURNING user_failures"
        }
        (Role::So, Some(_)) => {
            "UPDATE token SET so_failures = 0 WHERE id = 1 RETURNING so_failures"
        }
        (Role::User, Some(_)) => {
            "UPDATE token SET user_failures = 0 WHERE id = 1 RETURNING user_failures"
        }
    };
    // No token row: `failures` found it in this transaction, so this is
    // a store not as written (DEVICE_ERROR, as SQLite's "no rows" was).
    let n: i64 = tx
        .query_opt(sql, vals![])?
        .ok_or_else(|| no_row("the token row"))?
        .get(0)?;
    Ok(u32::try_from(n).map_err(|_| Error::Tampered)?)
}

/// A statement that must return a row returned none.
fn no_row(what: &str) -> Error {
    Error::DeviceError.because(&format_args!("{what} was not returned"))
}

impl TokenDb {
    /// Reserves one of `role`'s remaining tries (see the module rule) and
    /// returns the PIN record to check, read in the same transaction.
    pub fn begin_pin_attempt(&self, role: Role, max: u32) -> Result<Begin> {
        let ours = Owner::current();
        self.write(|tx| {
            let (f, epoch) = failures(tx, role)?;
            let record = load_pin(tx, role)?.ok_or(Error::UserPinNotInitialized)?;
            if f >= max {
                return Ok(Begin::Locked);
            }
            let live = live_reservations(tx, role, &ours)?;
            if f.saturating_add(live) >= max {
                return Ok(Begin::Full);
            }
            // The new row's id from RETURNING: what last_insert_rowid()
            // said, in SQL both engines run.
            let id: i64 = tx
                .query_opt(
                    "INSERT INTO pin_attempt (role, token, pid, started, host, expires)
                     VALUES (?1, 1, ?2, ?3, ?4, ?5) RETURNING id",
                    vals![
                        role.byte(),
                        ours.pid,
                        ours.started,
                        &ours.host,
                        now_ms().saturating_add(lease_ms())
                    ],
                )?
                .ok_or_else(|| no_row("the new reservation"))?
                .get(0)?;
            Ok(Begin::Started(PinAttempt {
                id,
                record: record.clone(),
                epoch,
            }))
        })
    }

    /// Ends an attempt: removes its reservation and resets (`correct`) or
    /// increments the failure count, in one transaction.
    pub fn finish_pin_attempt(
        &self,
        role: Role,
        attempt: &PinAttempt,
        correct: bool,
        max: u32,
    ) -> Result<Finish> {
        let ours = Owner::current();
        self.write(|tx| {
            let (f, _) = failures(tx, role)?;
            let current = load_pin(tx, role)?;
            let removed = tx.exec("DELETE FROM pin_attempt WHERE id = ?1", vals![attempt.id])?;
            if current.as_ref() != Some(&attempt.record) {
                return Ok(Finish::Stale);
            }
            if removed == 0 {
                // Our reservation was dropped as stale while we checked:
                // report a result only if counting it keeps the rule.
                if f >= max {
                    return Ok(Finish::Locked);
                }
                if !correct && f.saturating_add(live_reservations(tx, role, &ours)?) >= max {
                    return Ok(Finish::Full);
                }
            }
            let reset = correct.then_some(0);
            Ok(Finish::Counted(set_failures(tx, role, reset)?))
        })
    }

    /// Gives a reservation back uncounted (the check could not be made).
    pub fn abandon_pin_attempt(&self, attempt: &PinAttempt) -> Result<()> {
        self.write(|tx| {
            tx.exec("DELETE FROM pin_attempt WHERE id = ?1", vals![attempt.id])?;
            Ok(())
        })
    }

    /// Live reservations of `role` (tests and diagnostics).
    pub fn pin_attempts_in_flight(&self, role: Role) -> Result<u32> {
        let ours = Owner::current();
        self.write(|tx| live_reservations(tx, role, &ours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::test_entry;
    use crate::store::sqlite::TokenMeta;

    fn pin(tag: u8) -> PinRecord {
        PinRecord {
            salt: vec![tag; 16],
            iterations: 1000,
            wrapped: vec![tag; 60],
        }
    }

    fn fresh() -> (tempfile::TempDir, TokenDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = TokenDb::open(&dir.path().join("t.db")).unwrap();
        let meta = TokenMeta {
            label: [b' '; 32],
            serial: [b'0'; 16],
            so_pin: Some(pin(1)),
            user_pin: Some(pin(2)),
            so_failures: 0,
            user_failures: 0,
            epoch: 7,
        };
        db.initialize(&meta, &[0u8; 60], &test_entry()).unwrap();
        (dir, db)
    }

    fn started(b: Begin) -> PinAttempt {
        match b {
            Begin::Started(a) => a,
            other => panic!("not started: {other:?}"),
        }
    }

    #[test]
    fn reservations_bound_wrong_guesses() {
        let (_d, db) = fresh();
        let a = started(db.begin_pin_attempt(Role::User, 2).unwrap());
        let b = started(db.begin_pin_attempt(Role::User, 2).unwrap());
        assert_eq!(a.record, pin(2));
        assert_eq!(a.epoch, 7);
        // Both tries are in flight: a third waits, it is not locked.
        assert!(matches!(
            db.begin_pin_attempt(Role::User, 2).unwrap(),
            Begin::Full
        ));
        // The SO's tries are separate.
        started(db.begin_pin_attempt(Role::So, 2).unwrap());
        assert_eq!(
            db.finish_pin_attempt(Role::User, &a, false, 2).unwrap(),
            Finish::Counted(1)
        );
        assert!(matches!(
            db.begin_pin_attempt(Role::User, 2).unwrap(),
            Begin::Full
        ));
        assert_eq!(
            db.finish_pin_attempt(Role::User, &b, false, 2).unwrap(),
            Finish::Counted(2)
        );
        assert!(matches!(
            db.begin_pin_attempt(Role::User, 2).unwrap(),
            Begin::Locked
        ));
    }

    #[test]
    fn right_pin_resets_and_abandon_frees() {
        let (_d, db) = fresh();
        let a = started(db.begin_pin_attempt(Role::User, 3).unwrap());
        assert_eq!(
            db.finish_pin_attempt(Role::User, &a, false, 3).unwrap(),
            Finish::Counted(1)
        );
        let b = started(db.begin_pin_attempt(Role::User, 3).unwrap());
        db.abandon_pin_attempt(&b).unwrap();
        assert_eq!(db.pin_attempts_in_flight(Role::User).unwrap(), 0);
        let c = started(db.begin_pin_attempt(Role::User, 3).unwrap());
        assert_eq!(
            db.finish_pin_attempt(Role::User, &c, true, 3).unwrap(),
            Finish::Counted(0)
        );
        assert_eq!(db.meta().unwrap().unwrap().user_failures, 0);
    }

    #[test]
    fn dead_or_expired_owners_are_dropped_uncounted() {
        let (_d, db) = fresh();
        let ours = Owner::current();
        db.write(|tx| {
            // A dead process on this host (pid 0 never has a /proc entry),
            // and a foreign host whose lease ran out.
            tx.exec(
                "INSERT INTO pin_attempt (role, token, pid, started, host, expires)
                 VALUES (1, 1, 0, 5, ?1, ?2), (1, 1, 42, 5, 'elsewhere', 0)",
                vals![&ours.host, now_ms() + lease_ms()],
            )?;
            Ok(())
        })
        .unwrap();
        if ours.host.is_some() {
            assert_eq!(db.pin_attempts_in_flight(Role::User).unwrap(), 0);
        }
        // A live foreign owner within its lease holds its slot.
        db.write(|tx| {
            tx.exec(
                "INSERT INTO pin_attempt (role, token, pid, started, host, expires)
                 VALUES (1, 1, 42, 5, 'elsewhere', ?1)",
                vals![now_ms() + lease_ms()],
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(db.pin_attempts_in_flight(Role::User).unwrap(), 1);
        assert_eq!(db.meta().unwrap().unwrap().user_failures, 0);
    }

    #[test]
    fn a_dropped_reservation_is_revalidated() {
        let (_d, db) = fresh();
        let a = started(db.begin_pin_attempt(Role::User, 1).unwrap());
        db.abandon_pin_attempt(&a).unwrap(); // as if dropped as stale
        let b = started(db.begin_pin_attempt(Role::User, 1).unwrap());
        // The only try is b's: a's wrong result must wait.
        assert_eq!(
            db.finish_pin_attempt(Role::User, &a, false, 1).unwrap(),
            Finish::Full
        );
        assert_eq!(
            db.finish_pin_attempt(Role::User, &b, false, 1).unwrap(),
            Finish::Counted(1)
        );
        assert_eq!(
            db.finish_pin_attempt(Role::User, &a, true, 1).unwrap(),
            Finish::Locked
        );
    }

    #[test]
    fn a_changed_record_makes_the_verdict_stale() {
        let (_d, db) = fresh();
        let a = started(db.begin_pin_attempt(Role::User, 3).unwrap());
        db.set_pin_record(Role::User, &pin(9), &test_entry())
            .unwrap();
        assert_eq!(
            db.finish_pin_attempt(Role::User, &a, false, 3).unwrap(),
            Finish::Stale
        );
        assert_eq!(db.meta().unwrap().unwrap().user_failures, 0);
    }

    /// The failure count saturates at u32::MAX (the CASE that replaced
    /// SQLite's two-argument min()), also from a count stored beyond it.
    #[test]
    fn failures_saturate_at_u32_max() {
        let (_d, db) = fresh();
        for (stored, after) in [
            (4_294_967_293i64, 4_294_967_294u32),
            (4_294_967_294, 4_294_967_295),
            (4_294_967_295, 4_294_967_295),
            (4_294_967_296, 4_294_967_295),
            (i64::MAX, 4_294_967_295),
        ] {
            let n = db
                .write(|tx| {
                    tx.exec(
                        "UPDATE token SET user_failures = ?1 WHERE id = 1",
                        vals![stored],
                    )?;
                    set_failures(tx, Role::User, None)
                })
                .unwrap();
            assert_eq!(n, after, "from {stored}");
        }
        let so = db.write(|tx| set_failures(tx, Role::So, None)).unwrap();
        assert_eq!(so, 1);
        let reset = db
            .write(|tx| set_failures(tx, Role::User, Some(0)))
            .unwrap();
        assert_eq!(reset, 0);
    }

    #[test]
    fn own_start_time_is_readable() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let me = Owner::current();
            assert!(me.started.is_some());
            assert_eq!(
                Owner::alive(me.pid, me.started, me.host.as_deref(), &me),
                Some(true)
            );
        }
    }
}
