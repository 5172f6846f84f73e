//! Helpers for the key-lifecycle suites (lifecycle, audit_tamper,
//! destruction): the vendor attribute values as `keyward.h` spells them,
//! a raw-ABI module that can be restarted, CK_DATE values relative to
//! today, and direct reads of the token file (audit records, usage rows,
//! raw file bytes) with rusqlite.

#![allow(dead_code)]

use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use cryptoki_sys::*;
use rusqlite::{Connection, OptionalExtension};

use super::TestEnv;
use super::ops::{Mech, Rv, Salt, Sess, ok, open_rw};
use super::raw::{Init, Tmpl, login, padded32};

/// KEYWARD_VENDOR_BASE of `keyward.h`, written out independently of the
/// crate's own mirror so a drift between header and module shows here.
pub const VENDOR_BASE: CK_ULONG = 0x8000_0000 | 0x4B57_0000;
pub const CKA_KEYWARD_STATE: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x01;
pub const CKA_KEYWARD_STATE_REASON: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x02;
pub const CKA_KEYWARD_CREATED: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x03;
pub const CKA_KEYWARD_LAST_USED: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x04;
pub const CKA_KEYWARD_USE_COUNT: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x05;
pub const CKA_KEYWARD_ORIGIN: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x06;
pub const CKA_KEYWARD_OBJECT_ID: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x07;
pub const CKA_KEYWARD_PREDECESSOR: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x08;
pub const CKA_KEYWARD_SUCCESSOR: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x09;
pub const CKA_KEYWARD_STATE_CHANGED: CK_ATTRIBUTE_TYPE = VENDOR_BASE + 0x0A;

pub const CKW_STATE_PRE_ACTIVE: CK_ULONG = 1;
pub const CKW_STATE_ACTIVE: CK_ULONG = 2;
pub const CKW_ORIGIN_GENERATED: CK_ULONG = 1;
pub const CKW_ORIGIN_IMPORTED: CK_ULONG = 2;
pub const CKW_ORIGIN_UNWRAPPED: CK_ULONG = 3;
pub const CKW_ORIGIN_DERIVED: CK_ULONG = 4;
pub const CKW_ORIGIN_COPIED: CK_ULONG = 5;

/// The module on a fresh store (raw ABI), finalized before the store's
/// lock is released: `init` is declared, and so dropped, first.
pub struct Module {
    pub init: Init,
    pub env: TestEnv,
}

impl Module {
    /// A fresh store with `extra` TOML appended to the base config.
    pub fn start(extra: &str) -> Module {
        let env = TestEnv::with_config(extra);
        let init = Init::new();
        Module { init, env }
    }

    pub fn f(&self) -> &'static CK_FUNCTION_LIST_3_0 {
        self.init.f
    }

    /// C_Finalize then C_Initialize: what the module keeps across a
    /// process restart is what it wrote to the store.
    pub fn restart(&self) {
        let f = self.f();
        let r = ck!(f, C_Finalize(ptr::null_mut()));
        assert_eq!(r, CKR_OK, "C_Finalize");
        let r = ck!(f, C_Initialize(ptr::null_mut()));
        assert_eq!(r, CKR_OK, "C_Initialize");
    }

    /// The token file of slot 0.
    pub fn db_path(&self) -> PathBuf {
        self.env.store.join("slot-0.sqlite")
    }

    /// The token file and its WAL (if any), as raw bytes.
    pub fn file_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let main = self.db_path();
        let wal = PathBuf::from(format!("{}-wal", main.display()));
        [main, wal]
            .into_iter()
            .filter(|p| p.exists())
            .map(|p| {
                let b = std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                (p, b)
            })
            .collect()
    }

    /// C_InitToken with `so_pin`, C_InitPIN with `user_pin`, and a session
    /// logged in as the user.
    pub fn user_session(&self, so_pin: &str, user_pin: &str) -> Sess {
        init_token(self.f(), so_pin);
        let s = open_rw(self.f(), 0);
        ok(s.login(CKU_SO, so_pin), "SO login");
        ok(init_pin(&s, user_pin), "C_InitPIN");
        ok(s.logout(), "SO logout");
        ok(s.login(CKU_USER, user_pin), "user login");
        s
    }

    /// The standard PINs of the harness.
    pub fn ready(&self) -> Sess {
        self.user_session(super::SO_PIN, super::USER_PIN)
    }

    /// A rusqlite connection on a copy of the token file and its WAL.
    ///
    /// Never on the live file: the test binary links its own SQLite, which
    /// does not know the module's connection (POSIX locks are per process),
    /// so closing a second connection on the live file would take itself
    /// for the last one and checkpoint and delete the WAL under the module,
    /// whose next writes would then be lost.
    pub fn snapshot(&self) -> Connection {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = self
            .env
            .root
            .join(format!("snapshot-{}", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).expect("create snapshot dir");
        for (path, bytes) in self.file_bytes() {
            let name = path.file_name().expect("file name");
            std::fs::write(dir.join(name), bytes).expect("write snapshot");
        }
        Connection::open(dir.join("slot-0.sqlite")).expect("open the snapshot with rusqlite")
    }

    /// C_Finalize for good (the store stays for the test to inspect).
    pub fn finalize(&mut self) {
        let f = self.f();
        assert_eq!(ck!(f, C_Finalize(ptr::null_mut())), CKR_OK, "C_Finalize");
        self.init.forget();
    }

    /// Every audit record: (seq, JSON body, MAC present).
    pub fn audit(&self) -> Vec<AuditRec> {
        if super::backend::sqlite() {
            return audit_records(&self.snapshot());
        }
        // A shared store: read through the store's own code (a second
        // connection is harmless there).
        let rows = super::backend::token_db()
            .audit_rows(&keyward::store::audit::AuditFilter::default())
            .expect("read the audit trail");
        rows.into_iter()
            .map(|r| AuditRec {
                seq: r.seq,
                body: serde_json::from_slice(&r.body).expect("audit body is JSON"),
                has_mac: r.mac.is_some(),
            })
            .collect()
    }

    /// The newest audit record.
    #[track_caller]
    pub fn last_audit(&self) -> AuditRec {
        self.audit().pop().expect("the audit trail is empty")
    }

    /// The `usage` row of object `id`: (count, last_used), if any.
    pub fn usage_row(&self, id: CK_ULONG) -> Option<(i64, i64)> {
        let id = i64::try_from(id).expect("object id fits i64");
        if !super::backend::sqlite() {
            let db = super::backend::token_db();
            let (count, last) = db.usage(id).expect("read the usage table");
            return (count > 0 || last > 0).then(|| {
                (
                    i64::try_from(count).expect("count"),
                    i64::try_from(last).expect("last"),
                )
            });
        }
        self.snapshot()
            .query_row(
                "SELECT count, last_used FROM usage WHERE object = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .expect("read the usage table")
    }
}

/// One stored audit record.
#[derive(Debug, Clone)]
pub struct AuditRec {
    pub seq: i64,
    pub body: serde_json::Value,
    pub has_mac: bool,
}

impl AuditRec {
    pub fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or("")
    }

    pub fn result(&self) -> &str {
        self.body["result"].as_str().unwrap_or("")
    }

    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }

    pub fn role(&self) -> &str {
        self.body["role"].as_str().unwrap_or("")
    }
}

pub fn audit_records(db: &Connection) -> Vec<AuditRec> {
    let mut stmt = db
        .prepare("SELECT seq, body, mac IS NOT NULL FROM audit ORDER BY seq")
        .expect("prepare audit query");
    stmt.query_map([], |r| {
        let body: Vec<u8> = r.get(1)?;
        Ok(AuditRec {
            seq: r.get(0)?,
            body: serde_json::from_slice(&body).expect("audit body is JSON"),
            has_mac: r.get(2)?,
        })
    })
    .expect("query audit")
    .collect::<rusqlite::Result<Vec<_>>>()
    .expect("read audit rows")
}

/// Assert the newest audit record is a refusal of `event` kind with
/// result `ckr` and a detail mentioning `rule`.
#[track_caller]
pub fn assert_refusal_audited(m: &Module, event: &str, ckr: &str, rule: &str) {
    let rec = m.last_audit();
    assert_eq!(rec.event(), event, "last audit record: {}", rec.body);
    assert_eq!(rec.result(), ckr, "last audit record: {}", rec.body);
    assert!(
        rec.detail().contains(rule),
        "audit detail should name {rule:?}: {}",
        rec.body
    );
}

pub fn init_token(f: &'static CK_FUNCTION_LIST_3_0, so_pin: &str) -> CK_RV {
    let mut so = so_pin.as_bytes().to_vec();
    let mut label = padded32("lifecycle");
    let r = ck!(
        f,
        C_InitToken(0, so.as_mut_ptr(), so.len() as CK_ULONG, label.as_mut_ptr())
    );
    assert_eq!(r, CKR_OK, "C_InitToken");
    r
}

pub fn init_pin(s: &Sess, user_pin: &str) -> Rv<()> {
    let mut p = user_pin.as_bytes().to_vec();
    let f = s.f;
    match ck!(f, C_InitPIN(s.h, p.as_mut_ptr(), p.len() as CK_ULONG)) {
        CKR_OK => Ok(()),
        e => Err(e),
    }
}

pub fn set_pin(s: &Sess, old: &str, new: &str) -> Rv<()> {
    let (mut o, mut n) = (old.as_bytes().to_vec(), new.as_bytes().to_vec());
    let f = s.f;
    let r = ck!(
        f,
        C_SetPIN(
            s.h,
            o.as_mut_ptr(),
            o.len() as CK_ULONG,
            n.as_mut_ptr(),
            n.len() as CK_ULONG
        )
    );
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

pub fn copy_object(s: &Sess, o: CK_OBJECT_HANDLE, mut t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    let (p, n) = t.as_mut();
    let mut out = CK_INVALID_HANDLE;
    let f = s.f;
    let r = ck!(f, C_CopyObject(s.h, o, p, n, &mut out));
    if r == CKR_OK { Ok(out) } else { Err(r) }
}

pub fn close_session(s: &Sess) {
    let f = s.f;
    assert_eq!(ck!(f, C_CloseSession(s.h)), CKR_OK, "C_CloseSession");
}

/// A login attempt's CK_RV (no assertion).
pub fn try_login(s: &Sess, user: CK_USER_TYPE, pin: &str) -> CK_RV {
    login(s.f, s.h, user, pin)
}

/// A CK_ULONG attribute, or the CK_RV the module refused it with.
pub fn ulong_attr(s: &Sess, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Rv<CK_ULONG> {
    let v = s.attr(o, ty)?;
    Ok(CK_ULONG::from_ne_bytes(
        v.try_into().expect("attribute is not a CK_ULONG"),
    ))
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Assert `t` (seconds) is within a minute of now.
#[track_caller]
pub fn assert_about_now(t: CK_ULONG, what: &str) {
    let now = now_secs();
    assert!(
        t.abs_diff(now) <= 60,
        "{what}: {t} is not about now ({now})"
    );
}

/// Today (UTC) plus `days`, as CK_DATE bytes "YYYYMMDD".
pub fn date_from_today(days: i64) -> Vec<u8> {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()).into_bytes()
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

// --- keys the lifecycle suites make ------------------------------------

/// A 256-bit AES key; `token` picks a token or session object.
pub fn aes(
    s: &Sess,
    label: &str,
    token: bool,
    extra: impl FnOnce(Tmpl) -> Tmpl,
) -> Rv<CK_OBJECT_HANDLE> {
    let t = Tmpl::new()
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_TOKEN, token)
        .bytes(CKA_LABEL, label.as_bytes());
    s.generate_key(&Mech::new(CKM_AES_KEY_GEN), extra(t))
}

/// An imported generic secret (origin "imported") usable for HKDF.
pub fn imported(value: &[u8], label: &str, token: bool) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, token)
        .bool(CKA_DERIVE, true)
        .bool(CKA_EXTRACTABLE, true)
        .bytes(CKA_LABEL, label.as_bytes())
}

/// Template of a generic secret made by unwrap or derive.
pub fn made_secret(label: &str, token: bool) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_TOKEN, token)
        .bytes(CKA_LABEL, label.as_bytes())
}

pub fn hkdf() -> Mech {
    Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, true, true, Salt::Null, b"info")
}

/// An EC key pair for ECDSA on `params`: (public, private).
pub fn ec(
    s: &Sess,
    params: &[u8],
    label: &str,
    token: bool,
    both: impl Fn(Tmpl) -> Tmpl,
) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    let common = |t: Tmpl| both(t.bool(CKA_TOKEN, token).bytes(CKA_LABEL, label.as_bytes()));
    s.generate_pair(
        &Mech::new(CKM_EC_KEY_PAIR_GEN),
        common(
            Tmpl::new()
                .bytes(CKA_EC_PARAMS, params)
                .bool(CKA_VERIFY, true),
        ),
        common(Tmpl::new().bool(CKA_SIGN, true)),
    )
}

pub fn rsa(s: &Sess, bits: CK_ULONG, private: Tmpl) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    s.generate_pair(
        &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
        Tmpl::new()
            .ulong(CKA_MODULUS_BITS, bits)
            .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
            .bool(CKA_TOKEN, false)
            .bool(CKA_VERIFY, true),
        private.bool(CKA_TOKEN, false),
    )
}
