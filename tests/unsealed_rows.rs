//! No honoured attribute without a seal (issue 9, item 5). A row stored
//! without a login has an empty seal; anyone who can write the token file
//! can make one. So an unsealed row may carry only what a public session
//! may create, and trust (CKA_TRUSTED) is honoured only from a seal the
//! module checked. Attacks edit the token file with rusqlite while no
//! process has it open; uses go through the C ABI.

mod common;

use std::path::Path;

use common::lifecycle::*;
use common::ops::*;
use common::raw::{Init, Tmpl};
use cryptoki_sys::*;
use keyward::store::codec;
use rusqlite::Connection;

fn reopen(m: &mut Module) {
    m.init = Init::new();
}

fn oaep() -> Mech {
    Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, &[])
}

/// A session AES key that may be wrapped only with a trusted key.
fn precious(s: &Sess) -> CK_OBJECT_HANDLE {
    ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bytes(CKA_VALUE, &[5u8; 32])
                .bool(CKA_TOKEN, false)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_WRAP_WITH_TRUSTED, true),
        ),
        "CKA_WRAP_WITH_TRUSTED key",
    )
}

/// The SO stores an RSA public key on the token (sealed, since the SO is
/// logged in), not trusted and not for wrapping. Returns its row id.
fn so_public_key(m: &Module) -> i64 {
    let s = m.ready();
    let (session_pub, _) = ok(rsa(&s, 2048, Tmpl::new()), "RSA pair");
    let modulus = s.attr_ok(session_pub, CKA_MODULUS);
    ok(s.logout(), "user logout");
    ok(s.login(CKU_SO, common::SO_PIN), "SO login");
    ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_RSA)
                .bytes(CKA_MODULUS, &modulus)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
                .bool(CKA_TOKEN, true)
                .bool(CKA_WRAP, false)
                .bool(CKA_ENCRYPT, true)
                .bytes(CKA_LABEL, b"so-pub"),
        ),
        "SO creates a public key",
    );
    ok(s.logout(), "SO logout");
    let db = m.snapshot();
    db.query_row(
        "SELECT id FROM object WHERE class = ?1 AND lookup_label = ?2",
        rusqlite::params![i64::try_from(CKO_PUBLIC_KEY).unwrap(), b"so-pub".to_vec()],
        |r| r.get(0),
    )
    .unwrap()
}

/// Sets CKA_TRUSTED and CKA_WRAP in row `id`'s clear attributes; with
/// `blank`, also empties its seal (as if made without a login).
fn forge_trust(path: &Path, id: i64, blank: bool) {
    let db = Connection::open(path).unwrap();
    let public: Vec<u8> = db
        .query_row("SELECT public FROM object WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    let mut attrs = codec::decode_attrs(&public).unwrap();
    assert_eq!(attrs.get(&CKA_TRUSTED), Some(&vec![0u8]), "precondition");
    attrs.insert(CKA_TRUSTED, vec![1]);
    attrs.insert(CKA_WRAP, vec![1]);
    let forged = codec::encode_attrs(&attrs);
    if blank {
        db.execute(
            "UPDATE object SET public = ?1, sealed = x'' WHERE id = ?2",
            rusqlite::params![forged, id],
        )
        .unwrap();
    } else {
        db.execute(
            "UPDATE object SET public = ?1 WHERE id = ?2",
            rusqlite::params![forged, id],
        )
        .unwrap();
    }
}

fn damage_records(path: &Path, id: i64) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM audit WHERE event = 'object_damaged' AND object = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn blanked_seal_with_forged_trust_is_damage_not_a_trusted_key() {
    let mut m = Module::start("");
    let id = so_public_key(&m);
    m.finalize();
    forge_trust(&m.db_path(), id, true);

    reopen(&mut m);
    let s = open_rw(m.f(), 0);
    let find = |s: &Sess| ok(s.find(Tmpl::new().bytes(CKA_LABEL, b"so-pub")), "find");
    // Not logged in: still damaged (an unsealed row may not be trusted).
    let h = find(&s)[0];
    assert_eq!(s.attr(h, CKA_TRUSTED), Err(CKR_DEVICE_ERROR));
    assert_eq!(s.encrypt_init(&oaep(), h), Err(CKR_DEVICE_ERROR));
    // Logged in: the forged key does not wrap a CKA_WRAP_WITH_TRUSTED key.
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    let h = find(&s)[0];
    let k = precious(&s);
    assert_eq!(s.wrap(&oaep(), h, k), Err(CKR_DEVICE_ERROR), "C_WrapKey");
    assert_eq!(s.attr(h, CKA_TRUSTED), Err(CKR_DEVICE_ERROR));
    m.finalize();
    assert_eq!(damage_records(&m.db_path(), id), 1, "damage audited once");
}

#[test]
fn forged_clear_trust_on_a_sealed_row_is_never_honoured() {
    let mut m = Module::start("");
    let id = so_public_key(&m);
    m.finalize();
    forge_trust(&m.db_path(), id, false);

    reopen(&mut m);
    let s = open_rw(m.f(), 0);
    let h = ok(s.find(Tmpl::new().bytes(CKA_LABEL, b"so-pub")), "find")[0];
    // Without a login the seal cannot be checked: the trust it claims
    // reads as absent for any use, while public operations with it (here
    // encryption; verification for pkcs11-tool --verify) go on.
    ok(s.encrypt_once(&oaep(), h, b"hello"), "public encryption");
    // Logged in, the seal is checked and fails: damage.
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    let k = precious(&s);
    assert_eq!(s.wrap(&oaep(), h, k), Err(CKR_DEVICE_ERROR), "C_WrapKey");
    m.finalize();
    assert_eq!(damage_records(&m.db_path(), id), 1);
}

#[test]
fn untouched_so_key_still_works_in_public_and_user_sessions() {
    let m = Module::start("");
    so_public_key(&m);
    let s = open_rw(m.f(), 0);
    let h = ok(s.find(Tmpl::new().bytes(CKA_LABEL, b"so-pub")), "find")[0];
    ok(
        s.encrypt_once(&oaep(), h, b"hello"),
        "public-session encryption",
    );
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    ok(
        s.encrypt_once(&oaep(), h, b"hello"),
        "user-session encryption",
    );
}

#[test]
fn public_session_objects_without_power_still_work() {
    let m = Module::start("");
    let _ = m.ready();
    let s = open_rw(m.f(), 0);
    let _ = s.logout();
    // A certificate and a data object stored without a login (NSS and
    // pkcs11-tool do this) are found and read, logged in or not.
    let cert = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_CERTIFICATE)
                .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
                .bool(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"public-cert")
                .bytes(CKA_SUBJECT, b"\x30\x00")
                .bytes(CKA_VALUE, b"\x30\x03\x02\x01\x01"),
        ),
        "certificate without login",
    );
    assert_eq!(s.attr_ok(cert, CKA_VALUE), b"\x30\x03\x02\x01\x01");
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    let found = ok(s.find(Tmpl::new().bytes(CKA_LABEL, b"public-cert")), "find");
    assert_eq!(found, vec![cert]);
    assert_eq!(s.attr_ok(cert, CKA_VALUE), b"\x30\x03\x02\x01\x01");
}

#[test]
fn public_session_may_not_store_power_it_cannot_seal() {
    let m = Module::start("");
    let s = m.ready();
    let (ec_pub, _) = ok(
        ec(&s, common::P256_PARAMS, "ec", false, |t| t),
        "session EC pair",
    );
    let point = s.attr_ok(ec_pub, CKA_EC_POINT);
    ok(s.logout(), "logout");
    let public = |derive: bool| {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .bytes(CKA_EC_PARAMS, common::P256_PARAMS)
            .bytes(CKA_EC_POINT, &point)
            .bool(CKA_TOKEN, true)
            .bool(CKA_DERIVE, derive)
    };
    assert_eq!(
        s.create(public(true)),
        Err(CKR_USER_NOT_LOGGED_IN),
        "CKA_DERIVE=true without a seal"
    );
    let plain = ok(s.create(public(false)), "plain public key without login");
    assert_eq!(
        s.set_attr(plain, Tmpl::new().bool(CKA_DERIVE, true)),
        Err(CKR_USER_NOT_LOGGED_IN),
        "C_SetAttributeValue CKA_DERIVE=true without a login"
    );
    ok(s.login(CKU_USER, common::USER_PIN), "login");
    ok(s.create(public(true)), "the same key with a login");
}
