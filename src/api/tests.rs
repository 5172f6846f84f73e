//! Façade tests on `Library` values built directly: no global state, so
//! two libraries can stand for two processes sharing one token file.

use cryptoki_sys::*;

use super::{Attr, Library, Mech, Out, OutCap, RawParam};
use crate::config::Config;
use crate::error::Error;

const SO_PIN: &[u8] = b"so-pin-1";
const USER_PIN: &[u8] = b"user-pin-1";

fn library(dir: &std::path::Path) -> Library {
    let config = Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).unwrap();
    Library::new(config).unwrap()
}

fn label(text: &str) -> [u8; 32] {
    let mut l = [b' '; 32];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

fn ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Attr {
    Attr {
        ty,
        value: v.to_ne_bytes().to_vec(),
    }
}

fn flag(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attr {
    Attr {
        ty,
        value: vec![u8::from(v)],
    }
}

/// An initialized token with a user PIN, and a R/W session logged in as
/// the user.
fn ready(lib: &Library) -> CK_SESSION_HANDLE {
    lib.init_token(0, SO_PIN, &label("t")).unwrap();
    let h = lib
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    lib.login(h, CKU_SO, SO_PIN).unwrap();
    lib.init_pin(h, USER_PIN).unwrap();
    lib.logout(h).unwrap();
    lib.login(h, CKU_USER, USER_PIN).unwrap();
    h
}

fn hmac_key(lib: &Library, h: CK_SESSION_HANDLE) -> Result<CK_OBJECT_HANDLE, Error> {
    let mech = Mech {
        ty: CKM_GENERIC_SECRET_KEY_GEN,
        param: RawParam::None,
    };
    lib.generate_key(
        h,
        &mech,
        &[
            ulong(CKA_VALUE_LEN, 32),
            flag(CKA_TOKEN, true),
            flag(CKA_SIGN, true),
        ],
    )
}

#[test]
fn reinitialization_by_another_process_ends_the_login() {
    let dir = tempfile::tempdir().unwrap();
    let first = library(dir.path());
    let h = ready(&first);
    hmac_key(&first, h).unwrap();
    // A second "process" wipes the token under a new master key.
    let second = library(dir.path());
    second.init_token(0, SO_PIN, &label("t")).unwrap();
    // Writing under the old master key would make an unreadable object.
    assert_eq!(hmac_key(&first, h), Err(Error::UserNotLoggedIn));
    assert_eq!(first.logout(h), Err(Error::UserNotLoggedIn));
}

#[test]
fn key_made_by_one_process_is_used_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let first = library(dir.path());
    let h1 = ready(&first);
    hmac_key(&first, h1).unwrap();
    let second = library(dir.path());
    let h2 = second.open_session(0, CKF_SERIAL_SESSION).unwrap();
    second.login(h2, CKU_USER, USER_PIN).unwrap();
    second
        .find_objects_init(h2, &[ulong(CKA_CLASS, CKO_SECRET_KEY)])
        .unwrap();
    let found = second.find_objects(h2, 10).unwrap();
    second.find_objects_final(h2).unwrap();
    assert_eq!(found.len(), 1);
    let mech = Mech {
        ty: CKM_SHA256_HMAC,
        param: RawParam::None,
    };
    second.sign_init(h2, Some(&mech), found[0]).unwrap();
    assert_eq!(second.sign(h2, b"x", OutCap::Query).unwrap(), Out::Len(32));
    assert!(
        matches!(second.sign(h2, b"x", OutCap::Cap(32)).unwrap(), Out::Data(v) if v.len() == 32)
    );
}

#[test]
fn closing_the_last_session_logs_out() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = ready(&lib);
    let other = lib.open_session(0, CKF_SERIAL_SESSION).unwrap();
    lib.close_session(h).unwrap();
    // Still one session: still logged in.
    assert_eq!(
        lib.session_info(other).unwrap().state,
        CKS_RO_USER_FUNCTIONS
    );
    lib.close_session(other).unwrap();
    let again = lib.open_session(0, CKF_SERIAL_SESSION).unwrap();
    assert_eq!(
        lib.session_info(again).unwrap().state,
        CKS_RO_PUBLIC_SESSION
    );
    assert_eq!(lib.close_session(other), Err(Error::SessionHandleInvalid));
}

#[test]
fn handles_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = ready(&lib);
    let key = hmac_key(&lib, h).unwrap();
    lib.destroy_object(h, key).unwrap();
    let key2 = hmac_key(&lib, h).unwrap();
    assert_ne!(key, key2);
    assert_eq!(lib.destroy_object(h, key), Err(Error::ObjectHandleInvalid));
}

fn bytes(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attr {
    Attr {
        ty,
        value: v.to_vec(),
    }
}

/// A key wrapped on one token (its own store directory and master key)
/// unwraps on a token of another store and gives the same results.
#[test]
fn wrapped_key_moves_between_stores() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (library(dir_a.path()), library(dir_b.path()));
    let (ha, hb) = (ready(&a), ready(&b));
    let kek_value = [0x42u8; 32];
    let kek = |lib: &Library, h| {
        let template = [
            ulong(CKA_CLASS, CKO_SECRET_KEY),
            ulong(CKA_KEY_TYPE, CKK_AES),
            bytes(CKA_VALUE, &kek_value),
            flag(CKA_WRAP, true),
            flag(CKA_UNWRAP, true),
        ];
        lib.create_object(h, &template).unwrap()
    };
    let (kek_a, kek_b) = (kek(&a, ha), kek(&b, hb));
    let keygen = Mech {
        ty: CKM_GENERIC_SECRET_KEY_GEN,
        param: RawParam::None,
    };
    let secret = a
        .generate_key(
            ha,
            &keygen,
            &[
                ulong(CKA_VALUE_LEN, 32),
                flag(CKA_SIGN, true),
                flag(CKA_EXTRACTABLE, true),
                // A sensitive key leaves only under a CKA_TRUSTED key.
                flag(CKA_SENSITIVE, false),
            ],
        )
        .unwrap();
    let kwp = Mech {
        ty: CKM_AES_KEY_WRAP_KWP,
        param: RawParam::None,
    };
    let wrapped = match a
        .wrap_key(ha, &kwp, kek_a, secret, OutCap::Cap(4096))
        .unwrap()
    {
        Out::Data(v) => v,
        Out::Len(_) => panic!("no room"),
    };
    let template = [
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        flag(CKA_SIGN, true),
    ];
    let moved = b.unwrap_key(hb, &kwp, kek_b, &wrapped, &template).unwrap();
    let mac = |lib: &Library, h, key| {
        let mech = Mech {
            ty: CKM_SHA256_HMAC,
            param: RawParam::None,
        };
        lib.sign_init(h, Some(&mech), key).unwrap();
        lib.sign(h, b"same key?", OutCap::Cap(64)).unwrap()
    };
    assert_eq!(mac(&a, ha, secret), mac(&b, hb, moved));
    // Tampered in transit: refused, nothing created.
    let mut bad = wrapped.clone();
    bad[3] ^= 1;
    assert_eq!(
        b.unwrap_key(hb, &kwp, kek_b, &bad, &template),
        Err(Error::WrappedKeyInvalid)
    );
}

/// Processes guessing the user PIN at the same time get no more tries
/// between them than the limit: each try is counted before it is checked.
#[test]
fn concurrent_guesses_share_the_try_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = |dir: &std::path::Path| {
        let text = "pin_kdf_iterations = 1000\nmax_pin_failures = 3";
        Library::new(Config::build(Some(text), Some(dir.to_path_buf())).unwrap()).unwrap()
    };
    let first = config(dir.path());
    let h = ready(&first);
    first.logout(h).unwrap();
    let libraries = [
        std::sync::Arc::new(first),
        std::sync::Arc::new(config(dir.path())),
    ];
    let mut threads = Vec::new();
    for lib in &libraries {
        for _ in 0..2 {
            let lib = lib.clone();
            threads.push(std::thread::spawn(move || {
                let s = lib.open_session(0, CKF_SERIAL_SESSION).unwrap();
                (0..4)
                    .map(|_| lib.login(s, CKU_USER, b"wrong-pin"))
                    .collect::<Vec<_>>()
            }));
        }
    }
    let results: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let incorrect = results
        .iter()
        .filter(|r| **r == Err(Error::PinIncorrect))
        .count();
    let locked = results
        .iter()
        .filter(|r| **r == Err(Error::PinLocked))
        .count();
    assert_eq!((incorrect, locked), (3, results.len() - 3));
    // Locked even for the right PIN.
    let s = libraries[1].open_session(0, CKF_SERIAL_SESSION).unwrap();
    assert_eq!(
        libraries[1].login(s, CKU_USER, USER_PIN),
        Err(Error::PinLocked)
    );
}
