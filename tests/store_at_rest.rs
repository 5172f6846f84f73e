//! The store at rest: no key value and no PIN may appear in any file of the
//! store directory (SQLite main file, -wal, -shm), and a modified or swapped
//! sealed blob must make use of the key fail cleanly rather than succeed or
//! crash.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use sha2::Digest as _;

const AT_REST_SO_PIN: &str = "kw-so-pin-55821";
const AT_REST_USER_PIN: &str = "kw-user-pin-7391";
const AT_REST_NEW_USER_PIN: &str = "kw-new-user-pin-2846";

fn known_value(tag: &str) -> Vec<u8> {
    sha2::Sha256::digest(tag.as_bytes()).to_vec()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Each secret in its raw form and as hex (lower and upper case).
fn needles(secrets: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, v) in secrets {
        out.push((format!("{name} (raw)"), v.clone()));
        if v.len() >= 16 {
            let h = hex(v);
            out.push((format!("{name} (hex)"), h.clone().into_bytes()));
            out.push((format!("{name} (HEX)"), h.to_uppercase().into_bytes()));
        }
    }
    out
}

/// Panics naming the file and the secret found in it.
fn scan(env: &TestEnv, needles: &[(String, Vec<u8>)], when: &str) -> Vec<PathBuf> {
    let files = env.store_files();
    assert!(
        !files.is_empty(),
        "{when}: store dir {} is empty",
        env.store.display()
    );
    for f in &files {
        let bytes = fs::read(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        for (name, n) in needles {
            assert!(
                !contains(&bytes, n),
                "{when}: {name} found in {}",
                f.display()
            );
        }
        eprintln!("{when}: scanned {} ({} bytes)", f.display(), bytes.len());
    }
    files
}

fn is_sqlite(p: &Path) -> bool {
    fs::read(p).is_ok_and(|b| b.starts_with(b"SQLite format 3\0"))
}

fn login(s: &Session, user: UserType, p: &str) {
    s.login(user, Some(&pin(p))).expect("login");
}

/// Token initialized with the distinctive at-rest PINs.
fn init_at_rest_token(h: &Harness) {
    h.ctx
        .init_token(h.slot, &pin(AT_REST_SO_PIN), "at-rest")
        .expect("C_InitToken");
    let s = h.rw_session();
    login(&s, UserType::So, AT_REST_SO_PIN);
    s.init_pin(&pin(AT_REST_USER_PIN)).expect("C_InitPIN");
    s.logout().expect("logout");
}

#[test]
fn no_key_value_or_pin_in_store_files() {
    let mut h = Harness::new();
    init_at_rest_token(&h);
    let s = h.rw_session();
    login(&s, UserType::User, AT_REST_USER_PIN);
    let gen_key = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Token(true),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Private(false),
                Attribute::Label(b"generated-public".to_vec()),
            ],
        )
        .expect("AES keygen");
    let generated = attr_bytes(&s, gen_key, AttributeType::Value);
    assert_eq!(generated.len(), 32);
    let imported = known_value("keyward at-rest imported public key");
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(imported.clone()),
        Attribute::Token(true),
        Attribute::Private(false),
        // Readable, so the test can check the store really holds it.
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Label(b"imported-public".to_vec()),
    ])
    .expect("create public AES key");
    let private = known_value("keyward at-rest imported private key");
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(private.clone()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sign(true),
        Attribute::Label(b"imported-private".to_vec()),
    ])
    .expect("create private secret key");
    let mac_before = s
        .sign(
            &Mechanism::Sha256Hmac,
            find_by_label(&s, "imported-private")[0],
            b"m",
        )
        .expect("HMAC");
    s.set_pin(&pin(AT_REST_USER_PIN), &pin(AT_REST_NEW_USER_PIN))
        .expect("C_SetPIN");

    let secrets = needles(&[
        ("generated AES key", generated.clone()),
        ("imported public AES key", imported.clone()),
        ("imported private key", private),
        ("user PIN", AT_REST_USER_PIN.as_bytes().to_vec()),
        ("new user PIN", AT_REST_NEW_USER_PIN.as_bytes().to_vec()),
        ("SO PIN", AT_REST_SO_PIN.as_bytes().to_vec()),
    ]);
    // While the module runs (a -wal file may hold recent writes) ...
    scan(&h.env, &secrets, "while initialized");
    drop(s);
    h.finalize();
    // ... and after C_Finalize.
    let files = scan(&h.env, &secrets, "after C_Finalize");
    assert!(
        files.iter().any(|f| is_sqlite(f)),
        "no SQLite file in the store: {files:?}"
    );

    // The store really holds the keys: they come back intact.
    h.initialize();
    let s = h.rw_session();
    login(&s, UserType::User, AT_REST_NEW_USER_PIN);
    let g = find_by_label(&s, "generated-public");
    assert_eq!(attr_bytes(&s, g[0], AttributeType::Value), generated);
    let i = find_by_label(&s, "imported-public");
    assert_eq!(attr_bytes(&s, i[0], AttributeType::Value), imported);
    let p = find_by_label(&s, "imported-private");
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, p[0], b"m").expect("HMAC"),
        mac_before
    );
}

/// Tables of `db` with a BLOB-ish column named like `sealed`, objects first.
fn sealed_columns(db: &rusqlite::Connection) -> Vec<(String, String)> {
    let mut stmt = db
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        .expect("list schema");
    let tables: Vec<(String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query schema")
        .collect::<Result<_, _>>()
        .expect("schema rows");
    let mut found = Vec::new();
    for (table, sql) in &tables {
        eprintln!("schema: {table}: {}", sql.as_deref().unwrap_or(""));
        let mut cols = db
            .prepare("SELECT name, type FROM pragma_table_info(?1)")
            .expect("table_info");
        let cols: Vec<(String, String)> = cols
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("column rows");
        for (col, ty) in cols {
            let ty = ty.to_ascii_uppercase();
            if col.to_ascii_lowercase().contains("sealed") && (ty.contains("BLOB") || ty.is_empty())
            {
                found.push((table.clone(), col));
            }
        }
    }
    // Token-level sealed data (e.g. a wrapped master key) would break login;
    // the test is about object rows, so prefer tables named like objects.
    let objects: Vec<_> = found
        .iter()
        .filter(|(t, _)| t.to_ascii_lowercase().contains("obj"))
        .cloned()
        .collect();
    let chosen = if objects.is_empty() { found } else { objects };
    assert!(
        !chosen.is_empty(),
        "no BLOB column named like `sealed` in any table (see schema above)"
    );
    chosen
}

fn sqlite_files(env: &TestEnv) -> Vec<PathBuf> {
    let dbs: Vec<_> = env
        .store_files()
        .into_iter()
        .filter(|f| is_sqlite(f))
        .collect();
    assert!(!dbs.is_empty(), "no SQLite file in the store");
    dbs
}

/// Apply `edit` to the sealed blobs (rowid, blob) of every chosen table and
/// write back what it returns; returns how many rows were changed.
/// (rowid, sealed blob) pairs of one table.
type BlobRows = Vec<(i64, Vec<u8>)>;

fn edit_sealed_blobs(env: &TestEnv, edit: &dyn Fn(BlobRows) -> BlobRows) -> usize {
    let mut changed = 0;
    for path in sqlite_files(env) {
        let db = rusqlite::Connection::open(&path).expect("open store with rusqlite");
        for (table, col) in sealed_columns(&db) {
            let rows: BlobRows = db
                .prepare(&format!(
                    "SELECT rowid, \"{col}\" FROM \"{table}\" WHERE \"{col}\" IS NOT NULL"
                ))
                .expect("select blobs")
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query blobs")
                .collect::<Result<_, _>>()
                .expect("blob rows");
            for (rowid, blob) in edit(rows) {
                let n = db
                    .execute(
                        &format!("UPDATE \"{table}\" SET \"{col}\" = ?1 WHERE rowid = ?2"),
                        rusqlite::params![blob, rowid],
                    )
                    .expect("update blob");
                changed += n;
            }
        }
    }
    changed
}

fn secret_key(s: &Session, label: &str, value: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(value.to_vec()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .expect("create token key")
}

/// After tampering: the key must not be usable. Finding it may fail, find
/// nothing, or find it and then refuse to use it — never sign.
fn assert_key_unusable(s: &Session, label: &str) -> String {
    let handles = match s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())]) {
        Err(e) => return format!("C_FindObjects failed: {e}"),
        Ok(v) => v,
    };
    if handles.is_empty() {
        return "object no longer listed".to_string();
    }
    let mut outcome = String::new();
    for k in handles {
        match s.sign(&Mechanism::Sha256Hmac, k, b"tamper") {
            Ok(tag) => panic!("tampered key {label} still signs (tag {})", hex(&tag)),
            Err(e) => outcome.push_str(&format!("sign refused: {e}; ")),
        }
    }
    outcome
}

fn relogin_after_tamper(h: &mut Harness) -> Session {
    h.initialize();
    let s = h.rw_session();
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong-pin"))),
        RvError::PinIncorrect,
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login after tampering");
    s
}

/// The module keeps working for other objects after detecting tampering.
fn assert_still_usable(s: &Session) {
    let k = secret_key(s, "fresh-after-tamper", b"fresh key value 0123456789abcdef");
    s.sign(&Mechanism::Sha256Hmac, k, b"ok")
        .expect("new key works after tampering");
}

#[test]
fn modified_sealed_blob_is_rejected() {
    let mut h = Harness::new();
    h.ready();
    {
        let s = h.user_session();
        let k = secret_key(&s, "tamper-me", &known_value("tamper target"));
        s.sign(&Mechanism::Sha256Hmac, k, b"tamper")
            .expect("works before tampering");
    }
    h.finalize();
    let changed = edit_sealed_blobs(&h.env, &|rows| {
        rows.into_iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(id, mut b)| {
                let mid = b.len() / 2;
                b[mid] ^= 0x01;
                (id, b)
            })
            .collect()
    });
    assert!(changed > 0, "no sealed blob was modified");
    let s = relogin_after_tamper(&mut h);
    let outcome = assert_key_unusable(&s, "tamper-me");
    eprintln!("modified blob: {outcome}");
    assert_still_usable(&s);
}

#[test]
fn swapped_sealed_blobs_are_rejected() {
    let mut h = Harness::new();
    h.ready();
    {
        let s = h.user_session();
        secret_key(&s, "swap-a", &known_value("swap a"));
        secret_key(&s, "swap-b", &known_value("swap b"));
    }
    h.finalize();
    let changed = edit_sealed_blobs(&h.env, &|rows| {
        assert_eq!(rows.len(), 2, "expected exactly the two key rows");
        vec![
            (rows[0].0, rows[1].1.clone()),
            (rows[1].0, rows[0].1.clone()),
        ]
    });
    assert_eq!(changed, 2);
    let s = relogin_after_tamper(&mut h);
    // Each row now carries the other key's sealed value: a blob bound to its
    // own object must not open under another object's identity.
    let a = assert_key_unusable(&s, "swap-a");
    let b = assert_key_unusable(&s, "swap-b");
    eprintln!("swapped blobs: a: {a} b: {b}");
    assert_still_usable(&s);
}
