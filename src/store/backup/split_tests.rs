//! Unit tests of split backups: round trip through the share files, the
//! refusals before recombination, a forged share with a valid checksum,
//! and how each kind of reader meets the other kind of backup.

use super::*;
use crate::store::backup::header::Header;
use crate::store::backup::{Unlock, create, create_split, restore_with, verify, verify_with};
use crate::store::seal::{MasterKey, wrap_master_key};
use crate::store::sqlite::{TokenDb, TokenMeta};

const ITER: u32 = 1000;

fn token(dir: &Path) -> PathBuf {
    let path = dir.join("live.db");
    let db = TokenDb::open(&path).unwrap();
    let mk = MasterKey::generate().unwrap();
    let mut label = [b' '; 32];
    label[..5].copy_from_slice(b"split");
    db.initialize(
        &TokenMeta {
            label,
            serial: *b"00000000000000cd",
            so_pin: Some(wrap_master_key(&mk, b"so", 0, ITER).unwrap()),
            user_pin: None,
            so_failures: 0,
            user_failures: 0,
            epoch: 1,
        },
        b"",
        &crate::store::audit::test_entry(),
    )
    .unwrap();
    path
}

fn split_backup(dir: &Path, name: &str, passphrases: &[Zeroizing<Vec<u8>>]) -> SplitCreated {
    let req = SplitRequest {
        threshold: 3,
        count: 5,
        passphrases,
        iterations: ITER,
    };
    create_split(&token(dir), &dir.join(name), &req, &mut |_, _| {}).unwrap()
}

fn key_of(split: &SplitInfo, paths: &[PathBuf]) -> BResult<BackupKey> {
    let given = read_shares(split, paths)?;
    combine_shares(split, &given)
}

#[test]
fn round_trip_and_the_other_kind_of_reader() {
    let dir = tempfile::tempdir().unwrap();
    let made = split_backup(dir.path(), "b.kwb", &[]);
    let file = dir.path().join("b.kwb");
    assert_eq!(made.info.label, "split");
    assert_eq!(split_of(&file).unwrap(), Some(made.split.clone()));
    let paths: Vec<PathBuf> = made.shares.iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths[1], dir.path().join("b.kwb.share-2-of-5"));
    for subset in [[0, 1, 2], [1, 3, 4], [0, 2, 4]] {
        let picked: Vec<PathBuf> = subset.iter().map(|&i| paths[i].clone()).collect();
        let key = key_of(&made.split, &picked).unwrap();
        assert_eq!(verify_with(&file, Unlock::Key(&key)).unwrap(), made.info);
    }
    let key = key_of(&made.split, &paths[..3]).unwrap();
    let dest = dir.path().join("restored.db");
    assert_eq!(
        restore_with(&file, Unlock::Key(&key), &dest, false).unwrap(),
        made.info
    );
    assert!(TokenDb::open(&dest).unwrap().meta().unwrap().is_some());
    assert!(crate::store::backup::Image::open_with(&file, Unlock::Key(&key)).is_ok());

    // A version-1 reader (the passphrase header parser) refuses it by
    // its version; a passphrase does not open it.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        Header::parse(&bytes).unwrap_err(),
        BackupError::UnsupportedVersion(SPLIT_FORMAT_VERSION)
    );
    assert_eq!(
        verify(&file, b"anything"),
        Err(BackupError::SplitBackup {
            threshold: 3,
            count: 5
        })
    );
    // A key does not open a passphrase backup.
    let plain = dir.path().join("plain.kwb");
    create(
        &dir.path().join("live.db"),
        &plain,
        b"pass",
        ITER,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(split_of(&plain).unwrap(), None);
    assert_eq!(
        verify_with(&plain, Unlock::Key(&key)),
        Err(BackupError::NotSplit)
    );
    assert_eq!(
        split_of(&dir.path().join("live.db")),
        Err(BackupError::NotABackup)
    );
}

#[test]
fn refusals_before_recombination_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let made = split_backup(dir.path(), "b.kwb", &[]);
    let other = split_backup(dir.path(), "o.kwb", &[]);
    let p: Vec<PathBuf> = made.shares.iter().map(|s| s.path.clone()).collect();
    let err = |paths: &[PathBuf]| read_shares(&made.split, paths).unwrap_err();

    assert_eq!(
        err(&p[..2]),
        BackupError::TooFewShares {
            given: 2,
            threshold: 3,
            count: 5
        }
    );
    assert!(matches!(
        err(&[p[0].clone(), p[1].clone(), p[0].clone()]),
        BackupError::Share { file, problem: ShareProblem::Duplicate { index: 1, first } }
            if file == p[0] && first == p[0]
    ));
    let foreign = other.shares[2].path.clone();
    assert!(matches!(
        err(&[p[0].clone(), foreign.clone(), p[2].clone()]),
        BackupError::Share { file, problem: ShareProblem::OtherBackup { .. } } if file == foreign
    ));
    let text = std::fs::read_to_string(&p[3]).unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(&bad, text.replacen("data 04", "data 05", 1)).unwrap();
    assert_eq!(
        err(&[p[0].clone(), bad.clone(), p[2].clone()]),
        BackupError::Share {
            file: bad.clone(),
            problem: ShareProblem::Text(TextProblem::Checksum)
        }
    );
    let missing = dir.path().join("missing");
    assert!(matches!(
        err(&[missing.clone(), p[0].clone(), p[1].clone()]),
        BackupError::Share { file, problem: ShareProblem::Unreadable(_) } if file == missing
    ));
}

#[test]
fn a_forged_share_with_a_valid_checksum_does_not_open_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let made = split_backup(dir.path(), "b.kwb", &[]);
    let p: Vec<PathBuf> = made.shares.iter().map(|s| s.path.clone()).collect();
    let mut share = ShareFile::parse(&std::fs::read_to_string(&p[2]).unwrap()).unwrap();
    let mut data = share.data.to_vec();
    data[7] ^= 0x40;
    share.data = Zeroizing::new(data);
    let forged = dir.path().join("forged");
    std::fs::write(&forged, share.encode()).unwrap();
    let key = key_of(&made.split, &[p[0].clone(), p[1].clone(), forged]).unwrap();
    assert_eq!(
        verify_with(&dir.path().join("b.kwb"), Unlock::Key(&key)),
        Err(BackupError::SharesDoNotOpen)
    );
    // A changed header byte (the label) is caught the same way.
    let file = dir.path().join("b.kwb");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(5).position(|w| w == b"split").unwrap();
    bytes[at] = b'S';
    let changed = dir.path().join("changed.kwb");
    std::fs::write(&changed, &bytes).unwrap();
    let key = key_of(&made.split, &p[..3]).unwrap();
    assert_eq!(
        verify_with(&changed, Unlock::Key(&key)),
        Err(BackupError::SharesDoNotOpen)
    );
}

#[test]
fn protected_shares_need_their_own_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let passphrases: Vec<Zeroizing<Vec<u8>>> = (1..=5)
        .map(|i| Zeroizing::new(format!("custodian {i}").into_bytes()))
        .collect();
    let made = split_backup(dir.path(), "b.kwb", &passphrases);
    assert!(made.shares.iter().all(|s| s.protected));
    let p: Vec<PathBuf> = made.shares.iter().map(|s| s.path.clone()).collect();
    let mut given = read_shares(&made.split, &[p[4].clone(), p[0].clone(), p[2].clone()]).unwrap();
    assert!(given.iter().all(GivenShare::needs_passphrase));
    assert_eq!(
        combine_shares(&made.split, &given).unwrap_err(),
        BackupError::Store(Error::ArgumentsBad)
    );
    // Share 1's passphrase does not open share 5.
    assert_eq!(
        given[0].unlock(b"custodian 1").unwrap_err(),
        BackupError::Share {
            file: p[4].clone(),
            problem: ShareProblem::WrongPassphrase { index: 5 }
        }
    );
    for g in &mut given {
        let index = g.index();
        g.unlock(format!("custodian {index}").as_bytes()).unwrap();
    }
    let key = combine_shares(&made.split, &given).unwrap();
    assert_eq!(
        verify_with(&dir.path().join("b.kwb"), Unlock::Key(&key)).unwrap(),
        made.info
    );
}

#[test]
fn bad_requests_and_existing_shares_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let live = token(dir.path());
    let out = dir.path().join("b.kwb");
    let one = [Zeroizing::new(b"x".to_vec())];
    for (threshold, count, passphrases) in
        [(1, 5, &[][..]), (6, 5, &[]), (2, 17, &[]), (2, 3, &one[..])]
    {
        let req = SplitRequest {
            threshold,
            count,
            passphrases,
            iterations: ITER,
        };
        assert_eq!(
            create_split(&live, &out, &req, &mut |_, _| {}).unwrap_err(),
            BackupError::Store(Error::ArgumentsBad)
        );
    }
    std::fs::write(share_path(&out, 4, 5), b"mine").unwrap();
    let req = SplitRequest {
        threshold: 3,
        count: 5,
        passphrases: &[],
        iterations: ITER,
    };
    assert_eq!(
        create_split(&live, &out, &req, &mut |_, _| {}).unwrap_err(),
        BackupError::Exists(share_path(&out, 4, 5))
    );
    assert!(!out.exists());
    assert!(!share_path(&out, 1, 5).exists());
}
