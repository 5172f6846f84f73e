//! What a PostgreSQL operator can do to a shared token, done for real
//! with psql as the cluster's superuser (README "One token for many
//! hosts", the security paragraph): a sealed blob edited in place is found,
//! refused with CKR_DEVICE_ERROR on every use and reported once in the
//! audit trail while the healthy key works; two rows' blobs swapped are
//! refused both; the audit table refuses UPDATE, DELETE and TRUNCATE even
//! to the table's owner; an audit trail cut back by the superuser (the
//! triggers disabled) is named by `keyward audit verify`.

#![cfg(feature = "postgres")]

mod common;

use common::lifecycle::*;
use common::ops::*;
use common::raw::{Init, Tmpl};
use common::{backend, pg};
use cryptoki_sys::*;

fn row_id(s: &Sess, h: CK_OBJECT_HANDLE) -> i64 {
    i64::try_from(s.attr_ulong(h, CKA_KEYWARD_OBJECT_ID)).unwrap()
}

fn label(l: &str) -> Tmpl {
    Tmpl::new().bytes(CKA_LABEL, l.as_bytes())
}

fn user_session(m: &Module) -> Sess {
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    s
}

/// A module whose slot 0 lives in `schema` of this process's own cluster
/// (the operator's edits need the superuser), or None without PostgreSQL.
fn module(schema: &str) -> Option<(Module, &'static pg::Cluster)> {
    if std::env::var_os(backend::ENV_PG_URL).is_some() {
        eprintln!("SKIP: the server is the runner's; psql needs this process's own");
        return None;
    }
    let cluster = pg::cluster()?;
    let server = backend::server()?;
    Some((
        Module::start(&backend::slot_toml(0, schema, server)),
        cluster,
    ))
}

fn damage_records(c: &pg::Cluster, schema: &str, id: i64) -> usize {
    c.psql(
        &c.db,
        &format!(
            "SELECT count(*) FROM {schema}.audit WHERE event = 'object_damaged' AND object = {id}"
        ),
    )
    .parse()
    .unwrap()
}

#[test]
fn a_blob_edited_in_the_database_is_refused_and_reported_once() {
    let schema = pg::fresh_schema();
    let Some((mut m, c)) = module(&schema) else {
        return;
    };
    let _up = c.up();
    let s = m.ready();
    let victim = ok(
        aes(&s, "victim", true, |t| t.bool(CKA_ENCRYPT, true)),
        "gen",
    );
    let healthy = ok(
        aes(&s, "healthy", true, |t| t.bool(CKA_ENCRYPT, true)),
        "gen",
    );
    let (id, healthy_id) = (row_id(&s, victim), row_id(&s, healthy));
    m.finalize();
    // One bit of the sealed blob flipped, as any superuser could.
    let updated = c.psql(
        &c.db,
        &format!(
            "UPDATE {schema}.object SET sealed = set_byte(sealed, length(sealed) / 2,
                 get_byte(sealed, length(sealed) / 2) # 1) WHERE id = {id}"
        ),
    );
    assert_eq!(updated, "UPDATE 1");

    m.init = Init::new();
    let s = user_session(&m);
    let found = ok(s.find(label("victim")), "find the damaged key");
    assert_eq!(found.len(), 1, "the damaged key is not hidden");
    let ecb = Mech::new(CKM_AES_ECB);
    assert_eq!(s.attr(found[0], CKA_LABEL), Err(CKR_DEVICE_ERROR));
    assert_eq!(s.encrypt_init(&ecb, found[0]), Err(CKR_DEVICE_ERROR));
    let good = ok(s.find(label("healthy")), "find healthy")[0];
    ok(
        s.encrypt_once(&ecb, good, &[0u8; 16]),
        "the healthy key works",
    );
    m.finalize();
    assert_eq!(damage_records(c, &schema, id), 1, "audited once");
    assert_eq!(damage_records(c, &schema, healthy_id), 0);
}

#[test]
fn swapped_blobs_are_refused_both() {
    let schema = pg::fresh_schema();
    let Some((mut m, c)) = module(&schema) else {
        return;
    };
    let _up = c.up();
    let s = m.ready();
    let a = ok(aes(&s, "a", true, |t| t.bool(CKA_ENCRYPT, true)), "gen a");
    let b = ok(aes(&s, "b", true, |t| t.bool(CKA_ENCRYPT, true)), "gen b");
    let (ia, ib) = (row_id(&s, a), row_id(&s, b));
    m.finalize();
    c.psql(
        &c.db,
        &format!(
            "UPDATE {schema}.object AS o SET sealed = other.sealed
             FROM {schema}.object AS other
             WHERE (o.id, other.id) IN (({ia}, {ib}), ({ib}, {ia}))"
        ),
    );
    m.init = Init::new();
    let s = user_session(&m);
    let ecb = Mech::new(CKM_AES_ECB);
    for l in ["a", "b"] {
        let h = ok(s.find(label(l)), "find")[0];
        assert_eq!(s.encrypt_init(&ecb, h), Err(CKR_DEVICE_ERROR), "{l}");
    }
}

#[test]
fn the_audit_trail_resists_its_owner_and_a_cut_is_named() {
    let schema = pg::fresh_schema();
    let Some((mut m, c)) = module(&schema) else {
        return;
    };
    let _up = c.up();
    let s = m.ready();
    ok(aes(&s, "k", true, |t| t.bool(CKA_ENCRYPT, true)), "gen");
    m.finalize();
    // The table's owner (the role the module connects as) cannot edit the
    // trail: the triggers refuse.
    let server = backend::server().unwrap();
    let password = std::fs::read_to_string(&server.password_file).unwrap();
    for sql in [
        format!("UPDATE {schema}.audit SET event = 'x'"),
        format!("DELETE FROM {schema}.audit"),
        format!("TRUNCATE {schema}.audit"),
    ] {
        let out = std::process::Command::new("psql")
            .args(["-X", "-tA", "-h"])
            .arg(c.socket_dir())
            .arg("-p")
            .arg(c.port.to_string())
            .args(["-U", &c.role, "-d", &c.db, "-c", &sql])
            .env("PGPASSWORD", password.trim())
            .output()
            .expect("psql");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sql} was allowed");
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // The superuser can switch the triggers off and cut the trail back;
    // the authenticated anchor names it.
    c.psql(
        &c.db,
        &format!(
            "ALTER TABLE {schema}.audit DISABLE TRIGGER USER;
             DELETE FROM {schema}.audit WHERE seq = (SELECT max(seq) FROM {schema}.audit);
             UPDATE {schema}.audit_state SET head_seq = head_seq - 1,
                 head_hash = (SELECT hash FROM {schema}.audit ORDER BY seq DESC LIMIT 1);
             ALTER TABLE {schema}.audit ENABLE TRIGGER USER;"
        ),
    );
    let conf = m.env.conf.clone();
    let out = std::process::Command::new(common::cli_bin::keyward_bin())
        .args(["audit", "verify"])
        .env("KEYWARD_CONF", &conf)
        .env("KEYWARD_PIN", common::USER_PIN)
        .env_remove("KEYWARD_STORE")
        .output()
        .expect("keyward");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "a cut trail verifies:\n{text}");
    assert!(
        text.contains("gone") || text.contains("truncated"),
        "{text}"
    );
}
