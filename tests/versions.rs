//! Versioned keys (issue 10) through the C ABI: after a rotation a plain
//! search by CKA_LABEL or CKA_ID finds only the new, primary version; the
//! old one is found by asking for it (CKA_KEYWARD_PRIMARY = false or
//! CKA_KEYWARD_VERSION = 1) and still verifies; rotation refuses a
//! non-primary version, `--due` rotates a version once, and two processes
//! rotating one key make exactly one new version.
//!
//! The rotations run in other processes, as in production: the built
//! `keyward` CLI, or re-executions of this test binary that call
//! `keyward::api::Library` as the CLI does (never in this process: the
//! test binary links its own SQLite, which does not know the module's
//! connections, see `Module::snapshot`). The module under test is the
//! built `libkeyward.so`, driven by raw function pointers.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::lifecycle::*;
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;
use keyward::api::{Attr, Library};
use keyward::config::Config;
use keyward::error::Error;

const CKA_KEYWARD_VERSION: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x0B;
const CKA_KEYWARD_PRIMARY: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x0C;
const CKW_STATE_DEACTIVATED: CK_ULONG = 3;
const CKW_STATE_COMPROMISED: CK_ULONG = 4;

const ID: &[u8] = b"web-tls-id";
const MSG: &[u8] = b"signed before and after the rotation";

/// The admin side of a child process: a library on the store the
/// environment names, logged in as the user, like `keyward keys rotate`.
struct Admin {
    lib: Library,
    h: CK_SESSION_HANDLE,
}

impl Admin {
    fn new() -> Admin {
        let lib = Library::new(Config::from_env().expect("config")).expect("library");
        let slot = lib.slot_list(true)[0];
        let h = lib
            .open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .expect("session");
        lib.login(h, CKU_USER, common::USER_PIN.as_bytes())
            .expect("login");
        Admin { lib, h }
    }

    /// The handles a search finds (this library's handles).
    fn find(&self, template: &[Attr]) -> Vec<CK_OBJECT_HANDLE> {
        self.lib.find_objects_init(self.h, template).expect("init");
        let found = self.lib.find_objects(self.h, 100).expect("find");
        self.lib.find_objects_final(self.h).expect("final");
        found
    }

    /// The primary private key labelled `label`.
    fn primary(&self, label: &str) -> CK_OBJECT_HANDLE {
        let found = self.find(&[
            Attr {
                ty: CKA_LABEL,
                value: label.as_bytes().to_vec(),
            },
            Attr {
                ty: CKA_CLASS,
                value: CKO_PRIVATE_KEY.to_ne_bytes().to_vec(),
            },
        ]);
        assert_eq!(found.len(), 1, "one primary private key {label:?}");
        found[0]
    }

    fn rotate(&self, label: &str) -> keyward::api::Rotation {
        self.lib
            .rotate_key(self.h, self.primary(label))
            .expect("rotate")
    }
}

/// Runs the built `keyward` CLI on the test's store with the user PIN.
fn kw(args: &[&str]) -> std::process::Output {
    Command::new(common::cli_bin::keyward_bin())
        .args(args)
        .env("KEYWARD_PIN", common::USER_PIN)
        .stdin(Stdio::null())
        .output()
        .expect("run keyward")
}

/// `kw`, which must succeed; its standard output.
fn kw_ok(args: &[&str]) -> String {
    let out = kw(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "keyward {args:?}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// `kw ... --json`, parsed.
fn kw_json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&kw_ok(&[args, &["--json"]].concat())).expect("JSON")
}

fn by_label(class: CK_OBJECT_CLASS) -> Tmpl {
    Tmpl::new()
        .bytes(CKA_LABEL, b"web-tls")
        .ulong(CKA_CLASS, class)
}

fn one(s: &Sess, t: Tmpl, what: &str) -> CK_OBJECT_HANDLE {
    let found = ok(s.find(t), what);
    assert_eq!(found.len(), 1, "{what}: {found:?}");
    found[0]
}

fn ecdsa() -> Mech {
    Mech::new(CKM_ECDSA_SHA256)
}

#[test]
fn a_plain_search_finds_the_primary_version_only() {
    let m = Module::start("");
    let s = m.ready();
    let (old_pub, old_priv) = ok(
        ec(&s, common::P256_PARAMS, "web-tls", true, |t| {
            t.bytes(CKA_ID, ID)
        }),
        "generate web-tls",
    );
    // A key made now is version 1, primary; both are read-only.
    assert_eq!(ulong_attr(&s, old_priv, CKA_KEYWARD_VERSION), Ok(1));
    assert!(s.attr_bool(old_priv, CKA_KEYWARD_PRIMARY));
    assert_eq!(ulong_attr(&s, old_pub, CKA_KEYWARD_VERSION), Ok(1));
    err(
        s.set_attr(old_priv, Tmpl::new().bool(CKA_KEYWARD_PRIMARY, false)),
        CKR_ATTRIBUTE_READ_ONLY,
        "set CKA_KEYWARD_PRIMARY",
    );
    err(
        s.set_attr(old_priv, Tmpl::new().ulong(CKA_KEYWARD_VERSION, 7)),
        CKR_ATTRIBUTE_READ_ONLY,
        "set CKA_KEYWARD_VERSION",
    );
    let old_sig = ok(s.sign_once(&ecdsa(), old_priv, MSG), "sign with v1");
    // A certificate of the key (same id and label), bound to no version.
    let cert = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_CERTIFICATE)
                .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
                .bool(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"web-tls")
                .bytes(CKA_ID, ID)
                .bytes(CKA_SUBJECT, b"\x30\x00")
                .bytes(CKA_VALUE, b"\x30\x03\x02\x01\x01"),
        ),
        "certificate",
    );
    assert_eq!(one(&s, by_label(CKO_CERTIFICATE), "cert"), cert);

    kw_ok(&["keys", "rotate", "web-tls"]);

    // By label and by id: the new version only, key and public key.
    let new_priv = one(&s, by_label(CKO_PRIVATE_KEY), "private by label");
    let new_pub = one(&s, by_label(CKO_PUBLIC_KEY), "public by label");
    assert_ne!(new_priv, old_priv);
    assert_ne!(new_pub, old_pub);
    let mut by_id = ok(s.find(Tmpl::new().bytes(CKA_ID, ID)), "by id");
    by_id.sort_unstable();
    let mut want = vec![new_priv, new_pub];
    want.sort_unstable();
    assert_eq!(by_id, want, "a search by CKA_ID finds version 2 only");
    for h in [new_priv, new_pub] {
        assert_eq!(ulong_attr(&s, h, CKA_KEYWARD_VERSION), Ok(2));
        assert!(s.attr_bool(h, CKA_KEYWARD_PRIMARY));
        assert_eq!(s.attr_ok(h, CKA_ID), ID, "every version keeps the id");
        assert_eq!(s.attr_ok(h, CKA_LABEL), b"web-tls");
    }
    let new_sig = ok(s.sign_once(&ecdsa(), new_priv, MSG), "sign with v2");
    ok(
        s.verify_once(&ecdsa(), new_pub, MSG, &new_sig),
        "v2 verifies v2",
    );
    err(
        s.verify_once(&ecdsa(), new_pub, MSG, &old_sig),
        CKR_SIGNATURE_INVALID,
        "v2 is a new key",
    );

    // The certificate followed version 1: no longer found by a plain
    // search (the new version has none until one is bound to it).
    assert!(ok(s.find(by_label(CKO_CERTIFICATE)), "cert").is_empty());
    let asked = by_label(CKO_CERTIFICATE).ulong(CKA_KEYWARD_VERSION, 1);
    assert_eq!(one(&s, asked, "old cert by VERSION=1"), cert);
    assert!(!s.attr_bool(cert, CKA_KEYWARD_PRIMARY));
    assert_eq!(
        ulong_attr(&s, cert, CKA_KEYWARD_STATE),
        Ok(CKW_STATE_DEACTIVATED)
    );

    // The old version, asked for: non-primary, deactivated, still verifies.
    let asked = by_label(CKO_PUBLIC_KEY).bool(CKA_KEYWARD_PRIMARY, false);
    assert_eq!(one(&s, asked, "old public by PRIMARY=false"), old_pub);
    let asked = by_label(CKO_PRIVATE_KEY).ulong(CKA_KEYWARD_VERSION, 1);
    assert_eq!(one(&s, asked, "old private by VERSION=1"), old_priv);
    let mut all = ok(
        s.find(
            Tmpl::new()
                .bytes(CKA_ID, ID)
                .bool(CKA_KEYWARD_PRIMARY, false),
        ),
        "old by id",
    );
    all.sort_unstable();
    let mut want = vec![old_priv, old_pub, cert];
    want.sort_unstable();
    assert_eq!(all, want);
    for h in [old_priv, old_pub] {
        assert_eq!(ulong_attr(&s, h, CKA_KEYWARD_VERSION), Ok(1));
        assert!(!s.attr_bool(h, CKA_KEYWARD_PRIMARY));
        assert_eq!(
            ulong_attr(&s, h, CKA_KEYWARD_STATE),
            Ok(CKW_STATE_DEACTIVATED)
        );
    }
    ok(
        s.verify_once(&ecdsa(), old_pub, MSG, &old_sig),
        "v1 verifies what v1 signed",
    );
    err(
        s.sign_once(&ecdsa(), old_priv, MSG),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "v1 no longer signs",
    );

    // A second rotation numbers on; version 1 stays where it was.
    kw_ok(&["keys", "rotate", "web-tls"]);
    let v3 = one(&s, by_label(CKO_PRIVATE_KEY), "private by label");
    assert_eq!(ulong_attr(&s, v3, CKA_KEYWARD_VERSION), Ok(3));
    let olds = ok(
        s.find(by_label(CKO_PRIVATE_KEY).bool(CKA_KEYWARD_PRIMARY, false)),
        "older versions",
    );
    assert_eq!(olds.len(), 2, "versions 1 and 2");
}

#[test]
fn only_the_primary_version_is_rotated() {
    let m = Module::start("");
    let s = m.ready();
    ok(
        ec(&s, common::P256_PARAMS, "web-tls", true, |t| {
            t.bytes(CKA_ID, ID)
        }),
        "generate web-tls",
    );
    kw_ok(&["keys", "rotate", "web-tls"]);
    // Version 1 is no longer primary: rotating it again would leave two
    // live versions of one name. (The library's own refusal, which the CLI
    // meets when another process rotated first, is the race test's.)
    let out = kw(&["keys", "rotate", "web-tls@1"]);
    assert_eq!(out.status.code(), Some(6));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("is not the primary version") && msg.contains("version 2 (web-tls@2)"),
        "{msg}"
    );
    let versions = ok(
        s.find(
            Tmpl::new()
                .bytes(CKA_ID, ID)
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        ),
        "primary",
    );
    assert_eq!(versions.len(), 1);
    assert_eq!(ulong_attr(&s, versions[0], CKA_KEYWARD_VERSION), Ok(2));
    let old = ok(
        s.find(by_label(CKO_PRIVATE_KEY).bool(CKA_KEYWARD_PRIMARY, false)),
        "old",
    );
    assert_eq!(old.len(), 1, "no version 3 was made");

    // A state change of version 1 takes version 1's public key with it,
    // never the primary version's objects (they share the id).
    let changed = kw_json(&["keys", "compromise", "web-tls@1", "--reason", "lost"]);
    let changed = changed.as_array().expect("array");
    assert_eq!(changed.len(), 2, "version 1's key and public key");
    assert!(changed.iter().all(|k| k["version"] == 1), "{changed:?}");
    for class in [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY] {
        let h = one(&s, by_label(class), "primary");
        assert_eq!(ulong_attr(&s, h, CKA_KEYWARD_STATE), Ok(CKW_STATE_ACTIVE));
        let h = one(&s, by_label(class).ulong(CKA_KEYWARD_VERSION, 1), "v1");
        assert_eq!(
            ulong_attr(&s, h, CKA_KEYWARD_STATE),
            Ok(CKW_STATE_COMPROMISED)
        );
    }
}

#[test]
fn a_version_is_due_once() {
    let m = Module::start("");
    let s = m.ready();
    let end = date_from_today(10);
    ok(
        ec(&s, common::P256_PARAMS, "web-tls", true, |t| {
            t.bytes(CKA_ID, ID).bytes(CKA_END_DATE, &end)
        }),
        "generate web-tls",
    );
    let due = kw_json(&["keys", "due", "--within", "30d"]);
    assert_eq!(due.as_array().expect("array").len(), 1, "{due}");
    let first = kw_json(&["keys", "rotate", "--due", "--within", "30d"]);
    assert_eq!(first.as_array().expect("array").len(), 1, "{first}");
    let second = kw_json(&["keys", "rotate", "--due", "--within", "30d"]);
    assert_eq!(
        second,
        serde_json::json!([]),
        "the second run rotates nothing"
    );
    let v2 = one(&s, by_label(CKO_PRIVATE_KEY), "primary");
    assert_eq!(
        ulong_attr(&s, v2, CKA_KEYWARD_VERSION),
        Ok(2),
        "rotated once"
    );
    // The new cryptoperiod (10 days again) starts at the rotation.
    assert_eq!(s.attr_ok(v2, CKA_END_DATE), date_from_today(10));
    let due = kw_json(&["keys", "due", "--within", "30d"]);
    assert_eq!(due, serde_json::json!([]));
}

/// Environment of a rotating child: its role and the directory the
/// processes meet in.
const ROLE: &str = "KEYWARD_VERSIONS_ROLE";
const SYNC: &str = "KEYWARD_VERSIONS_SYNC";
const CHILD_TEST: &str = "rotating_child";
const ROUNDS: usize = 3;
/// Rotations a looping child attempts before it is killed (never reached).
const LOOP_ROTATIONS: usize = 10_000;

/// Waits (bounded, by count) for `path` to exist.
fn wait_for(path: &Path) {
    for _ in 0..6000 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", path.display());
}

/// One child: takes the handle of the primary version, says so, waits
/// for the start signal, rotates, and reports "won" or "lost". As the
/// role "loop": rotates over and over until killed.
#[test]
fn rotating_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let sync = PathBuf::from(std::env::var(SYNC).expect("sync dir"));
    let admin = Admin::new();
    if role == "loop" {
        for i in 0..LOOP_ROTATIONS {
            admin.rotate("web-tls");
            std::fs::write(sync.join("rotations"), i.to_string()).expect("progress");
        }
        return;
    }
    let key = admin.primary("web-tls");
    std::fs::write(sync.join(format!("ready-{role}")), b"").expect("ready");
    wait_for(&sync.join("go"));
    let outcome = match admin.lib.rotate_key(admin.h, key) {
        Ok(_) => "won".to_string(),
        Err(Error::ActionProhibited) => "lost".to_string(),
        Err(e) => format!("error {e:?}"),
    };
    std::fs::write(sync.join(format!("outcome-{role}")), outcome).expect("outcome");
}

#[test]
fn two_processes_rotating_one_key_make_one_version() {
    let m = Module::start("");
    let s = m.ready();
    ok(
        ec(&s, common::P256_PARAMS, "web-tls", true, |t| {
            t.bytes(CKA_ID, ID)
        }),
        "generate web-tls",
    );
    let exe = std::env::current_exe().expect("current_exe");
    for round in 0..ROUNDS {
        let sync = m.env.root.join(format!("round-{round}"));
        std::fs::create_dir_all(&sync).expect("sync dir");
        let children: Vec<_> = ["a", "b"]
            .iter()
            .map(|role| {
                Command::new(&exe)
                    .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
                    .env(ROLE, role)
                    .env(SYNC, &sync)
                    .env(common::ENV_CONF, &m.env.conf)
                    .env(common::ENV_STORE, &m.env.store)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn child")
            })
            .collect();
        // Both hold the handle of the same primary version before either
        // starts: whatever the timing, both try to rotate version n.
        wait_for(&sync.join("ready-a"));
        wait_for(&sync.join("ready-b"));
        std::fs::write(sync.join("go"), b"").expect("go");
        for mut c in children {
            assert!(c.wait().expect("wait").success(), "child failed");
        }
        let mut outcomes: Vec<String> = ["a", "b"]
            .iter()
            .map(|r| std::fs::read_to_string(sync.join(format!("outcome-{r}"))).expect("outcome"))
            .collect();
        outcomes.sort();
        assert_eq!(outcomes, ["lost", "won"], "round {round}");
        let primary = one(&s, by_label(CKO_PRIVATE_KEY), "primary");
        let want = CK_ULONG::try_from(round + 2).expect("small");
        assert_eq!(
            ulong_attr(&s, primary, CKA_KEYWARD_VERSION),
            Ok(want),
            "exactly one new version in round {round}"
        );
        let old = ok(
            s.find(by_label(CKO_PRIVATE_KEY).bool(CKA_KEYWARD_PRIMARY, false)),
            "old versions",
        );
        assert_eq!(old.len(), round + 1, "round {round}");
        let publics = ok(s.find(by_label(CKO_PUBLIC_KEY)), "primary public");
        assert_eq!(publics.len(), 1, "one primary public key");
    }
}

/// The versions of web-tls as the module sees them: every version number
/// of the private and the public keys, and which is primary.
fn version_table(s: &Sess) -> (Vec<CK_ULONG>, Vec<CK_ULONG>, CK_ULONG) {
    let primary = one(s, by_label(CKO_PRIVATE_KEY), "one primary private key");
    let primary_pub = one(s, by_label(CKO_PUBLIC_KEY), "one primary public key");
    let v = s.attr_ulong(primary, CKA_KEYWARD_VERSION);
    assert_eq!(s.attr_ulong(primary_pub, CKA_KEYWARD_VERSION), v);
    let versions_of = |class| {
        let mut all: Vec<CK_ULONG> = ok(
            s.find(by_label(class).bool(CKA_KEYWARD_PRIMARY, false)),
            "old versions",
        )
        .into_iter()
        .map(|h| s.attr_ulong(h, CKA_KEYWARD_VERSION))
        .collect();
        all.sort_unstable();
        all
    };
    (versions_of(CKO_PRIVATE_KEY), versions_of(CKO_PUBLIC_KEY), v)
}

#[test]
fn a_rotation_killed_at_any_point_is_whole_or_absent() {
    let m = Module::start("");
    let s = m.ready();
    ok(
        ec(&s, common::P256_PARAMS, "web-tls", true, |t| {
            t.bytes(CKA_ID, ID)
        }),
        "generate web-tls",
    );
    let exe = std::env::current_exe().expect("current_exe");
    for round in 0..ROUNDS {
        let sync = m.env.root.join(format!("kill-{round}"));
        std::fs::create_dir_all(&sync).expect("sync dir");
        let mut child = Command::new(&exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(ROLE, "loop")
            .env(SYNC, &sync)
            .env(common::ENV_CONF, &m.env.conf)
            .env(common::ENV_STORE, &m.env.store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        // Let it complete a few rotations, then SIGKILL it wherever it is
        // (generating, sealing, inside the transaction).
        wait_for(&sync.join("rotations"));
        std::thread::sleep(std::time::Duration::from_millis(7 * (round as u64 + 1)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (old_private, old_public, primary) = version_table(&s);
        let want: Vec<CK_ULONG> = (1..primary).collect();
        assert_eq!(
            old_private, want,
            "round {round}: every older version, once"
        );
        assert_eq!(old_public, want, "round {round}: public keys follow");
    }
    // The store is still usable: one more rotation numbers on.
    let before = version_table(&s).2;
    kw_ok(&["keys", "rotate", "web-tls"]);
    assert_eq!(version_table(&s).2, before + 1);
}
