//! Encrypted backups of a token file: a consistent online snapshot of a
//! live token database, sealed under a passphrase (crypto in `seal.rs`)
//! or under a random key split among custodians (`backup/split.rs`),
//! verified and restored without ever writing the plain snapshot to disk.
//! The file format is in `docs/FORMAT.md`, section "Backup files".

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, MAIN_DB, OpenFlags, OptionalExtension};
use zeroize::Zeroizing;

mod from_rows;
mod header;
mod image;
mod place;
mod share_file;
mod split;

pub use from_rows::{create_of, create_split_of};

pub use image::{Image, LiveHead};
pub use share_file::TextProblem;
pub use split::{
    GivenShare, SPLIT_FORMAT_VERSION, ShareOut, ShareProblem, SplitCreated, SplitInfo,
    SplitRequest, combine_shares, read_shares, share_path, split_of,
};

use header::Header;
use place::{parent, place_file, refuse_existing};

use super::schema::{APPLICATION_ID, SCHEMA_VERSION, create_private_dir};
use super::seal::{self, MAX_ITERATIONS};
use crate::error::Error;

/// First bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"KWBACKUP";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Pages copied per backup step: small enough for smooth progress.
const PAGES_PER_STEP: c_int = 64;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits between backup steps that found the source busy (~10 s in all).
const BUSY_SLEEP: Duration = Duration::from_millis(10);
const BUSY_STEPS: u32 = 1000;

/// What a backup holds, from its authenticated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// When the snapshot was taken, seconds since the Unix epoch.
    pub created: u64,
    /// Token label, trailing blanks removed.
    pub label: String,
    /// Token serial number, trailing blanks removed.
    pub serial: String,
    /// Number of object rows.
    pub objects: u64,
    /// Size of the database snapshot (the decrypted payload) in bytes.
    pub bytes: u64,
}

/// Why a backup could not be created, verified or restored. The `Display`
/// text is meant for the admin CLI's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupError {
    NotABackup,
    UnsupportedVersion(u8),
    WrongPassphraseOrDamaged,
    NotAToken(String),
    Exists(PathBuf),
    Io(String),
    Store(Error),
    /// The SO PIN that opened the live token does not open the backup.
    BackupSoPin,
    /// The live token changed between the loss report and the restore.
    Changed,
    /// A share file given for a split backup is at fault (named).
    Share {
        file: PathBuf,
        problem: ShareProblem,
    },
    /// Fewer shares than the split backup's threshold were given.
    TooFewShares {
        given: usize,
        threshold: u8,
        count: u8,
    },
    /// The shares recombined to a key that does not open the backup.
    SharesDoNotOpen,
    /// A passphrase was given for a backup split into shares.
    SplitBackup {
        threshold: u8,
        count: u8,
    },
    /// Shares were given for a backup sealed under a passphrase.
    NotSplit,
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::NotABackup => f.write_str("this file is not a Keyward backup"),
            BackupError::UnsupportedVersion(v) => write!(
                f,
                "backup format version {v} is not supported by this Keyward (it reads versions \
                 {FORMAT_VERSION} and {SPLIT_FORMAT_VERSION})"
            ),
            BackupError::WrongPassphraseOrDamaged => {
                f.write_str("wrong backup passphrase, or the backup file is damaged")
            }
            BackupError::NotAToken(why) => write!(f, "not a usable Keyward token database: {why}"),
            BackupError::Exists(path) => write!(
                f,
                "{} already exists; refusing to overwrite it",
                path.display()
            ),
            BackupError::Io(why) => write!(f, "I/O error: {why}"),
            BackupError::Store(e) => write!(f, "token store error: {e} (CKR 0x{:X})", e.rv()),
            BackupError::BackupSoPin => f.write_str(
                "the SO PIN does not open the backup (its SO PIN was changed after the backup \
                 was taken): give the backup's SO PIN in KEYWARD_BACKUP_SO_PIN",
            ),
            BackupError::Changed => f.write_str(
                "the token changed (its audit trail grew) after the loss report was made; \
                 nothing was restored: run the restore again to see the new report",
            ),
            BackupError::Share { file, problem } => {
                write!(f, "share {}: {problem}", file.display())
            }
            BackupError::TooFewShares {
                given,
                threshold,
                count,
            } => write!(
                f,
                "this backup is split into {count} shares and needs {threshold} of them \
                 (threshold {threshold}); {given} given"
            ),
            BackupError::SharesDoNotOpen => f.write_str(
                "the shares given recombine to a key that does not open this backup: one of \
                 them has a valid checksum but wrong content, or the backup file is damaged",
            ),
            BackupError::SplitBackup { threshold, count } => write!(
                f,
                "this backup is split into {count} shares: give {threshold} of them with \
                 --share FILE (no backup passphrase opens it)"
            ),
            BackupError::NotSplit => f.write_str(
                "this backup is sealed under a passphrase, not split into shares: give its \
                 passphrase instead of --share",
            ),
        }
    }
}

impl std::error::Error for BackupError {}

impl From<rusqlite::Error> for BackupError {
    // SQLite messages name tables and paths, never PINs or key bytes.
    fn from(e: rusqlite::Error) -> Self {
        BackupError::Io(format!("SQLite: {e}"))
    }
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> BackupError {
    BackupError::Io(format!("{what} {}: {e}", path.display()))
}

type BResult<T> = std::result::Result<T, BackupError>;

/// A fixed-width blank-padded token field as text.
fn field_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches([' ', '\0'])
        .to_owned()
}

/// The token facts a header records, read from a database (the snapshot),
/// after checking it is a healthy Keyward token of this or an older schema.
fn check_token(conn: &Connection) -> BResult<(String, String, u64)> {
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app != APPLICATION_ID {
        return Err(BackupError::NotAToken(
            "its application id is not Keyward's".into(),
        ));
    }
    let version: Option<i64> = conn
        .query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|_| BackupError::NotAToken("it has no schema version".into()))?;
    // Older versions are accepted: opening the restored file migrates it.
    if !version.is_some_and(|v| (1..=SCHEMA_VERSION).contains(&v)) {
        return Err(BackupError::NotAToken(format!(
            "schema version {version:?}, expected {SCHEMA_VERSION}"
        )));
    }
    let integrity: String = conn.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
    if integrity != "ok" {
        return Err(BackupError::NotAToken(format!(
            "SQLite integrity check failed: {integrity}"
        )));
    }
    let token: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row("SELECT label, serial FROM token WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (label, serial) =
        token.ok_or_else(|| BackupError::NotAToken("the token is not initialized".into()))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM object", [], |r| r.get(0))?;
    let objects = u64::try_from(objects).map_err(|_| BackupError::Store(Error::Tampered))?;
    Ok((field_text(&label), field_text(&serial), objects))
}

fn count(v: c_int) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Copies the live database at `db_path` into memory page by page. The
/// source connection holds one read transaction throughout, so in WAL mode
/// every step reads the same snapshot while other processes keep writing
/// (their commits are simply not in it), and the copy never restarts.
fn snapshot(db_path: &Path, progress: &mut dyn FnMut(u64, u64)) -> BResult<Connection> {
    // Without CREATE: a mistyped path must not leave an empty file behind.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(db_path, flags)?;
    src.busy_timeout(BUSY_TIMEOUT)?;
    src.execute_batch("PRAGMA trusted_schema = OFF; BEGIN DEFERRED")?;
    // The first read starts the snapshot and rejects foreign files early.
    let app: i64 = src.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app != APPLICATION_ID {
        return Err(BackupError::NotAToken(
            "its application id is not Keyward's".into(),
        ));
    }
    let page_size: i64 = src.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let mut mem = Connection::open_in_memory()?;
    // An in-memory destination cannot change page size during the copy.
    mem.execute_batch(&format!("PRAGMA page_size = {page_size}"))?;
    {
        let backup = Backup::new(&src, &mut mem)?;
        let mut busy = 0u32;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = count(p.pagecount);
            progress(total.saturating_sub(count(p.remaining)), total);
            match step {
                StepResult::Done => break,
                StepResult::More => busy = 0,
                _ if busy >= BUSY_STEPS => {
                    return Err(BackupError::Io("the token database stayed locked".into()));
                }
                _ => {
                    busy += 1;
                    std::thread::sleep(BUSY_SLEEP);
                }
            }
        }
    }
    src.execute_batch("COMMIT")?;
    Ok(mem)
}

/// The snapshot as bytes, marked as a rollback-journal database: SQLite
/// refuses to open a deserialized image whose header says WAL, and
/// `TokenDb::open` switches a restored file back to WAL anyway.
fn serialize(mem: &mut Connection) -> BResult<Zeroizing<Vec<u8>>> {
    let data = mem.serialize(MAIN_DB)?;
    let mut bytes = Zeroizing::new(data.to_vec());
    // Bytes 18 and 19 of the SQLite header: file format write/read version.
    for b in bytes.get_mut(18..20).into_iter().flatten() {
        if *b == 2 {
            *b = 1;
        }
    }
    Ok(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Takes a consistent snapshot of the (possibly live) token database at
/// `db_path`, seals it under `passphrase` with `kdf_iterations` rounds of
/// PBKDF2 and writes it to `out` atomically (mode 0600). `progress(done,
/// total)` counts database pages. An existing `out` is
/// [`BackupError::Exists`]; iterations outside 1..=10,000,000 are
/// `Store(ArgumentsBad)`.
pub fn create(
    db_path: &Path,
    out: &Path,
    passphrase: &[u8],
    kdf_iterations: u32,
    progress: &mut dyn FnMut(u64, u64),
) -> BResult<BackupInfo> {
    if !(1..=MAX_ITERATIONS).contains(&kdf_iterations) {
        return Err(BackupError::Store(Error::ArgumentsBad));
    }
    create_with(db_path, out, progress, &mut |info, plain| {
        let salt = seal::backup_salt().map_err(BackupError::Store)?;
        let header = Header {
            iterations: kdf_iterations,
            salt,
            info: info.clone(),
        };
        let mut file = header.encode();
        let sealed = seal::seal_backup(passphrase, kdf_iterations, &salt, &file, plain)
            .map_err(BackupError::Store)?;
        file.extend_from_slice(&sealed);
        Ok(file)
    })
}

/// Like [`create`], but the backup is sealed under a random key split
/// into shares written beside `out` (`split.rs`).
pub fn create_split(
    db_path: &Path,
    out: &Path,
    req: &SplitRequest<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> BResult<SplitCreated> {
    split::create_split(db_path, out, req, progress)
}

/// Seals a snapshot (`info`, plain bytes) into a whole backup file.
type SealFile<'a> = dyn FnMut(&BackupInfo, &[u8]) -> BResult<Vec<u8>> + 'a;

/// The snapshot, its checks and its placement, common to every kind of
/// backup; `seal(info, plain)` returns the whole file (header and
/// sealed payload).
fn create_with(
    db_path: &Path,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
    seal: &mut SealFile<'_>,
) -> BResult<BackupInfo> {
    refuse_existing(out)?;
    let mut mem = snapshot(db_path, progress)?;
    let (label, serial, objects) = check_token(&mem)?;
    let plain = serialize(&mut mem)?;
    drop(mem);
    let info = BackupInfo {
        created: now(),
        label,
        serial,
        objects,
        bytes: u64::try_from(plain.len()).map_err(|_| BackupError::Store(Error::GeneralError))?,
    };
    let file = seal(&info, &plain)?;
    place_file(out, &file, false)?;
    Ok(info)
}

/// What opens a backup: its passphrase, or the key its shares recombine to.
#[derive(Debug, Clone, Copy)]
pub enum Unlock<'a> {
    Passphrase(&'a [u8]),
    Key(&'a crate::store::seal_shares::BackupKey),
}

/// Decrypts and checks a backup in memory; returns its info and payload.
fn open(file: &Path, passphrase: &[u8]) -> BResult<(BackupInfo, Zeroizing<Vec<u8>>)> {
    open_unlocked(file, Unlock::Passphrase(passphrase))
}

/// [`open`] for either kind of backup.
fn open_unlocked(file: &Path, unlock: Unlock<'_>) -> BResult<(BackupInfo, Zeroizing<Vec<u8>>)> {
    let bytes = std::fs::read(file).map_err(|e| io_error("cannot read", file, &e))?;
    let (info, plain) = match unlock {
        Unlock::Key(key) if split::is_split(&bytes) => split::open_split(&bytes, key)?,
        Unlock::Key(_) => {
            // A passphrase backup (or not a backup): say which.
            Header::parse(&bytes)?;
            return Err(BackupError::NotSplit);
        }
        Unlock::Passphrase(_) if split::is_split(&bytes) => {
            let split = split_of(file)?.ok_or(BackupError::NotABackup)?;
            return Err(BackupError::SplitBackup {
                threshold: split.threshold,
                count: split.count,
            });
        }
        Unlock::Passphrase(passphrase) => open_passphrase(&bytes, passphrase)?,
    };
    check_payload(info, plain)
}

/// Decrypts a passphrase backup's payload.
fn open_passphrase(bytes: &[u8], passphrase: &[u8]) -> BResult<(BackupInfo, Zeroizing<Vec<u8>>)> {
    let (header, header_bytes, blob) = Header::parse(bytes)?;
    let plain = seal::open_backup(
        passphrase,
        header.iterations,
        &header.salt,
        header_bytes,
        blob,
    )
    .map_err(|_| BackupError::WrongPassphraseOrDamaged)?;
    Ok((header.info, plain))
}

/// Checks a decrypted payload is a healthy token matching its header.
fn check_payload(
    info: BackupInfo,
    plain: Zeroizing<Vec<u8>>,
) -> BResult<(BackupInfo, Zeroizing<Vec<u8>>)> {
    let mismatch =
        || BackupError::NotAToken("the backup header does not match its database".into());
    if u64::try_from(plain.len()).ok() != Some(info.bytes) {
        return Err(mismatch());
    }
    let mut mem = Connection::open_in_memory()?;
    mem.deserialize_read_exact(MAIN_DB, plain.as_slice(), plain.len(), true)
        .map_err(|_| BackupError::NotAToken("the payload is not an SQLite database".into()))?;
    let (label, serial, objects) = check_token(&mem).map_err(|e| match e {
        BackupError::Io(why) => BackupError::NotAToken(why),
        other => other,
    })?;
    if (label.as_str(), serial.as_str(), objects) != (&*info.label, &*info.serial, info.objects) {
        return Err(mismatch());
    }
    Ok((info, plain))
}

/// Decrypts `file` in memory and checks it holds a healthy Keyward token
/// database matching its header. Writes nothing.
pub fn verify(file: &Path, passphrase: &[u8]) -> BResult<BackupInfo> {
    open(file, passphrase).map(|(info, _)| info)
}

/// [`verify`] for either kind of backup.
pub fn verify_with(file: &Path, unlock: Unlock<'_>) -> BResult<BackupInfo> {
    open_unlocked(file, unlock).map(|(info, _)| info)
}

/// Verifies `file`, then writes its token database to `dest` atomically
/// (mode 0600; a missing directory is created 0700). An existing `dest`
/// (or a `-wal`/`-shm`/`-journal` beside it) is [`BackupError::Exists`]
/// unless `replace`, in which case the stale side files are removed so
/// they cannot be replayed into the restored file. The token must not be
/// in use by any process. On any failure `dest` is left as it was.
pub fn restore(file: &Path, passphrase: &[u8], dest: &Path, replace: bool) -> BResult<BackupInfo> {
    restore_with(file, Unlock::Passphrase(passphrase), dest, replace)
}

/// [`restore`] for either kind of backup.
pub fn restore_with(
    file: &Path,
    unlock: Unlock<'_>,
    dest: &Path,
    replace: bool,
) -> BResult<BackupInfo> {
    if !replace {
        refuse_existing(dest)?;
    }
    let (info, plain) = open_unlocked(file, unlock)?;
    if let Some(dir) = parent(dest) {
        create_private_dir(dir)
            .map_err(|_| BackupError::Io(format!("cannot create {}", dir.display())))?;
    }
    place_file(dest, &plain, replace)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal::{MasterKey, unwrap_master_key, wrap_master_key};
    use crate::store::sqlite::{ObjectRow, TokenDb, TokenMeta};
    use place::sidecar;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const ITER: u32 = 1000;
    const PASS: &[u8] = b"correct horse battery staple";

    fn row(id: i64, fill: u8) -> ObjectRow {
        ObjectRow {
            id,
            generation: 1,
            class: 3,
            private: id % 2 == 0,
            lookup_label: Some(vec![fill; 8]),
            lookup_id: None,
            public: vec![fill; 300],
            sealed: vec![fill ^ 0xFF; 900],
        }
    }

    /// An initialized token with `n` objects (about one page per three).
    fn token(path: &Path, n: i64) -> (TokenDb, MasterKey) {
        let db = TokenDb::open(path).unwrap();
        let mk = MasterKey::generate().unwrap();
        let mut label = [b' '; 32];
        label[..7].copy_from_slice(b"backups");
        db.initialize(
            &TokenMeta {
                label,
                serial: *b"00000000000000ab",
                so_pin: Some(wrap_master_key(&mk, b"so", 0, ITER).unwrap()),
                user_pin: Some(wrap_master_key(&mk, b"user", 1, ITER).unwrap()),
                so_failures: 1,
                user_failures: 0,
                epoch: 42,
            },
            b"",
            &crate::store::audit::test_entry(),
        )
        .unwrap();
        for id in 0..n {
            db.insert_object(
                &row(id, (id % 251) as u8),
                &crate::store::audit::test_entry(),
            )
            .unwrap();
        }
        (db, mk)
    }

    fn rows(db: &TokenDb) -> Vec<ObjectRow> {
        db.object_ids()
            .unwrap()
            .into_iter()
            .map(|id| db.object(id).unwrap().unwrap())
            .collect()
    }

    #[test]
    fn round_trip_while_another_connection_writes() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let (db, mk) = token(&live, 300);
        let expected = rows(&db);
        let meta = db.meta().unwrap().unwrap();

        // A writer in another thread and connection keeps committing for
        // the whole backup; one more commit lands between two steps.
        let writer = Arc::new(TokenDb::open(&live).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let hammer = {
            let (writer, stop) = (writer.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut id = 10_000;
                while !stop.load(Ordering::Relaxed) {
                    writer
                        .insert_object(&row(id, 7), &crate::store::audit::test_entry())
                        .unwrap();
                    id += 1;
                }
                id - 10_000
            })
        };
        let out = dir.path().join("token.kwb");
        let mut calls = Vec::new();
        let info = create(&live, &out, PASS, ITER, &mut |done, total| {
            if calls.is_empty() {
                writer
                    .insert_object(&row(-1, 9), &crate::store::audit::test_entry())
                    .unwrap();
            }
            calls.push((done, total));
        })
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        let written = hammer.join().unwrap();
        assert!(written > 0);
        assert!(calls.len() >= 2, "{calls:?}");
        let (last_done, last_total) = *calls.last().unwrap();
        assert_eq!(last_done, last_total);
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");

        // The snapshot is one consistent state: the starting rows plus a
        // prefix of the hammer's (it may have committed before the read
        // transaction began), never the commit made between two steps.
        assert_eq!(
            (info.label.as_str(), info.serial.as_str()),
            ("backups", "00000000000000ab")
        );
        assert!(info.objects >= 300);
        let mode = std::fs::metadata(&out).unwrap();
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        assert!(mode.len() > info.bytes);
        assert_eq!(verify(&out, PASS).unwrap(), info);

        let dest = dir.path().join("new/dir/token.db");
        assert_eq!(restore(&out, PASS, &dest, false).unwrap(), info);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(m(&dest), 0o600);
            assert_eq!(m(dest.parent().unwrap()), 0o700);
        }
        let back = TokenDb::open(&dest).unwrap();
        let restored = rows(&back);
        assert_eq!(u64::try_from(restored.len()).unwrap(), info.objects);
        assert!(back.object(-1).unwrap().is_none());
        assert_eq!(restored[..300], expected[..]);
        for r in &restored[300..] {
            assert_eq!(r, &row(r.id, 7));
        }
        // Same PINs, same keys.
        let restored_meta = back.meta().unwrap().unwrap();
        assert_eq!(restored_meta, meta);
        let user = unwrap_master_key(b"user", 1, restored_meta.user_pin.as_ref().unwrap());
        let digest = seal::public_digest(b"x");
        let blob = seal::seal_object(&mk, 1, 3, &digest, b"k").unwrap();
        assert!(seal::unseal_object(&user.unwrap(), 1, 3, &digest, &blob).is_ok());
        // The restored file is a working WAL token again.
        back.insert_object(&row(-5, 1), &crate::store::audit::test_entry())
            .unwrap();
        assert!(back.object(-5).unwrap().is_some());
        // The live token was not disturbed.
        assert!(db.object(-1).unwrap().is_some());
    }

    fn backup_of(dir: &Path, n: i64) -> (PathBuf, BackupInfo) {
        let live = dir.join("live.db");
        drop(token(&live, n));
        let out = dir.join("b.kwb");
        let info = create(&live, &out, PASS, ITER, &mut |_, _| {}).unwrap();
        (out, info)
    }

    #[test]
    fn a_backup_of_an_older_schema_restores_and_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        drop(token(&live, 2));
        let conn = Connection::open(&live).unwrap();
        conn.execute_batch("DROP TABLE pin_attempt; UPDATE schema_version SET version = 2;")
            .unwrap();
        drop(conn);
        let out = dir.path().join("old.kwb");
        create(&live, &out, PASS, ITER, &mut |_, _| {}).unwrap();
        let dest = dir.path().join("restored.db");
        let info = restore(&out, PASS, &dest, false).unwrap();
        assert_eq!(info.objects, 2);
        let db = TokenDb::open(&dest).unwrap();
        assert_eq!(db.object_ids().unwrap().len(), 2);
        assert_eq!(
            db.pin_attempts_in_flight(crate::store::sqlite::Role::User)
                .unwrap(),
            0
        );
    }

    #[test]
    fn create_refuses_existing_output_and_bad_sources() {
        let dir = tempfile::tempdir().unwrap();
        let (out, _) = backup_of(dir.path(), 3);
        let before = std::fs::read(&out).unwrap();
        let live = dir.path().join("live.db");
        assert_eq!(
            create(&live, &out, PASS, ITER, &mut |_, _| {}),
            Err(BackupError::Exists(out.clone()))
        );
        assert_eq!(std::fs::read(&out).unwrap(), before);
        let other = dir.path().join("c.kwb");
        for bad in [0, MAX_ITERATIONS + 1] {
            assert_eq!(
                create(&live, &other, PASS, bad, &mut |_, _| {}),
                Err(BackupError::Store(Error::ArgumentsBad))
            );
        }
        // A missing source is not created; a foreign or blank one refused.
        let missing = dir.path().join("missing.db");
        assert!(matches!(
            create(&missing, &other, PASS, ITER, &mut |_, _| {}),
            Err(BackupError::Io(_))
        ));
        assert!(!missing.exists());
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        assert!(matches!(
            create(&foreign, &other, PASS, ITER, &mut |_, _| {}),
            Err(BackupError::NotAToken(_))
        ));
        let blank = dir.path().join("blank.db");
        drop(TokenDb::open(&blank).unwrap());
        assert_eq!(
            create(&blank, &other, PASS, ITER, &mut |_, _| {}),
            Err(BackupError::NotAToken(
                "the token is not initialized".into()
            ))
        );
        assert!(!other.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn wrong_passphrase_and_every_flipped_byte_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (out, _) = backup_of(dir.path(), 2);
        assert_eq!(
            verify(&out, b"wrong"),
            Err(BackupError::WrongPassphraseOrDamaged)
        );
        let good = std::fs::read(&out).unwrap();
        let (_, header, _) = Header::parse(&good).unwrap();
        let header_len = header.len();
        let bad = dir.path().join("bad.kwb");
        // Every header byte, then a sample of the payload (version, nonce,
        // ciphertext start/middle/end) and every tag byte.
        let mut positions: Vec<usize> = (0..header_len).collect();
        positions.extend(header_len..header_len + 1 + 12 + 4);
        positions.push(good.len() / 2);
        positions.extend(good.len() - 16 - 4..good.len());
        for i in positions {
            let mut bytes = good.clone();
            bytes[i] ^= 0x01;
            std::fs::write(&bad, &bytes).unwrap();
            let err = verify(&bad, PASS).unwrap_err();
            let expected = match i {
                0..8 => BackupError::NotABackup,
                8 => BackupError::UnsupportedVersion(FORMAT_VERSION ^ 1),
                _ => BackupError::WrongPassphraseOrDamaged,
            };
            assert_eq!(err, expected, "byte {i}");
        }
    }

    #[test]
    fn truncated_and_foreign_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (out, _) = backup_of(dir.path(), 2);
        let good = std::fs::read(&out).unwrap();
        let bad = dir.path().join("bad.kwb");
        for n in (0..good.len()).step_by(97).chain([good.len() - 1]) {
            std::fs::write(&bad, &good[..n]).unwrap();
            let err = verify(&bad, PASS).unwrap_err();
            if n < 9 {
                assert_eq!(err, BackupError::NotABackup, "len {n}");
            } else {
                assert_eq!(err, BackupError::WrongPassphraseOrDamaged, "len {n}");
            }
        }
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&bad, &longer).unwrap();
        assert_eq!(
            verify(&bad, PASS),
            Err(BackupError::WrongPassphraseOrDamaged)
        );
        // The live database itself is not a backup.
        assert_eq!(
            verify(&dir.path().join("live.db"), PASS),
            Err(BackupError::NotABackup)
        );
        assert!(matches!(
            verify(&dir.path().join("nope.kwb"), PASS),
            Err(BackupError::Io(_))
        ));
    }

    /// A correctly sealed file whose payload is not a token, or whose
    /// header disagrees with the payload.
    fn forged(dir: &Path, payload: &[u8], info: BackupInfo) -> PathBuf {
        let salt = seal::backup_salt().unwrap();
        let header = Header {
            iterations: ITER,
            salt,
            info,
        };
        let mut file = header.encode();
        let sealed = seal::seal_backup(PASS, ITER, &salt, &file, payload).unwrap();
        file.extend_from_slice(&sealed);
        let path = dir.join("forged.kwb");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, file).unwrap();
        path
    }

    #[test]
    fn sealed_non_token_or_mismatched_header_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (out, info) = backup_of(dir.path(), 2);
        let (_, payload) = open(&out, PASS).unwrap();
        let junk = vec![0x55u8; 4096];
        let junk_info = BackupInfo {
            bytes: 4096,
            ..info.clone()
        };
        assert!(matches!(
            verify(&forged(dir.path(), &junk, junk_info), PASS),
            Err(BackupError::NotAToken(_))
        ));
        for changed in [
            BackupInfo {
                objects: 3,
                ..info.clone()
            },
            BackupInfo {
                label: "other".into(),
                ..info.clone()
            },
            BackupInfo {
                bytes: info.bytes + 1,
                ..info.clone()
            },
        ] {
            assert!(matches!(
                verify(&forged(dir.path(), &payload, changed), PASS),
                Err(BackupError::NotAToken(_))
            ));
        }
        assert_eq!(
            verify(&forged(dir.path(), &payload, info.clone()), PASS),
            Ok(info)
        );
    }

    #[test]
    fn restore_existing_dest_and_failures_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (out, info) = backup_of(dir.path(), 4);
        let dest = dir.path().join("dest.db");
        let (old_db, _) = token(&dest, 1);
        let old_rows = rows(&old_db);
        drop(old_db);
        let old_bytes = std::fs::read(&dest).unwrap();
        let listing = || {
            let mut names: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            names
        };
        let before = listing();

        assert_eq!(
            restore(&out, PASS, &dest, false),
            Err(BackupError::Exists(dest.clone()))
        );
        assert_eq!(
            restore(&out, b"wrong", &dest, true),
            Err(BackupError::WrongPassphraseOrDamaged)
        );
        let mut damaged = std::fs::read(&out).unwrap();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let bad = dir.path().join("bad.kwb");
        std::fs::write(&bad, &damaged).unwrap();
        assert_eq!(
            restore(&bad, PASS, &dest, true),
            Err(BackupError::WrongPassphraseOrDamaged)
        );
        std::fs::remove_file(&bad).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), old_bytes);
        assert_eq!(listing(), before);
        // A stale side file alone also blocks a restore without replace.
        let fresh = dir.path().join("fresh.db");
        std::fs::write(sidecar(&fresh, "-wal"), b"stale").unwrap();
        assert_eq!(
            restore(&out, PASS, &fresh, false),
            Err(BackupError::Exists(sidecar(&fresh, "-wal")))
        );
        assert!(!fresh.exists());
        std::fs::remove_file(sidecar(&fresh, "-wal")).unwrap();

        // With replace: stale -wal/-shm are removed, the backup wins.
        std::fs::write(sidecar(&dest, "-wal"), b"stale wal").unwrap();
        std::fs::write(sidecar(&dest, "-shm"), b"stale shm").unwrap();
        assert_eq!(restore(&out, PASS, &dest, true), Ok(info.clone()));
        assert!(!sidecar(&dest, "-wal").exists());
        assert!(!sidecar(&dest, "-shm").exists());
        let db = TokenDb::open(&dest).unwrap();
        let restored = rows(&db);
        assert_eq!(u64::try_from(restored.len()).unwrap(), info.objects);
        assert_ne!(restored, old_rows);
        let live = TokenDb::open(&dir.path().join("live.db")).unwrap();
        assert_eq!(restored, rows(&live));
        assert_eq!(db.meta().unwrap(), live.meta().unwrap());
        let names: Vec<_> = listing()
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn display_messages() {
        let cases = [
            (BackupError::NotABackup, "not a Keyward backup"),
            (
                BackupError::UnsupportedVersion(9),
                "version 9 is not supported",
            ),
            (
                BackupError::WrongPassphraseOrDamaged,
                "wrong backup passphrase, or the backup file is damaged",
            ),
            (BackupError::NotAToken("why".into()), "token database: why"),
            (
                BackupError::Exists(PathBuf::from("/x/y")),
                "/x/y already exists",
            ),
            (BackupError::Io("disk".into()), "I/O error: disk"),
            (BackupError::Store(Error::Tampered), "CKR 0x30"),
        ];
        for (e, text) in cases {
            assert!(e.to_string().contains(text), "{e}");
        }
    }
}
