//! Separation of duties through the module's C ABI: a quorum-protected
//! C_DestroyObject, C_WrapKey, C_GetAttributeValue(CKA_VALUE),
//! C_SetAttributeValue, C_InitPIN and C_InitToken answer
//! CKR_ACTION_PROHIBITED (a secret value: CKR_ATTRIBUTE_SENSITIVE) until
//! officers approve a request for exactly that operation and target, then
//! succeed once. Officers, rules, requests and votes go through the real
//! `keyward` CLI in other processes, as they would in production. M-1
//! approvals, another target, a denial, an expired request, votes copied
//! or edited in the token file, an executed request set back to approved,
//! and an edited roster are all refused.

#[macro_use]
mod common;

use std::process::{Command, Output, Stdio};

use common::ops::*;
use common::raw::*;
use common::{SO_PIN, TestEnv, USER_PIN};
use cryptoki_sys::*;
use keyward::lifecycle::vendor::{CKA_KEYWARD_OBJECT_ID, CKA_KEYWARD_QUORUM};

const OFFICERS: [&str; 3] = ["alice", "bob", "carol"];

fn passphrase(officer: &str) -> String {
    format!("{officer}-passphrase")
}

/// Runs `keyward` on the test's token with `vars` set.
fn kw(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(common::cli_bin::keyward_bin())
        .env("KEYWARD_CONF", &env.conf)
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_SO_PIN")
        .env_remove("KEYWARD_OFFICER_PASSPHRASE")
        .envs(vars.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn kw_ok(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    let out = kw(env, args, vars);
    assert_eq!(
        out.status.code(),
        Some(0),
        "keyward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[track_caller]
fn kw_fails(env: &TestEnv, args: &[&str], vars: &[(&str, &str)], code: i32, text: &str) {
    let out = kw(env, args, vars);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "keyward {args:?}: {err}");
    assert!(err.contains(text), "{text:?} not in {err:?}");
}

/// The three officers, added by the SO.
fn add_officers(env: &TestEnv) {
    for o in OFFICERS {
        let pass = passphrase(o);
        kw_ok(
            env,
            &["officer", "add", o],
            &[
                ("KEYWARD_SO_PIN", SO_PIN),
                ("KEYWARD_NEW_OFFICER_PASSPHRASE", &pass),
            ],
        );
    }
}

/// Sets rules (CLASS=M …) in one change, as the SO.
fn rules(env: &TestEnv, pairs: &[&str]) {
    let mut args = vec!["quorum", "set"];
    args.extend_from_slice(pairs);
    kw_ok(env, &args, &[("KEYWARD_SO_PIN", SO_PIN)]);
}

/// Files a request; returns its id.
fn request(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["--json", "request"];
    all.extend_from_slice(args);
    let out = kw_ok(env, &all, &[("KEYWARD_PIN", USER_PIN)]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["id"].as_i64().unwrap().to_string()
}

fn vote(env: &TestEnv, verb: &str, id: &str, officer: &str) {
    let pass = passphrase(officer);
    kw_ok(
        env,
        &[verb, id, "--officer", officer],
        &[("KEYWARD_OFFICER_PASSPHRASE", &pass)],
    );
}

fn approve(env: &TestEnv, id: &str, officers: &[&str]) {
    for o in officers {
        vote(env, "approve", id, o);
    }
}

/// `object:<id>` of a token object (its CKA_KEYWARD_OBJECT_ID).
fn target(s: &Sess, o: CK_OBJECT_HANDLE) -> String {
    format!("object:{}", s.attr_ulong(o, CKA_KEYWARD_OBJECT_ID))
}

/// A token AES-256 key; `extra` adds to the template.
fn token_aes(s: &Sess, label: &str, extra: impl FnOnce(Tmpl) -> Tmpl) -> CK_OBJECT_HANDLE {
    let t = Tmpl::new()
        .bool(CKA_TOKEN, true)
        .bytes(CKA_LABEL, label.as_bytes())
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true);
    ok(
        s.generate_key(&Mech::new(CKM_AES_KEY_GEN), extra(t)),
        "C_GenerateKey",
    )
}

/// The events of the audit trail, in order.
fn events(env: &TestEnv) -> Vec<String> {
    kw_ok(env, &["audit", "export"], &[])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"].as_str().unwrap().to_string()
        })
        .collect()
}

fn count(events: &[String], kind: &str) -> usize {
    events.iter().filter(|e| *e == kind).count()
}

fn setup() -> (TestEnv, Init, Sess) {
    setup_with("")
}

fn setup_with(config: &str) -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config(config);
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    add_officers(&env);
    (env, init, s)
}

#[test]
fn destroy_needs_two_approvals_and_happens_once() {
    let (env, _init, s) = setup();
    rules(&env, &["destroy=2"]);
    let k1 = token_aes(&s, "k1", |t| t);
    let k2 = token_aes(&s, "k2", |t| t);
    err(s.destroy(k1), CKR_ACTION_PROHIBITED, "no request");
    let id = request(&env, &["destroy", &target(&s, k1), "--reason", "retire"]);
    approve(&env, &id, &["alice"]);
    err(s.destroy(k1), CKR_ACTION_PROHIBITED, "one approval of two");
    approve(&env, &id, &["bob"]);
    err(
        s.destroy(k2),
        CKR_ACTION_PROHIBITED,
        "approved for another key",
    );
    ok(s.destroy(k1), "approved destroy");
    // Used up: a third vote on it, or a second use, is refused.
    kw_fails(
        &env,
        &["approve", &id, "--officer", "carol"],
        &[("KEYWARD_OFFICER_PASSPHRASE", &passphrase("carol"))],
        6,
        "is executed",
    );
    let status = kw_ok(&env, &["requests", &id], &[]);
    assert!(status.contains("state      executed"), "{status}");
    assert!(
        status.contains("approvals  2 of 2 (alice, bob)"),
        "{status}"
    );
    // A key of another class, or one no rule covers, is not held back:
    // the public key of a pair, and a session key.
    let session_key = ok(
        s.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            Tmpl::new().ulong(CKA_VALUE_LEN, 16),
        ),
        "session key",
    );
    ok(
        s.destroy(session_key),
        "a session key is not quorum-protected",
    );
    let ev = events(&env);
    assert_eq!(count(&ev, "quorum_refused"), 3, "{ev:?}");
    assert_eq!(count(&ev, "quorum_executed"), 1, "{ev:?}");
    assert_eq!(count(&ev, "quorum_vote"), 2, "{ev:?}");
    assert_eq!(count(&ev, "quorum_request"), 1, "{ev:?}");
    kw_ok(&env, &["audit", "verify"], &[("KEYWARD_PIN", USER_PIN)]);
}

#[test]
fn wrapping_and_reading_a_value_are_exports() {
    // Readable secret values need the compat profile's policy.
    let (env, _init, s) = setup_with("[policy]\nprofile = \"compat\"\n");
    rules(&env, &["export=1"]);
    let kek = token_aes(&s, "kek", |t| t.bool(CKA_WRAP, true));
    let key = token_aes(&s, "data", |t| {
        t.bool(CKA_EXTRACTABLE, true).bool(CKA_SENSITIVE, false)
    });
    let wrap = Mech::new(CKM_AES_KEY_WRAP);
    // A length query reveals nothing and needs nothing.
    let mut n: CK_ULONG = 0;
    let mut ck = wrap.ck();
    let r = ck!(
        s.f,
        C_WrapKey(s.h, &mut ck, kek, key, std::ptr::null_mut(), &mut n)
    );
    assert_eq!((r, n), (CKR_OK, 40), "wrap length query");
    err(
        s.wrap(&wrap, kek, key),
        CKR_ACTION_PROHIBITED,
        "unapproved wrap",
    );
    // The value: its length is readable, the value is sensitive.
    let mut a = CK_ATTRIBUTE {
        type_: CKA_VALUE,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    assert_eq!(ck!(s.f, C_GetAttributeValue(s.h, key, &mut a, 1)), CKR_OK);
    assert_eq!(a.ulValueLen, 32);
    err(
        s.attr(key, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "unapproved read",
    );
    // Other attributes of the same key read as before.
    assert!(s.attr_bool(key, CKA_EXTRACTABLE));

    let id = request(&env, &["export", &target(&s, key)]);
    approve(&env, &id, &["carol"]);
    let wrapped = ok(s.wrap(&wrap, kek, key), "approved wrap");
    assert_eq!(wrapped.len(), 40);
    err(
        s.wrap(&wrap, kek, key),
        CKR_ACTION_PROHIBITED,
        "second wrap",
    );

    let id = request(&env, &["export", &target(&s, key)]);
    approve(&env, &id, &["alice"]);
    // The two-call read: the length call uses nothing up.
    let value = ok(s.attr(key, CKA_VALUE), "approved read");
    assert_eq!(value.len(), 32);
    err(
        s.attr(key, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "second read",
    );
    // The kek is not extractable: wrapping it is refused as ever.
    let ev = events(&env);
    assert_eq!(count(&ev, "quorum_executed"), 2, "{ev:?}");
}

#[test]
fn enabling_changes_need_approval_restrictions_do_not() {
    let (env, _init, s) = setup();
    rules(&env, &["modify=1"]);
    let key = token_aes(&s, "m", |t| t);
    ok(
        s.set_attr(key, Tmpl::new().bool(CKA_ENCRYPT, false)),
        "taking a use away",
    );
    ok(
        s.set_attr(key, Tmpl::new().bytes(CKA_LABEL, b"m")),
        "setting the same label",
    );
    err(
        s.set_attr(key, Tmpl::new().bytes(CKA_LABEL, b"renamed")),
        CKR_ACTION_PROHIBITED,
        "renaming",
    );
    assert!(!s.attr_bool(key, CKA_ENCRYPT));
    let id = request(&env, &["modify", &target(&s, key)]);
    approve(&env, &id, &["bob"]);
    ok(
        s.set_attr(key, Tmpl::new().bytes(CKA_LABEL, b"renamed")),
        "approved change",
    );
    assert_eq!(s.attr_ok(key, CKA_LABEL), b"renamed");
    err(
        s.set_attr(key, Tmpl::new().bytes(CKA_LABEL, b"again")),
        CKR_ACTION_PROHIBITED,
        "the approval was used",
    );
}

#[test]
fn a_marked_key_needs_approval_without_any_rule() {
    let (env, _init, s) = setup();
    let marked = token_aes(&s, "crown", |t| t.bool(CKA_KEYWARD_QUORUM, true));
    let plain = token_aes(&s, "plain", |t| t);
    assert!(s.attr_bool(marked, CKA_KEYWARD_QUORUM));
    assert!(!s.attr_bool(plain, CKA_KEYWARD_QUORUM));
    err(
        s.set_attr(marked, Tmpl::new().bool(CKA_KEYWARD_QUORUM, false)),
        CKR_ATTRIBUTE_READ_ONLY,
        "clearing the mark",
    );
    err(
        s.set_attr(plain, Tmpl::new().bool(CKA_KEYWARD_QUORUM, true)),
        CKR_ATTRIBUTE_READ_ONLY,
        "marking later",
    );
    // A copy keeps the mark, whatever its template says.
    let mut copy = CK_INVALID_HANDLE;
    let mut t = Tmpl::new().bool(CKA_KEYWARD_QUORUM, false);
    let (p, n) = t.as_mut();
    assert_eq!(ck!(s.f, C_CopyObject(s.h, marked, p, n, &mut copy)), CKR_OK);
    assert!(s.attr_bool(copy, CKA_KEYWARD_QUORUM));
    // A bad value is refused.
    err(
        s.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            Tmpl::new()
                .ulong(CKA_VALUE_LEN, 16)
                .bytes(CKA_KEYWARD_QUORUM, &[1, 0]),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "two bytes for a CK_BBOOL",
    );
    ok(s.destroy(plain), "no rule covers an unmarked key");
    err(s.destroy(marked), CKR_ACTION_PROHIBITED, "marked");
    err(s.destroy(copy), CKR_ACTION_PROHIBITED, "marked copy");
    let id = request(&env, &["destroy", &target(&s, marked)]);
    approve(&env, &id, &["alice"]);
    ok(s.destroy(marked), "one approval is enough without a rule");
}

/// The votes' signatures, not the rows, are what count.
#[test]
fn forged_edited_and_replayed_approvals_are_refused() {
    let (env, _init, s) = setup();
    rules(&env, &["destroy=2", "modify=2"]);
    let db = rusqlite::Connection::open(env.store.join("slot-0.sqlite")).unwrap();
    let sql = |q: &str| {
        db.execute_batch(q).unwrap();
    };
    let k1 = token_aes(&s, "k1", |t| t);
    let k2 = token_aes(&s, "k2", |t| t);
    let (t1, t2) = (target(&s, k1), target(&s, k2));

    // A genuine 2-of-3 approval for k1, edited to name k2.
    let r1 = request(&env, &["destroy", &t1]);
    approve(&env, &r1, &["alice", "bob"]);
    sql(&format!(
        "UPDATE quorum_request SET target = '{t2}' WHERE id = {r1}"
    ));
    err(s.destroy(k2), CKR_ACTION_PROHIBITED, "retargeted request");
    err(
        s.destroy(k1),
        CKR_ACTION_PROHIBITED,
        "k1's request now names k2",
    );
    let shown = kw_ok(&env, &["requests", &r1], &[]);
    assert!(shown.contains("invalid    alice, bob"), "{shown}");
    sql(&format!(
        "UPDATE quorum_request SET target = '{t1}' WHERE id = {r1}"
    ));

    // Alice's signature copied as Bob's vote.
    let r2 = request(&env, &["destroy", &t2]);
    approve(&env, &r2, &["alice"]);
    sql(&format!(
        "INSERT INTO quorum_vote (request, officer, decision, time, signature)
         SELECT request, 'bob', decision, time, signature FROM quorum_vote
         WHERE request = {r2} AND officer = 'alice'"
    ));
    err(s.destroy(k2), CKR_ACTION_PROHIBITED, "copied signature");
    // A vote invented outright, and a denial turned into an approval.
    sql(&format!(
        "INSERT INTO quorum_vote VALUES ({r2}, 'carol', 'approve', 0, zeroblob(64))"
    ));
    err(s.destroy(k2), CKR_ACTION_PROHIBITED, "invented signature");

    // Votes of another request replayed onto a fresh one.
    let r3 = request(&env, &["destroy", &t2]);
    sql(&format!(
        "INSERT INTO quorum_vote (request, officer, decision, time, signature)
         SELECT {r3}, officer, decision, time, signature FROM quorum_vote
         WHERE request = {r1}"
    ));
    err(s.destroy(k2), CKR_ACTION_PROHIBITED, "replayed votes");

    // k1's genuine request still works, once; set back to approved in the
    // file it is not executed twice (the trail says it was).
    ok(s.destroy(k1), "the genuine request");
    let k3 = token_aes(&s, "k3", |t| t);
    let r4 = request(&env, &["modify", &target(&s, k3)]);
    approve(&env, &r4, &["bob", "carol"]);
    ok(
        s.set_attr(k3, Tmpl::new().bytes(CKA_LABEL, b"k3-new")),
        "approved rename",
    );
    sql(&format!(
        "UPDATE quorum_request SET state = 'approved' WHERE id = {r4}"
    ));
    err(
        s.set_attr(k3, Tmpl::new().bytes(CKA_LABEL, b"k3-again")),
        CKR_ACTION_PROHIBITED,
        "an executed request set back to approved",
    );

    // The roster itself edited: another officer's key swapped in. The
    // MAC fails; every quorum check is refused until it is put back.
    let (config, _): (Vec<u8>, i64) = db
        .query_row("SELECT config, 1 FROM quorum WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let text = String::from_utf8(config.clone()).unwrap();
    let forged = text.replacen("\"carol\"", "\"mallory\"", 1);
    assert_ne!(forged, text);
    db.execute(
        "UPDATE quorum SET config = ?1 WHERE id = 1",
        [forged.as_bytes()],
    )
    .unwrap();
    // A process reading it afresh with a key at hand refuses it…
    kw_fails(
        &env,
        &["quorum", "show"],
        &[("KEYWARD_SO_PIN", SO_PIN)],
        5,
        "failed its integrity check",
    );
    // …and so does this one once the store moved on (until then it keeps
    // the roster it verified, which is as safe).
    token_aes(&s, "a write", |t| t);
    err(s.destroy(k2), CKR_DEVICE_ERROR, "edited roster");
    db.execute("UPDATE quorum SET config = ?1 WHERE id = 1", [&config])
        .unwrap();
    token_aes(&s, "another write", |t| t);
    err(
        s.destroy(k2),
        CKR_ACTION_PROHIBITED,
        "roster restored, still no approval",
    );
}

#[test]
fn denied_and_expired_requests_are_refused() {
    let (env, _init, s) = setup();
    rules(&env, &["destroy=2"]);
    let k = token_aes(&s, "k", |t| t);
    let t = target(&s, k);
    let denied = request(&env, &["destroy", &t]);
    approve(&env, &denied, &["alice"]);
    vote(&env, "deny", &denied, "bob");
    approve(&env, &denied, &[]);
    kw_fails(
        &env,
        &["approve", &denied, "--officer", "carol"],
        &[("KEYWARD_OFFICER_PASSPHRASE", &passphrase("carol"))],
        6,
        "is denied",
    );
    err(s.destroy(k), CKR_ACTION_PROHIBITED, "denied");

    let short = request(&env, &["destroy", &t, "--expires", "3s"]);
    approve(&env, &short, &["alice", "carol"]);
    std::thread::sleep(std::time::Duration::from_millis(3_200));
    err(s.destroy(k), CKR_ACTION_PROHIBITED, "expired");
    let shown = kw_ok(&env, &["requests", &short], &[]);
    assert!(shown.contains("state      expired"), "{shown}");
    // The expiry is on the record, once.
    assert_eq!(count(&events(&env), "quorum_expired"), 1);
    let open = kw_ok(&env, &["requests"], &[]);
    assert!(!open.contains("destroy"), "{open}");
    // A wrong passphrase signs nothing.
    kw_fails(
        &env,
        &["approve", &short, "--officer", "bob"],
        &[("KEYWARD_OFFICER_PASSPHRASE", "not-bobs-passphrase")],
        3,
        "wrong officer passphrase",
    );
    kw_fails(
        &env,
        &["approve", "999", "--officer", "bob"],
        &[("KEYWARD_OFFICER_PASSPHRASE", &passphrase("bob"))],
        4,
        "no request 999",
    );
}

#[test]
fn unlock_and_reinitialization_need_their_rules() {
    let (env, init, s) = setup();
    rules(&env, &["unlock=1", "init=2"]);
    ok(s.logout(), "user logout");
    ok(s.login(CKU_SO, SO_PIN), "SO login");
    let mut new_pin = b"5678".to_vec();
    let init_pin =
        |pin: &mut Vec<u8>| ck!(s.f, C_InitPIN(s.h, pin.as_mut_ptr(), pin.len() as CK_ULONG));
    assert_eq!(init_pin(&mut new_pin), CKR_ACTION_PROHIBITED);
    let id = request(&env, &["unlock"]);
    approve(&env, &id, &["alice"]);
    assert_eq!(init_pin(&mut new_pin), CKR_OK);
    assert_eq!(init_pin(&mut new_pin), CKR_ACTION_PROHIBITED);
    ok(s.logout(), "SO logout");
    let h = s.h;
    assert_eq!(ck!(s.f, C_CloseSession(h)), CKR_OK);

    let reinit = || {
        let mut so = SO_PIN.as_bytes().to_vec();
        let mut label = padded32("again");
        ck!(
            init.f,
            C_InitToken(0, so.as_mut_ptr(), so.len() as CK_ULONG, label.as_mut_ptr())
        )
    };
    assert_eq!(reinit(), CKR_ACTION_PROHIBITED);
    let id = request(&env, &["init"]);
    approve(&env, &id, &["bob", "carol"]);
    assert_eq!(reinit(), CKR_OK);
    // Officers and rules outlive the re-initialization, still verified.
    let shown = kw_ok(&env, &["quorum", "show"], &[("KEYWARD_SO_PIN", SO_PIN)]);
    assert!(shown.contains("officers  alice, bob, carol"), "{shown}");
    assert!(shown.contains("rule      init needs 2 of 3"), "{shown}");
    assert!(!shown.contains("not checked"), "{shown}");
    assert_eq!(reinit(), CKR_ACTION_PROHIBITED);
}
