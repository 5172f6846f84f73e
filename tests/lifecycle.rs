//! Key lifecycle through the C ABI (issue 5): the vendor attributes every
//! new key carries, pre-active keys, start and end dates, batched use
//! counters, the `[policy]` rules (each refusal audited) and the audit
//! trail of a token's whole life.

mod common;

use std::collections::HashMap;

use common::lifecycle::*;
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;
use sha2::Digest as _;

const MSG: &[u8] = b"lifecycle test message";

fn refused<T: std::fmt::Debug>(r: Rv<T>, what: &str) {
    err(r, CKR_KEY_FUNCTION_NOT_PERMITTED, what);
}

#[test]
fn new_keys_carry_state_origin_creation_and_a_stable_id() {
    let m = Module::start("");
    let s = m.ready();
    let wrapper = ok(
        aes(&s, "gen", true, |t| {
            t.bool(CKA_WRAP, true).bool(CKA_UNWRAP, true)
        }),
        "generate AES",
    );
    // Not sensitive: only a CKA_TRUSTED key wraps sensitive keys.
    let imp = ok(
        s.create(imported(&[0x5a; 32], "imp", true).bool(CKA_SENSITIVE, false)),
        "import",
    );
    let wrapped = ok(s.wrap(&Mech::new(CKM_AES_KEY_WRAP), wrapper, imp), "wrap");
    let unw = ok(
        s.unwrap(
            &Mech::new(CKM_AES_KEY_WRAP),
            wrapper,
            &wrapped,
            made_secret("unw", true),
        ),
        "unwrap",
    );
    let der = ok(s.derive(&hkdf(), imp, made_secret("der", true)), "derive");
    let cp = ok(
        copy_object(&s, imp, Tmpl::new().bytes(CKA_LABEL, b"cp")),
        "copy",
    );
    let (ec_pub, ec_priv) = ok(ec(&s, common::P256_PARAMS, "ec", true, |t| t), "EC pair");
    let keys = [
        ("gen", wrapper, CKW_ORIGIN_GENERATED, CKO_SECRET_KEY),
        ("imp", imp, CKW_ORIGIN_IMPORTED, CKO_SECRET_KEY),
        ("unw", unw, CKW_ORIGIN_UNWRAPPED, CKO_SECRET_KEY),
        ("der", der, CKW_ORIGIN_DERIVED, CKO_SECRET_KEY),
        ("cp", cp, CKW_ORIGIN_COPIED, CKO_SECRET_KEY),
        ("ec", ec_pub, CKW_ORIGIN_GENERATED, CKO_PUBLIC_KEY),
        ("ec", ec_priv, CKW_ORIGIN_GENERATED, CKO_PRIVATE_KEY),
    ];
    let mut ids = HashMap::new();
    for (label, h, origin, class) in keys {
        let what = format!("{label} (class {class})");
        assert_eq!(
            ulong_attr(&s, h, CKA_KEYWARD_STATE),
            Ok(CKW_STATE_ACTIVE),
            "{what}"
        );
        assert_eq!(ulong_attr(&s, h, CKA_KEYWARD_ORIGIN), Ok(origin), "{what}");
        assert_about_now(s.attr_ulong(h, CKA_KEYWARD_CREATED), &what);
        let id = s.attr_ulong(h, CKA_KEYWARD_OBJECT_ID);
        assert_ne!(id, 0, "{what}: CKA_KEYWARD_OBJECT_ID");
        assert!(ids.insert((label, class), id).is_none());
    }
    let mut distinct: Vec<_> = ids.values().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "object ids must differ: {ids:?}");

    // The ids survive a restart, in a new session, with new handles.
    m.restart();
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "login");
    for ((label, class), id) in &ids {
        let found = ok(
            s.find(
                Tmpl::new()
                    .bytes(CKA_LABEL, label.as_bytes())
                    .ulong(CKA_CLASS, *class),
            ),
            "find",
        );
        assert_eq!(found.len(), 1, "{label}");
        assert_eq!(
            s.attr_ulong(found[0], CKA_KEYWARD_OBJECT_ID),
            *id,
            "{label}"
        );
    }
}

/// The lifecycle refusals below are shown on one AES key with every use,
/// which the default policy refuses (docs/KEY-SEPARATION.md, rule 1 —
/// tests/key_extraction.rs); these tests turn that one rule off.
const ONE_KEY_EVERY_USE: &str = "[policy]\nwrap_separation = false\n";

#[test]
fn pre_active_keys_refuse_every_use() {
    let m = Module::start(ONE_KEY_EVERY_USE);
    let s = m.ready();
    let pre = |t: Tmpl| t.ulong(CKA_KEYWARD_STATE, CKW_STATE_PRE_ACTIVE);
    let all_uses = |t: Tmpl| {
        pre(t)
            .bool(CKA_ENCRYPT, true)
            .bool(CKA_DECRYPT, true)
            .bool(CKA_WRAP, true)
            .bool(CKA_UNWRAP, true)
            .bool(CKA_SIGN, true)
            .bool(CKA_VERIFY, true)
    };
    let k = ok(aes(&s, "pre", false, all_uses), "pre-active AES");
    assert_eq!(s.attr_ulong(k, CKA_KEYWARD_STATE), CKW_STATE_PRE_ACTIVE);
    let target = ok(
        s.create(imported(&[7; 32], "target", false).bool(CKA_SENSITIVE, false)),
        "target",
    );
    let ecb = Mech::new(CKM_AES_ECB);
    refused(s.encrypt_init(&ecb, k), "encrypt");
    refused(s.decrypt_init(&ecb, k), "decrypt");
    refused(s.sign_init(&Mech::new(CKM_AES_CMAC), k), "CMAC sign");
    refused(s.verify_init(&Mech::new(CKM_AES_CMAC), k), "CMAC verify");
    refused(s.wrap(&Mech::new(CKM_AES_KEY_WRAP), k, target), "wrap");
    refused(
        s.unwrap(
            &Mech::new(CKM_AES_KEY_WRAP),
            k,
            &[0u8; 40],
            made_secret("x", false),
        ),
        "unwrap",
    );
    let base = ok(
        s.create(pre(imported(&[8; 32], "base", false))),
        "pre-active import",
    );
    refused(s.derive(&hkdf(), base, made_secret("d", false)), "derive");
    let (pubk, privk) = ok(
        ec(&s, common::P256_PARAMS, "pre-ec", false, pre),
        "pre-active EC",
    );
    refused(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), privk),
        "ECDSA sign",
    );
    refused(
        s.verify_init(&Mech::new(CKM_ECDSA_SHA256), pubk),
        "ECDSA verify",
    );
    assert_refusal_audited(
        &m,
        "use_refused",
        "CKR_KEY_FUNCTION_NOT_PERMITTED",
        "pre-active",
    );
}

#[test]
fn lifecycle_attributes_are_read_only() {
    let m = Module::start("");
    let s = m.ready();
    // Values no attribute of the keys below has (their origin is
    // "generated"), so each C_SetAttributeValue is a change.
    let others: [(CK_ATTRIBUTE_TYPE, Vec<u8>); 9] = [
        (CKA_KEYWARD_STATE_REASON, b"because".to_vec()),
        (CKA_KEYWARD_CREATED, 12345u64.to_ne_bytes().to_vec()),
        (CKA_KEYWARD_LAST_USED, 12345u64.to_ne_bytes().to_vec()),
        (CKA_KEYWARD_USE_COUNT, 12345u64.to_ne_bytes().to_vec()),
        (
            CKA_KEYWARD_ORIGIN,
            CKW_ORIGIN_DERIVED.to_ne_bytes().to_vec(),
        ),
        (CKA_KEYWARD_OBJECT_ID, 12345u64.to_ne_bytes().to_vec()),
        (CKA_KEYWARD_PREDECESSOR, 12345u64.to_ne_bytes().to_vec()),
        (CKA_KEYWARD_SUCCESSOR, 12345u64.to_ne_bytes().to_vec()),
        (CKA_KEYWARD_STATE_CHANGED, 12345u64.to_ne_bytes().to_vec()),
    ];
    for (ty, v) in &others {
        let what = format!("{ty:#x} in a template");
        err(
            aes(&s, "ro", true, |t| t.bytes(*ty, v)),
            CKR_ATTRIBUTE_READ_ONLY,
            &what,
        );
        err(
            s.create(imported(&[3; 32], "ro", true).bytes(*ty, v)),
            CKR_ATTRIBUTE_READ_ONLY,
            &what,
        );
    }
    // The other ways of making a key take no lifecycle attribute either.
    let base = ok(s.create(imported(&[5; 32], "base", true)), "import");
    for (ty, v) in &others {
        let what = format!("{ty:#x} in a copy template");
        err(
            copy_object(&s, base, Tmpl::new().bytes(*ty, v)),
            CKR_ATTRIBUTE_READ_ONLY,
            &what,
        );
        let what = format!("{ty:#x} in a derive template");
        err(
            s.derive(&hkdf(), base, made_secret("d", true).bytes(*ty, v)),
            CKR_ATTRIBUTE_READ_ONLY,
            &what,
        );
    }
    let k = ok(aes(&s, "k", true, |t| t.bool(CKA_ENCRYPT, true)), "AES");
    let pre = ok(
        aes(&s, "p", true, |t| {
            t.ulong(CKA_KEYWARD_STATE, CKW_STATE_PRE_ACTIVE)
        }),
        "pre-active AES",
    );
    // Changes only: like every read-only attribute, setting the value it
    // already has is accepted as a no-op.
    for (h, to) in [(k, 3), (k, CKW_STATE_PRE_ACTIVE), (pre, CKW_STATE_ACTIVE)] {
        err(
            s.set_attr(h, Tmpl::new().ulong(CKA_KEYWARD_STATE, to)),
            CKR_ATTRIBUTE_READ_ONLY,
            &format!("C_SetAttributeValue(CKA_KEYWARD_STATE = {to})"),
        );
    }
    for (ty, v) in &others {
        err(
            s.set_attr(k, Tmpl::new().bytes(*ty, v)),
            CKR_ATTRIBUTE_READ_ONLY,
            &format!("C_SetAttributeValue({ty:#x})"),
        );
    }
    assert_eq!(s.attr_ulong(k, CKA_KEYWARD_STATE), CKW_STATE_ACTIVE);
    assert_eq!(s.attr_ulong(pre, CKA_KEYWARD_STATE), CKW_STATE_PRE_ACTIVE);
}

#[test]
fn start_date_in_the_future_refuses_sign_and_verify() {
    let m = Module::start("");
    let s = m.ready();
    let (pubk, privk) = ok(ec(&s, common::P256_PARAMS, "future", false, |t| t), "EC");
    let sha256 = Mech::new(CKM_ECDSA_SHA256);
    let sig = ok(s.sign_once(&sha256, privk, MSG), "sign before");
    let tomorrow = date_from_today(1);
    for h in [pubk, privk] {
        ok(
            s.set_attr(h, Tmpl::new().bytes(CKA_START_DATE, &tomorrow)),
            "set start date",
        );
    }
    refused(s.sign_init(&sha256, privk), "sign before the start date");
    refused(s.verify_init(&sha256, pubk), "verify before the start date");
    assert_refusal_audited(
        &m,
        "use_refused",
        "CKR_KEY_FUNCTION_NOT_PERMITTED",
        "start date",
    );
    // Today is fine again.
    for h in [pubk, privk] {
        let today = date_from_today(0);
        ok(
            s.set_attr(h, Tmpl::new().bytes(CKA_START_DATE, &today)),
            "start today",
        );
    }
    ok(s.verify_once(&sha256, pubk, MSG, &sig), "verify from today");
}

#[test]
fn end_date_in_the_past_allows_only_processing_old_data() {
    let m = Module::start(ONE_KEY_EVERY_USE);
    let s = m.ready();
    let (pubk, privk) = ok(ec(&s, common::P256_PARAMS, "expired", false, |t| t), "EC");
    let k = ok(
        aes(&s, "expired-aes", false, |t| {
            t.bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true)
        }),
        "AES",
    );
    let base = ok(
        s.create(imported(&[9; 32], "expired-kdf", false)),
        "HKDF base",
    );
    let target = ok(
        s.create(imported(&[4; 32], "target", false).bool(CKA_SENSITIVE, false)),
        "target",
    );
    let (sha256, ecb, kw) = (
        Mech::new(CKM_ECDSA_SHA256),
        Mech::new(CKM_AES_ECB),
        Mech::new(CKM_AES_KEY_WRAP),
    );
    let sig = ok(s.sign_once(&sha256, privk, MSG), "sign");
    let data = [0x42u8; 32];
    let ct = ok(s.encrypt_once(&ecb, k, &data), "encrypt");
    let wrapped = ok(s.wrap(&kw, k, target), "wrap");
    let yesterday = date_from_today(-1);
    for h in [pubk, privk, k, base] {
        ok(
            s.set_attr(h, Tmpl::new().bytes(CKA_END_DATE, &yesterday)),
            "set end date",
        );
    }
    refused(s.sign_init(&sha256, privk), "sign after the end date");
    assert_refusal_audited(
        &m,
        "use_refused",
        "CKR_KEY_FUNCTION_NOT_PERMITTED",
        "end date",
    );
    refused(s.encrypt_init(&ecb, k), "encrypt after the end date");
    refused(s.wrap(&kw, k, target), "wrap after the end date");
    refused(
        s.derive(&hkdf(), base, made_secret("d", false)),
        "derive after the end date",
    );
    ok(
        s.verify_once(&sha256, pubk, MSG, &sig),
        "verify after the end date",
    );
    assert_eq!(
        ok(s.decrypt_once(&ecb, k, &ct), "decrypt after the end date"),
        data
    );
    ok(
        s.unwrap(&kw, k, &wrapped, made_secret("u", false)),
        "unwrap after the end date",
    );

    let by_label = |sign: Option<bool>| {
        let t = Tmpl::new().bytes(CKA_LABEL, b"expired");
        let t = match sign {
            Some(v) => t.bool(CKA_SIGN, v),
            None => t,
        };
        ok(s.find(t), "find")
    };
    assert_eq!(
        by_label(Some(true)),
        Vec::<CK_OBJECT_HANDLE>::new(),
        "CKA_SIGN = TRUE search"
    );
    let all = by_label(None);
    assert!(
        all.contains(&privk) && all.contains(&pubk),
        "plain search: {all:?}"
    );
}

#[test]
fn use_counts_are_batched_and_persisted_at_session_close() {
    const N: u64 = 7;
    let m = Module::start("");
    let s = m.ready();
    let (_, privk) = ok(ec(&s, common::P256_PARAMS, "counted", true, |t| t), "EC");
    let id = s.attr_ulong(privk, CKA_KEYWARD_OBJECT_ID);
    for i in 0..N {
        ok(
            s.sign_once(
                &Mech::new(CKM_ECDSA_SHA256),
                privk,
                &[u8::try_from(i).unwrap()],
            ),
            "sign",
        );
    }
    // The live count includes what is not yet written.
    assert_eq!(
        s.attr_ulong(privk, CKA_KEYWARD_USE_COUNT),
        N,
        "live use count"
    );
    // Fewer than the batch size: nothing written per signature.
    let before = m.usage_row(id);
    assert!(
        before.is_none_or(|(count, _)| count == 0),
        "usage row written per signature: {before:?}"
    );
    close_session(&s);
    let after = m.usage_row(id).expect("usage row after C_CloseSession");
    assert_eq!(
        after.0,
        i64::try_from(N).unwrap(),
        "stored count after close"
    );

    m.restart();
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "login");
    let found = ok(
        s.find(
            Tmpl::new()
                .bytes(CKA_LABEL, b"counted")
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        ),
        "find",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(s.attr_ulong(found[0], CKA_KEYWARD_USE_COUNT), N);
    assert_about_now(s.attr_ulong(found[0], CKA_KEYWARD_LAST_USED), "LAST_USED");
}

const AUDIT_SO_PIN: &str = "so-PIN-audit-7f3c1";
const AUDIT_USER_PIN: &str = "user-PIN-audit-9d2e4";
const AUDIT_NEW_PIN: &str = "user-PIN-new-5a8b0";
const AUDIT_WRONG_PIN: &str = "wrong-PIN-1b7c6";

/// Every byte of every audit row.
fn audit_table_bytes(m: &Module) -> Vec<u8> {
    if !common::backend::sqlite() {
        let rows = common::backend::token_db()
            .audit_rows(&Default::default())
            .unwrap();
        let mut out = Vec::new();
        for r in rows {
            out.extend(r.seq.to_string().bytes());
            out.extend(r.time_ms.to_string().bytes());
            out.extend(r.event.bytes());
            out.extend(r.object.map(|o| o.to_string()).unwrap_or_default().bytes());
            out.extend(r.body);
            out.extend(r.hash);
            out.extend(r.mac.unwrap_or_default());
        }
        return out;
    }
    let db = m.snapshot();
    let mut stmt = db
        .prepare("SELECT seq, time, event, object, body, hash, mac FROM audit ORDER BY seq")
        .unwrap();
    let mut out = Vec::new();
    let rows = stmt
        .query_map([], |r| {
            let mut v = Vec::new();
            for i in 0..7 {
                match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        v.extend_from_slice(t)
                    }
                    rusqlite::types::ValueRef::Integer(n) => v.extend(n.to_string().bytes()),
                    _ => {}
                }
            }
            Ok(v)
        })
        .unwrap();
    for r in rows {
        out.extend(r.unwrap());
    }
    out
}

/// The token's life, from C_InitToken to a locked user PIN: each step
/// leaves its record, in order, with who did it and nothing secret.
#[test]
fn audit_trail_records_the_token_life() {
    let m = Module::start("max_pin_failures = 3\n");
    let f = m.f();
    init_token(f, AUDIT_SO_PIN);
    let s = open_rw(f, 0);
    ok(s.login(CKU_SO, AUDIT_SO_PIN), "SO login");
    ok(init_pin(&s, AUDIT_USER_PIN), "C_InitPIN");
    ok(s.logout(), "SO logout");
    assert_eq!(try_login(&s, CKU_USER, AUDIT_WRONG_PIN), CKR_PIN_INCORRECT);
    ok(s.login(CKU_USER, AUDIT_USER_PIN), "user login");

    let key_value = sha2::Sha256::digest(b"audit known key value").to_vec();
    let data = Tmpl::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, true)
        .bytes(CKA_LABEL, b"data")
        .bytes(CKA_VALUE, b"some data");
    ok(s.create(data), "create data object");
    let wrapper = ok(
        aes(&s, "wrapper", true, |t| {
            t.bool(CKA_WRAP, true).bool(CKA_UNWRAP, true)
        }),
        "generate",
    );
    let imp = ok(
        s.create(imported(&key_value, "imported", true).bool(CKA_SENSITIVE, false)),
        "import",
    );
    let cp = ok(
        copy_object(&s, imp, Tmpl::new().bytes(CKA_LABEL, b"copy")),
        "copy",
    );
    ok(
        s.set_attr(imp, Tmpl::new().bytes(CKA_LABEL, b"renamed")),
        "set attribute",
    );
    let kw = Mech::new(CKM_AES_KEY_WRAP);
    let wrapped = ok(s.wrap(&kw, wrapper, imp), "wrap");
    ok(
        s.unwrap(&kw, wrapper, &wrapped, made_secret("unwrapped", true)),
        "unwrap",
    );
    ok(
        s.derive(&hkdf(), imp, made_secret("derived", true)),
        "derive",
    );
    ok(s.destroy(cp), "destroy");
    ok(set_pin(&s, AUDIT_USER_PIN, AUDIT_NEW_PIN), "C_SetPIN");
    ok(s.logout(), "logout");
    for i in 0..3 {
        let r = try_login(&s, CKU_USER, AUDIT_WRONG_PIN);
        assert!(
            r == CKR_PIN_INCORRECT || (i == 2 && r == CKR_PIN_LOCKED),
            "wrong PIN {i}: {r:#x}"
        );
    }
    assert_eq!(
        try_login(&s, CKU_USER, AUDIT_NEW_PIN),
        CKR_PIN_LOCKED,
        "locked out"
    );

    let records = m.audit();
    let expected = [
        ("token_init", "so"),
        ("pin_init", "so"),
        ("login_failed", "public"),
        ("login", "user"),
        ("create", "user"),
        ("generate", "user"),
        ("import", "user"),
        ("copy", "user"),
        ("set_attribute", "user"),
        ("wrap", "user"),
        ("unwrap", "user"),
        ("derive", "user"),
        ("destroy", "user"),
        ("pin_change", "user"),
        ("pin_locked", "public"),
    ];
    let events: Vec<&str> = records.iter().map(AuditRec::event).collect();
    let mut at = 0;
    let pid = u64::from(std::process::id());
    for (event, role) in expected {
        let Some(i) = records[at..].iter().position(|r| r.event() == event) else {
            panic!("no {event:?} after record {at} in {events:?}");
        };
        let rec = &records[at + i];
        assert_eq!(rec.role(), role, "{event}: {}", rec.body);
        assert_eq!(rec.body["pid"].as_u64(), Some(pid), "{event}: {}", rec.body);
        assert_eq!(rec.body["slot"].as_u64(), Some(0), "{event}: {}", rec.body);
        if role == "user" {
            assert!(rec.has_mac, "{event} made while logged in has no MAC");
        }
        if event == "login_failed" {
            assert!(!rec.has_mac, "a failed login's record has a MAC");
            assert_eq!(rec.result(), "CKR_PIN_INCORRECT", "{}", rec.body);
        }
        at += i + 1;
    }
    let destroy = records.iter().find(|r| r.event() == "destroy").unwrap();
    assert!(
        destroy.body["object"].as_u64().is_some(),
        "{}",
        destroy.body
    );

    let bytes = audit_table_bytes(&m);
    let hex = common::hex(&key_value);
    let secrets: [(&str, &[u8]); 7] = [
        ("SO PIN", AUDIT_SO_PIN.as_bytes()),
        ("user PIN", AUDIT_USER_PIN.as_bytes()),
        ("new user PIN", AUDIT_NEW_PIN.as_bytes()),
        ("wrong PIN", AUDIT_WRONG_PIN.as_bytes()),
        ("key value", &key_value),
        ("key value (hex)", hex.as_bytes()),
        ("key value (HEX)", &hex.to_uppercase().into_bytes()),
    ];
    for (name, secret) in secrets {
        assert!(!contains(&bytes, secret), "{name} found in the audit table");
    }
}
