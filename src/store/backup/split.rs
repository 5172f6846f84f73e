//! Backups split among custodians (format version 2): the payload is
//! sealed under a random key, the key is split into N Shamir shares of
//! which any M recover it, and each share goes to its own text file
//! (`share_file.rs`). The header records the backup's random id and the
//! split. Reading the shares checks each one (checksum, backup id,
//! split, duplicate index) and names the file at fault before any
//! recombination; a key that then does not open the payload is reported
//! as such.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::header::{put_text, put_u64, take, take_text, take_u64};
use super::place::{place_file, refuse_existing};
use super::share_file::{Protection, ShareFile, TextProblem, hex};
use super::{BResult, BackupError, BackupInfo, MAGIC, io_error};
use crate::error::Error;
use crate::store::seal::MAX_ITERATIONS;
use crate::store::seal_shares::{self, BACKUP_ID_LEN, BackupKey, SHARE_LEN, split_allowed};

/// The format version of a split backup. A reader of version 1 only
/// refuses it as an unsupported version.
pub const SPLIT_FORMAT_VERSION: u8 = 2;

/// How a backup is split, from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitInfo {
    pub id: [u8; BACKUP_ID_LEN],
    /// Shares made (N).
    pub count: u8,
    /// Shares needed (M).
    pub threshold: u8,
}

impl SplitInfo {
    /// The id as printed on every share.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }
}

/// What is wrong with one share file; [`BackupError::Share`] names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareProblem {
    Unreadable(String),
    Text(TextProblem),
    OtherBackup {
        theirs: String,
        ours: String,
    },
    OtherSplit {
        index: u8,
        count: u8,
        threshold: u8,
        ours: (u8, u8),
    },
    Duplicate {
        index: u8,
        first: PathBuf,
    },
    WrongPassphrase {
        index: u8,
    },
}

impl std::fmt::Display for ShareProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShareProblem::Unreadable(why) => write!(f, "cannot be read: {why}"),
            ShareProblem::Text(p) => write!(f, "{p}"),
            ShareProblem::OtherBackup { theirs, ours } => {
                write!(f, "belongs to backup {theirs}, not to this backup ({ours})")
            }
            ShareProblem::OtherSplit {
                index,
                count,
                threshold,
                ours: (m, n),
            } => write!(
                f,
                "is damaged: it says share {index} of {count}, threshold {threshold}, \
                 but this backup is split {m} of {n}"
            ),
            ShareProblem::Duplicate { index, first } => write!(
                f,
                "is share {index} again (already given as {}): give each share once",
                first.display()
            ),
            ShareProblem::WrongPassphrase { index } => write!(
                f,
                "does not open with the passphrase given for share {index} \
                 (wrong passphrase, or the share is damaged)"
            ),
        }
    }
}

/// The clear header of a split backup; its bytes are the payload's AAD.
struct SplitHeader {
    split: SplitInfo,
    info: BackupInfo,
}

impl SplitHeader {
    fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(SPLIT_FORMAT_VERSION);
        out.extend_from_slice(&self.split.id);
        out.push(self.split.count);
        out.push(self.split.threshold);
        put_u64(&mut out, self.info.created);
        put_u64(&mut out, self.info.objects);
        put_u64(&mut out, self.info.bytes);
        put_text(&mut out, &self.info.label);
        put_text(&mut out, &self.info.serial);
        out
    }

    /// Splits a split backup into header, header bytes and sealed payload.
    fn parse(file: &[u8]) -> BResult<(SplitHeader, &[u8], &[u8])> {
        let mut input = file
            .strip_prefix(MAGIC.as_slice())
            .and_then(|r| r.strip_prefix(&[SPLIT_FORMAT_VERSION]))
            .ok_or(BackupError::NotABackup)?;
        let id = take(&mut input, BACKUP_ID_LEN)?
            .try_into()
            .map_err(|_| BackupError::WrongPassphraseOrDamaged)?;
        let split = take(&mut input, 2)?;
        let (count, threshold) = match split {
            [n, m] if split_allowed(*m, *n) => (*n, *m),
            _ => return Err(BackupError::WrongPassphraseOrDamaged),
        };
        let created = take_u64(&mut input)?;
        let objects = take_u64(&mut input)?;
        let bytes = take_u64(&mut input)?;
        let label = take_text(&mut input)?;
        let serial = take_text(&mut input)?;
        let header_len = file.len().saturating_sub(input.len());
        let header_bytes = file
            .get(..header_len)
            .ok_or(BackupError::WrongPassphraseOrDamaged)?;
        let header = SplitHeader {
            split: SplitInfo {
                id,
                count,
                threshold,
            },
            info: BackupInfo {
                created,
                label,
                serial,
                objects,
                bytes,
            },
        };
        Ok((header, header_bytes, input))
    }
}

/// Whether a backup file's bytes are a split backup.
pub(super) fn is_split(file: &[u8]) -> bool {
    file.strip_prefix(MAGIC.as_slice())
        .and_then(|r| r.first())
        .is_some_and(|v| *v == SPLIT_FORMAT_VERSION)
}

/// Decrypts a split backup's payload with the recombined key.
pub(super) fn open_split(
    file: &[u8],
    key: &BackupKey,
) -> BResult<(BackupInfo, Zeroizing<Vec<u8>>)> {
    let (header, header_bytes, blob) = SplitHeader::parse(file)?;
    let plain = seal_shares::open_payload(key, header_bytes, blob)
        .map_err(|_| BackupError::SharesDoNotOpen)?;
    Ok((header.info, plain))
}

/// How `file` is split, or `None` for a passphrase backup (of any
/// version: opening it says whether it is supported). Reads only the (not
/// yet authenticated) header.
pub fn split_of(file: &Path) -> BResult<Option<SplitInfo>> {
    let bytes = std::fs::read(file).map_err(|e| io_error("cannot read", file, &e))?;
    if !bytes.starts_with(MAGIC.as_slice()) {
        return Err(BackupError::NotABackup);
    }
    if !is_split(&bytes) {
        return Ok(None);
    }
    SplitHeader::parse(&bytes).map(|(h, _, _)| Some(h.split))
}

/// Where share `index` of `count` of the backup `out` is written:
/// `<OUT>.share-<i>-of-<N>`.
pub fn share_path(out: &Path, index: u8, count: u8) -> PathBuf {
    let mut name = OsString::from(out.as_os_str());
    name.push(format!(".share-{index}-of-{count}"));
    PathBuf::from(name)
}

/// How to split a new backup.
pub struct SplitRequest<'a> {
    pub threshold: u8,
    pub count: u8,
    /// Empty, or one passphrase per share (in index order) protecting it.
    pub passphrases: &'a [Zeroizing<Vec<u8>>],
    /// PBKDF2 rounds for protected shares.
    pub iterations: u32,
}

/// One share file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareOut {
    pub index: u8,
    pub path: PathBuf,
    pub protected: bool,
}

/// A split backup made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCreated {
    pub info: BackupInfo,
    pub split: SplitInfo,
    pub shares: Vec<ShareOut>,
}

/// Checks a request before any snapshot; a bad one is `ArgumentsBad`.
fn check_request(req: &SplitRequest<'_>) -> BResult<()> {
    let protected = !req.passphrases.is_empty();
    if !split_allowed(req.threshold, req.count)
        || (protected && req.passphrases.len() != usize::from(req.count))
        || (protected && !(1..=MAX_ITERATIONS).contains(&req.iterations))
    {
        return Err(BackupError::Store(Error::ArgumentsBad));
    }
    Ok(())
}

/// Writes the split backup `out` of the token in `db_path` (see
/// [`super::create`]) and its share files beside it. Nothing is written
/// if `out` or any share file exists; if a share cannot be written, the
/// backup and the shares already written are removed.
pub(super) fn create_split(
    db_path: &Path,
    out: &Path,
    req: &SplitRequest<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> BResult<SplitCreated> {
    check_request(req)?;
    let paths: Vec<PathBuf> = (1..=req.count)
        .map(|i| share_path(out, i, req.count))
        .collect();
    for p in &paths {
        refuse_existing(p)?;
    }
    let key = BackupKey::generate().map_err(BackupError::Store)?;
    let split = SplitInfo {
        id: seal_shares::backup_id().map_err(BackupError::Store)?,
        count: req.count,
        threshold: req.threshold,
    };
    let info = super::create_with(db_path, out, progress, &mut |info, plain| {
        let header = SplitHeader {
            split: split.clone(),
            info: info.clone(),
        };
        let mut file = header.encode();
        let sealed = seal_shares::seal_payload(&key, &file, plain).map_err(BackupError::Store)?;
        file.extend_from_slice(&sealed);
        Ok(file)
    })?;
    let mut written = Vec::new();
    let result = write_shares(&key, &split, req, &paths, &mut written);
    if let Err(e) = result {
        for p in written.iter().chain(std::iter::once(&out.to_path_buf())) {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    let shares = paths
        .into_iter()
        .zip(1..)
        .map(|(path, index)| ShareOut {
            index,
            path,
            protected: !req.passphrases.is_empty(),
        })
        .collect();
    Ok(SplitCreated {
        info,
        split,
        shares,
    })
}

fn write_shares(
    key: &BackupKey,
    split: &SplitInfo,
    req: &SplitRequest<'_>,
    paths: &[PathBuf],
    written: &mut Vec<PathBuf>,
) -> BResult<()> {
    let shares =
        seal_shares::split(key, split.threshold, split.count).map_err(BackupError::Store)?;
    for ((share, path), i) in shares.iter().zip(paths).zip(0usize..) {
        let index =
            seal_shares::share_index(share).ok_or(BackupError::Store(Error::GeneralError))?;
        let mut file = ShareFile {
            id: split.id,
            index,
            count: split.count,
            threshold: split.threshold,
            protection: Protection::None,
            data: share.clone(),
        };
        if let Some(passphrase) = req.passphrases.get(i) {
            let salt = seal_shares::share_salt().map_err(BackupError::Store)?;
            file.protection = Protection::Passphrase {
                iterations: req.iterations,
                salt,
            };
            let sealed =
                seal_shares::seal_share(passphrase, req.iterations, &salt, &file.aad(), share)
                    .map_err(BackupError::Store)?;
            file.data = Zeroizing::new(sealed);
        }
        place_file(path, file.encode().as_bytes(), false)?;
        written.push(path.clone());
    }
    Ok(())
}

/// One share file given to open a split backup, checked against it.
pub struct GivenShare {
    pub path: PathBuf,
    file: ShareFile,
    /// The share bytes once known (at once, or after its passphrase).
    share: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for GivenShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GivenShare")
            .field("path", &self.path)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl GivenShare {
    pub fn index(&self) -> u8 {
        self.file.index
    }

    /// Whether it still needs its custodian's passphrase.
    pub fn needs_passphrase(&self) -> bool {
        self.share.is_none()
    }

    /// Opens a protected share with its custodian's passphrase.
    pub fn unlock(&mut self, passphrase: &[u8]) -> BResult<()> {
        let Protection::Passphrase { iterations, salt } = &self.file.protection else {
            return Ok(());
        };
        let wrong = || BackupError::Share {
            file: self.path.clone(),
            problem: ShareProblem::WrongPassphrase {
                index: self.file.index,
            },
        };
        let share = seal_shares::open_share(
            passphrase,
            *iterations,
            salt,
            &self.file.aad(),
            &self.file.data,
        )
        .map_err(|_| wrong())?;
        if seal_shares::share_index(&share) != Some(self.file.index) {
            return Err(wrong());
        }
        self.share = Some(share);
        Ok(())
    }
}

fn problem(path: &Path, problem: ShareProblem) -> BackupError {
    BackupError::Share {
        file: path.to_path_buf(),
        problem,
    }
}

/// Reads and checks the share files `paths` against `split`: each must
/// parse, match its checksum, belong to this backup and split, and carry
/// an index not given before; then at least the threshold must be given.
/// The first share at fault is named.
pub fn read_shares(split: &SplitInfo, paths: &[PathBuf]) -> BResult<Vec<GivenShare>> {
    let mut given: Vec<GivenShare> = Vec::with_capacity(paths.len());
    for path in paths {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| problem(path, ShareProblem::Unreadable(e.to_string())))?,
        );
        let file = ShareFile::parse(&text).map_err(|p| problem(path, ShareProblem::Text(p)))?;
        if file.id != split.id {
            return Err(problem(
                path,
                ShareProblem::OtherBackup {
                    theirs: hex(&file.id),
                    ours: split.id_hex(),
                },
            ));
        }
        if (file.count, file.threshold) != (split.count, split.threshold)
            || !(1..=split.count).contains(&file.index)
        {
            return Err(problem(
                path,
                ShareProblem::OtherSplit {
                    index: file.index,
                    count: file.count,
                    threshold: file.threshold,
                    ours: (split.threshold, split.count),
                },
            ));
        }
        if let Some(first) = given.iter().find(|g| g.file.index == file.index) {
            return Err(problem(
                path,
                ShareProblem::Duplicate {
                    index: file.index,
                    first: first.path.clone(),
                },
            ));
        }
        let share = match file.protection {
            Protection::None => {
                if file.data.len() != SHARE_LEN
                    || seal_shares::share_index(&file.data) != Some(file.index)
                {
                    return Err(problem(path, ShareProblem::Text(TextProblem::Checksum)));
                }
                Some(file.data.clone())
            }
            Protection::Passphrase { .. } => None,
        };
        given.push(GivenShare {
            path: path.clone(),
            file,
            share,
        });
    }
    if given.len() < usize::from(split.threshold) {
        return Err(BackupError::TooFewShares {
            given: given.len(),
            threshold: split.threshold,
            count: split.count,
        });
    }
    Ok(given)
}

/// Recombines the key from checked, unlocked shares.
pub fn combine_shares(split: &SplitInfo, shares: &[GivenShare]) -> BResult<BackupKey> {
    let bytes: Vec<&[u8]> = shares
        .iter()
        .map(|s| s.share.as_ref().map(|b| b.as_slice()))
        .collect::<Option<_>>()
        .ok_or(BackupError::Store(Error::ArgumentsBad))?;
    seal_shares::combine(split.threshold, &bytes).map_err(|_| BackupError::SharesDoNotOpen)
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
