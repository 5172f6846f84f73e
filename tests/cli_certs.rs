//! Certificates that follow rotation, through the built `keyward` and a
//! test CA run with the real `openssl` (default provider only):
//! `keys csr` and `keys rotate --csr` write requests OpenSSL verifies,
//! with the old subject and SAN and the new public key; `certs import`
//! binds a certificate to the key version it certifies and refuses a
//! stranger; `keys due` lists expiring and not-renewed certificates.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cli_support::*;
use serde_json::Value;

/// OpenSSL with its default provider only.
fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .env("OPENSSL_CONF", "/dev/null")
        .output()
        .expect("run openssl")
}

fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn have_openssl() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("SKIP: openssl is not installed");
    }
    found
}

/// A throw-away CA in the store's directory.
struct Ca {
    dir: PathBuf,
    serial: std::cell::Cell<u32>,
}

impl Ca {
    fn new(store: &Store) -> Ca {
        let dir = store.dir.path().to_path_buf();
        openssl_ok(
            &dir,
            &[
                "req",
                "-new",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-subj",
                "/CN=Test CA",
                "-addext",
                "subjectKeyIdentifier=hash",
                "-days",
                "30",
                "-out",
                "ca.crt",
            ],
        );
        Ca {
            dir,
            serial: std::cell::Cell::new(100),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Issues `out` from the request `csr`; `ext` is an extension file's
    /// text, or None to copy the request's extensions.
    fn issue(&self, csr: &str, days: u32, ext: Option<&str>, out: &str) {
        self.serial.set(self.serial.get() + 1);
        let serial = self.serial.get().to_string();
        let days = days.to_string();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            &days,
            "-out",
            out,
        ];
        let ext_file = self.path(&format!("{out}.ext"));
        match ext {
            Some(text) => {
                std::fs::write(&ext_file, text).unwrap();
                args.extend(["-extfile", &ext_file]);
            }
            None => args.extend(["-copy_extensions", "copy"]),
        }
        openssl_ok(&self.dir, &args);
    }
}

const SERVER_EXT: &str = "subjectAltName=DNS:web.example,IP:127.0.0.1\n\
    extendedKeyUsage=serverAuth\n\
    subjectKeyIdentifier=hash\n\
    authorityKeyIdentifier=keyid\n";

/// An object id as JSON shows it (a number, or a string).
fn object_id(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not an object id: {other}"),
    }
}

fn generate(store: &Store, ty: &str, label: &str) {
    ok(&store.run(&["keys", "generate", "--type", ty, "--label", label]));
}

/// `keys rotate KEY [more]` as JSON: (old id, new id, new object id).
fn rotate(store: &Store, key: &str, more: &[&str]) -> (String, String, String) {
    let mut args = vec!["keys", "rotate", key, "--json"];
    args.extend(more);
    let v = json_of(&store.run(&args));
    let r = &v[0];
    (
        r["old_id"].as_str().unwrap().to_string(),
        r["new_id"].as_str().unwrap().to_string(),
        object_id(&r["new_object_id"]),
    )
}

/// NAME.crt for key "web" from NAME.csr with subject CN=web, valid for
/// `days`, with a server's extensions; not imported.
fn first_certificate(store: &Store, ca: &Ca, name: &str, days: u32) {
    let csr = ca.path(&format!("{name}.csr"));
    ok(&store.run(&["keys", "csr", "web", "--subject", "CN=web", "--out", &csr]));
    ca.issue(&csr, days, Some(SERVER_EXT), &format!("{name}.crt"));
}

/// The public key of `key` as `keys export` writes it.
fn exported_public_key(store: &Store, key: &str) -> String {
    let out = store.run(&["keys", "export", key]);
    ok(&out);
    stdout(&out)
}

fn request_public_key(dir: &Path, csr: &str) -> String {
    openssl_ok(dir, &["req", "-in", csr, "-noout", "-pubkey"])
}

#[test]
fn csr_is_signed_by_the_token_key_and_renews_subject_and_san() {
    if !have_openssl() {
        return;
    }
    let store = Store::initialized();
    let ca = Ca::new(&store);
    for (ty, label) in [
        ("ec-p256", "p256"),
        ("ec-p384", "p384"),
        ("rsa-2048", "rsa"),
    ] {
        generate(&store, ty, label);
        let first = ca.path(&format!("{label}-1.csr"));
        let out = store.run(&[
            "keys",
            "csr",
            label,
            "--subject",
            "CN=web.example,O=Example",
            "--out",
            &first,
        ]);
        ok(&out);
        assert!(
            stdout(&out).contains("subject from the given subject"),
            "{}",
            stdout(&out)
        );
        let text = openssl_ok(
            &ca.dir,
            &["req", "-in", &first, "-verify", "-noout", "-subject"],
        );
        assert!(
            text.contains("verify OK") || text.contains("self-signature ok"),
            "{text}"
        );
        assert!(
            text.contains("subject=O = Example, CN = web.example"),
            "{text}"
        );
        assert_eq!(
            request_public_key(&ca.dir, &first),
            exported_public_key(&store, label),
            "{ty}: the request carries the key's own public key"
        );
        let crt = format!("{label}-1.crt");
        ca.issue(&first, 30, Some(SERVER_EXT), &crt);
        ok(&store.run(&["certs", "import", &ca.path(&crt)]));

        // Renewal: subject and SAN from the certificate, without --subject.
        let second = ca.path(&format!("{label}-2.csr"));
        let v = json_of(&store.run(&["keys", "csr", label, "--out", &second, "--json"]));
        assert!(v["from_certificate"].is_string(), "{v}");
        let exts: Vec<&str> = v["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(
            exts,
            ["2.5.29.17", "2.5.29.37"],
            "{ty}: SAN and EKU, no key ids"
        );
        let text = openssl_ok(
            &ca.dir,
            &["req", "-in", &second, "-verify", "-noout", "-text"],
        );
        assert!(
            text.contains("Subject: O = Example, CN = web.example"),
            "{text}"
        );
        assert!(
            text.contains("DNS:web.example, IP Address:127.0.0.1"),
            "{text}"
        );
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        assert!(!text.contains("Key Identifier"), "{text}");
    }
    // A key with no certificate and no --subject; a secret key.
    generate(&store, "ec-p256", "bare");
    let out = store.run(&["keys", "csr", "bare", "--out", &ca.path("bare.csr")]);
    fails(
        &out,
        4,
        "no certificate of \"bare\" to copy the subject from",
    );
    let out = store.run(&["keys", "csr", "bare", "--subject-from-cert", "--out", "x"]);
    fails(&out, 4, "give --subject");
    generate(&store, "aes-256", "secret");
    let out = store.run(&["keys", "csr", "secret", "--subject", "CN=x", "--out", "x"]);
    fails(&out, 6, "is not a private key");
    let out = store.run(&["keys", "csr", "bare", "--subject", "QQ=x", "--out", "x"]);
    fails(&out, 2, "unknown attribute type \"QQ\"");
}

#[test]
fn rotate_with_csr_requests_a_certificate_for_the_new_version() {
    if !have_openssl() {
        return;
    }
    let store = Store::initialized();
    let ca = Ca::new(&store);
    generate(&store, "ec-p256", "web");
    // Without a certificate to renew, nothing is rotated.
    let out = store.run(&["keys", "rotate", "web", "--csr", &ca.path("no.csr")]);
    fails(&out, 4, "no certificate of \"web\" to renew");
    let listed = json_of(&store.run(&["keys", "list", "--class", "private", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    let csr1 = ca.path("web-1.csr");
    ok(&store.run(&[
        "keys",
        "csr",
        "web",
        "--subject",
        "/CN=web.example",
        "--out",
        &csr1,
    ]));
    ca.issue(&csr1, 30, Some(SERVER_EXT), "web-1.crt");
    ok(&store.run(&["certs", "import", &ca.path("web-1.crt")]));
    let old_public = exported_public_key(&store, "web");

    let csr2 = ca.path("web-2.csr");
    let (_, _, new_object) = rotate(&store, "web", &["--csr", &csr2]);
    let text = openssl_ok(
        &ca.dir,
        &["req", "-in", &csr2, "-verify", "-noout", "-text"],
    );
    assert!(text.contains("Subject: CN = web.example"), "{text}");
    assert!(
        text.contains("DNS:web.example, IP Address:127.0.0.1"),
        "{text}"
    );
    let requested = request_public_key(&ca.dir, &csr2);
    assert_eq!(
        requested,
        exported_public_key(&store, &format!("#{new_object}"))
    );
    assert_ne!(requested, old_public);
}

#[test]
fn import_binds_to_the_matching_version_and_refuses_a_stranger() {
    if !have_openssl() {
        return;
    }
    let store = Store::initialized();
    let ca = Ca::new(&store);
    generate(&store, "ec-p256", "web");
    // A certificate for version 1, issued but not imported before the
    // rotation.
    first_certificate(&store, &ca, "v1", 30);
    let (old_id, new_id, new_object) = rotate(&store, "web", &[]);
    let csr2 = ca.path("v2.csr");
    ok(&store.run(&[
        "keys",
        "csr",
        &format!("#{new_object}"),
        "--subject",
        "CN=web",
        "--out",
        &csr2,
    ]));
    ca.issue(&csr2, 30, None, "v2.crt");

    let bound = json_of(&store.run(&["certs", "import", &ca.path("v2.crt"), "--json"]));
    assert_eq!(bound["label"], "web", "{bound}");
    assert_eq!(bound["id"], new_id.as_str(), "{bound}");
    assert_eq!(bound["primary"], true, "{bound}");
    assert_eq!(bound["already_present"], false, "{bound}");
    // The older version is found too (a search asking for non-primary
    // versions), and keeps its own version number.
    let versioned = bound["version"] == 2;
    let bound = json_of(&store.run(&["certs", "import", &ca.path("v1.crt"), "--json"]));
    assert_eq!(bound["id"], old_id.as_str(), "{bound}");
    assert_eq!(bound["version"], 1, "{bound}");
    if versioned {
        // Bound to a version that is no longer primary: out of plain
        // searches, like its key.
        assert_eq!(bound["primary"], false, "{bound}");
    }
    // Importing again changes nothing.
    let again = json_of(&store.run(&["certs", "import", &ca.path("v2.crt"), "--json"]));
    assert_eq!(again["already_present"], true, "{again}");
    let certs = json_of(&store.run(&["keys", "list", "--class", "cert", "--json"]));
    assert!(certs.as_array().unwrap().len() <= 2, "{certs}");

    // A certificate for a key the token does not hold.
    openssl_ok(
        &ca.dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "stranger.key",
            "-subj",
            "/CN=stranger",
            "-out",
            "stranger.csr",
        ],
    );
    ca.issue(
        &ca.path("stranger.csr"),
        30,
        Some(SERVER_EXT),
        "stranger.crt",
    );
    let out = store.run(&["certs", "import", &ca.path("stranger.crt")]);
    fails(
        &out,
        4,
        "the certificate's public key matches no key in the token",
    );
    // The right key, but another label asked for.
    let out = store.run(&["certs", "import", &ca.path("v2.crt"), "--label", "mail"]);
    fails(&out, 4, "not to a key labelled \"mail\"");
    // Not a certificate at all.
    let out = store.run(&["certs", "import", &ca.path("ca.key")]);
    fails(&out, 2, "is not a certificate");
}

/// `keys due --json` rows of `label` with `reason`.
fn due_rows(store: &Store, within: &str, reason: &str) -> Vec<Value> {
    let v = json_of(&store.run(&["keys", "due", "--within", within, "--json"]));
    v.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == reason)
        .cloned()
        .collect()
}

#[test]
fn due_lists_expiring_and_not_renewed_certificates() {
    if !have_openssl() {
        return;
    }
    let store = Store::initialized();
    let ca = Ca::new(&store);
    generate(&store, "ec-p256", "web");
    first_certificate(&store, &ca, "web-1", 5);
    ok(&store.run(&["certs", "import", &ca.path("web-1.crt")]));
    let not_after = openssl_ok(
        &ca.dir,
        &[
            "x509",
            "-in",
            "web-1.crt",
            "-noout",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ],
    );
    let not_after = not_after
        .trim()
        .trim_start_matches("notAfter=")
        .get(..10)
        .unwrap()
        .to_string();

    // Expires in 5 days: due within 30, not within 2.
    let rows = due_rows(&store, "30d", "certificate expires");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["label"], "web");
    assert_eq!(rows[0]["not_after"], not_after.as_str());
    assert!(rows[0]["days_left"].as_i64().unwrap() <= 5);
    assert!(due_rows(&store, "2d", "certificate expires").is_empty());
    let out = store.run(&["keys", "due", "--within", "30d"]);
    ok(&out);
    assert!(
        stdout(&out).contains("certificate expires"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(&not_after), "{}", stdout(&out));

    // Rotated without a new certificate: not renewed, whatever the window.
    let (_, new_id, new_object) = rotate(&store, "web", &[]);
    let rows = due_rows(&store, "1d", "certificate not renewed");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], new_id.as_str());
    assert!(due_rows(&store, "30d", "certificate expires").is_empty());
    let out = store.run(&["keys", "due", "--within", "1d"]);
    assert!(
        stdout(&out).contains("certificate not renewed"),
        "{}",
        stdout(&out)
    );

    // Renewed for a year: nothing left to do.
    let csr2 = ca.path("web-2.csr");
    ok(&store.run(&["keys", "csr", &format!("#{new_object}"), "--out", &csr2]));
    ca.issue(&csr2, 365, None, "web-2.crt");
    ok(&store.run(&["certs", "import", &ca.path("web-2.crt")]));
    let v = json_of(&store.run(&["keys", "due", "--within", "30d", "--json"]));
    assert_eq!(v, serde_json::json!([]), "{v}");
    let out = store.run(&["keys", "due", "--within", "30d"]);
    assert!(stdout(&out).contains("no key is due"), "{}", stdout(&out));
}
