//! `keyward backup create --shares N --threshold M` and `backup
//! verify/restore --share …` as custodians meet them: a 3-of-5 backup
//! opened from different subsets and restored into working keys, the
//! refusals that name the share at fault (too few, a changed character,
//! a share of another backup, a duplicate, a wrong custodian passphrase),
//! bad split arguments, and golden text of the create and the refusals
//! (paths, ids, times and sizes normalised).

#[path = "common/cli_bin.rs"]
mod cli_bin;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use tempfile::TempDir;

const SO_PIN: &str = "so-pin-1";
const USER_PIN: &str = "user-pin-1";

/// Every variable the CLI reads for these commands; cleared so the
/// caller's shell cannot leak in.
const CLI_ENV: [&str; 8] = [
    "CREDENTIALS_DIRECTORY",
    "KEYWARD_PIN",
    "KEYWARD_SO_PIN",
    "KEYWARD_NEW_PIN",
    "KEYWARD_NEW_SO_PIN",
    "KEYWARD_BACKUP_PASSPHRASE",
    "KEYWARD_STORE",
    "NO_COLOR",
];

struct Store {
    dir: TempDir,
    conf: PathBuf,
}

impl Store {
    /// An initialized token with two keys (fast KDF from the config).
    fn with_keys() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("keyward.toml");
        let text = format!(
            "store_dir = {:?}\npin_kdf_iterations = 1000\n",
            dir.path().join("store")
        );
        std::fs::write(&conf, text).unwrap();
        let store = Store { dir, conf };
        ok(&store.run_with(
            &["token", "init", "--label", "cli-test"],
            &[
                ("KEYWARD_NEW_SO_PIN", SO_PIN),
                ("KEYWARD_NEW_PIN", USER_PIN),
            ],
        ));
        for args in [
            &["--type", "ec-p256", "--label", "sig"][..],
            &["--type", "aes-256", "--label", "kek"],
        ] {
            ok(&store.run(&[&["keys", "generate"], args].concat()));
        }
        store
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store_dir(&self) -> PathBuf {
        self.path("store")
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(cli_bin::keyward_bin());
        for name in CLI_ENV {
            cmd.env_remove(name);
        }
        for i in 1..=16 {
            cmd.env_remove(format!("KEYWARD_SHARE_PASSPHRASE_{i}"));
        }
        cmd.env("KEYWARD_CONF", &self.conf)
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"").unwrap();
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[("KEYWARD_PIN", USER_PIN)])
    }

    /// `keys list --json` without what every use changes.
    fn keys(&self) -> Value {
        let mut listed = json_of(&self.run(&["keys", "list", "--json"]));
        for key in listed.as_array_mut().unwrap() {
            let obj = key.as_object_mut().unwrap();
            obj.remove("use_count");
            obj.remove("last_used");
        }
        assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
        listed
    }

    /// The private key signs: a CSR made with it.
    fn signs(&self, name: &str) {
        let csr = self.path(name);
        ok(&self.run(&[
            "keys",
            "csr",
            "sig",
            "--subject",
            "CN=restored",
            "--out",
            csr.to_str().unwrap(),
        ]));
        assert!(std::fs::metadata(&csr).unwrap().len() > 100);
    }

    /// `backup create --out NAME --shares N --threshold M` + `extra`.
    fn split(&self, name: &str, n: u8, m: u8, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self.path(name);
        let (n, m) = (n.to_string(), m.to_string());
        let mut args = vec![
            "backup",
            "create",
            "--out",
            out.to_str().unwrap(),
            "--shares",
            &n,
            "--threshold",
            &m,
        ];
        args.extend_from_slice(extra);
        self.run_with(&args, env)
    }

    /// `backup VERB NAME --share NAME.share-I-of-N …` + `extra`.
    fn with_shares(
        &self,
        verb: &str,
        name: &str,
        shares: &[PathBuf],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let file = self.path(name);
        let mut args = vec!["backup".to_string(), verb.to_string()];
        args.push(file.to_str().unwrap().to_string());
        for s in shares {
            args.push("--share".into());
            args.push(s.to_str().unwrap().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_with(&args, env)
    }
}

fn share(store: &Store, name: &str, i: u8, n: u8) -> PathBuf {
    store.path(&format!("{name}.share-{i}-of-{n}"))
}

fn shares(store: &Store, name: &str, picked: &[u8], n: u8) -> Vec<PathBuf> {
    picked.iter().map(|&i| share(store, name, i, n)).collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
}

fn fails(out: &Output, code: i32, text: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(text), "{text:?} not in {err:?}");
}

fn json_of(out: &Output) -> Value {
    ok(out);
    serde_json::from_str(&stdout(out)).unwrap()
}

/// `text` with the temporary directory, the backup id and what changes
/// from run to run replaced by stable markers.
fn normalised(store: &Store, text: &str, id: &str) -> String {
    let dir = store.dir.path().to_str().unwrap();
    text.replace(dir, "<DIR>")
        .replace(id, "<ID>")
        .lines()
        .map(|l| {
            let trimmed = l.trim_start();
            for field in ["serial", "created", "bytes"] {
                if trimmed.starts_with(&format!("{field} ")) {
                    return format!("  {field:<8} <{}>", field.to_uppercase());
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn three_of_five_opens_from_any_three_and_restores_working_keys() {
    let store = Store::with_keys();
    let before = store.keys();
    let made = json_of(&store.split("t.kwb", 5, 3, &["--json"], &[]));
    assert_eq!(made["label"], json!("cli-test"));
    assert_eq!(made["threshold"], json!(3));
    let id = made["backup_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let listed = made["shares"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    for (i, s) in (1u8..).zip(listed) {
        let path = share(&store, "t.kwb", i, 5);
        assert_eq!(s["index"], json!(i));
        assert_eq!(s["file"], json!(path.to_str().unwrap()));
        assert_eq!(s["protected"], json!(false));
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("keyward backup share v1\n"), "{text}");
        assert!(text.contains(&format!("backup {id}\n")), "{text}");
        assert!(text.contains(&format!("share {i} of 5, threshold 3\n")));
        assert!(text.contains("protection none\n"));
    }
    assert_eq!(mode(&store.path("t.kwb")), 0o600);
    // The backup is in the audit trail, with its split.
    let trail = json_of(&store.run(&["audit", "show", "--event", "backup", "--json"]));
    assert_eq!(
        trail[0]["detail"],
        json!(format!(
            "to {} split into 5 shares, threshold 3",
            store.path("t.kwb").display()
        ))
    );

    let subsets: [&[u8]; 4] = [&[1, 2, 3], &[2, 4, 5], &[1, 3, 5], &[5, 1, 4, 2]];
    for subset in subsets {
        let given = shares(&store, "t.kwb", subset, 5);
        let verified = json_of(&store.with_shares("verify", "t.kwb", &given, &["--json"], &[]));
        for field in ["label", "serial", "objects", "bytes", "created"] {
            assert_eq!(verified[field], made[field], "{field} {subset:?}");
        }
    }

    // Restored from three different subsets into an empty store: the
    // same keys, and the private key signs.
    for (n, subset) in subsets.iter().take(3).enumerate() {
        std::fs::remove_dir_all(store.store_dir()).unwrap();
        let given = shares(&store, "t.kwb", subset, 5);
        ok(&store.with_shares("restore", "t.kwb", &given, &[], &[]));
        assert_eq!(store.keys(), before, "{subset:?}");
        store.signs(&format!("restored-{n}.csr"));
    }

    // Over the live token (the restore_cmd path): shares, then SO PIN.
    ok(&store.run(&["keys", "generate", "--type", "aes-128", "--label", "later"]));
    let given = shares(&store, "t.kwb", &[3, 4, 5], 5);
    let out = store.with_shares(
        "restore",
        "t.kwb",
        &given,
        &["--yes"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_PIN", USER_PIN)],
    );
    ok(&out);
    assert!(stdout(&out).contains("restored slot"), "{}", stdout(&out));
    assert_eq!(store.keys(), before);
    store.signs("over-live.csr");
}

#[test]
fn refusals_name_the_share_at_fault() {
    let store = Store::with_keys();
    let made = json_of(&store.split("t.kwb", 5, 3, &["--json"], &[]));
    let id = made["backup_id"].as_str().unwrap().to_string();
    let s = |i| share(&store, "t.kwb", i, 5);
    let verify = |given: &[PathBuf]| store.with_shares("verify", "t.kwb", given, &[], &[]);

    // Two shares: below the threshold, named.
    let out = verify(&[s(1), s(2)]);
    fails(&out, 2, "needs 3 of them (threshold 3); 2 given");
    let golden_too_few = "keyward: error: backup verification failed: this backup is split \
                          into 5 shares and needs 3 of them (threshold 3); 2 given";
    assert_eq!(stderr(&out).trim_end(), golden_too_few);

    // One character of a data line changed: that file is named.
    let text = std::fs::read_to_string(s(2)).unwrap();
    let at = text.find("\ndata ").unwrap() + 6;
    let mut changed = text.clone();
    let c = &text[at..at + 1];
    changed.replace_range(at..at + 1, if c == "0" { "1" } else { "0" });
    let bad = store.path("changed.share");
    std::fs::write(&bad, &changed).unwrap();
    let out = verify(&[s(1), bad.clone(), s(3)]);
    fails(&out, 5, &format!("share {}: is damaged", bad.display()));
    assert_eq!(
        normalised(&store, stderr(&out).trim_end(), &id),
        "keyward: error: backup verification failed: share <DIR>/changed.share: is damaged: \
         its checksum does not match its content"
    );
    // A changed split line is caught the same way.
    let bad_split = store.path("split.share");
    std::fs::write(&bad_split, text.replace("share 2 of 5", "share 4 of 5")).unwrap();
    fails(
        &verify(&[s(1), s(3), bad_split.clone()]),
        5,
        &format!("share {}: is damaged", bad_split.display()),
    );
    // Not a share at all.
    fails(
        &verify(&[s(1), s(3), store.path("keyward.toml")]),
        5,
        "is not a Keyward backup share",
    );

    // A share of another backup (same token, same split): named.
    let other = json_of(&store.split("o.kwb", 5, 3, &["--json"], &[]));
    let other_id = other["backup_id"].as_str().unwrap();
    assert_ne!(other_id, id);
    let foreign = share(&store, "o.kwb", 4, 5);
    let out = verify(&[s(1), s(2), foreign.clone()]);
    fails(
        &out,
        5,
        &format!("share {}: belongs to backup", foreign.display()),
    );
    assert_eq!(
        normalised(&store, stderr(&out).trim_end(), &id).replace(other_id, "<OTHER>"),
        "keyward: error: backup verification failed: share <DIR>/o.kwb.share-4-of-5: belongs \
         to backup <OTHER>, not to this backup (<ID>)"
    );

    // The same share twice.
    let out = verify(&[s(1), s(2), s(1)]);
    fails(
        &out,
        2,
        &format!("share {}: is share 1 again", s(1).display()),
    );
    assert_eq!(
        normalised(&store, stderr(&out).trim_end(), &id),
        "keyward: error: backup verification failed: share <DIR>/t.kwb.share-1-of-5: is share 1 \
         again (already given as <DIR>/t.kwb.share-1-of-5): give each share once"
    );

    // A passphrase for a split backup, shares for a passphrase backup.
    let out = store.run_with(
        &["backup", "verify", store.path("t.kwb").to_str().unwrap()],
        &[("KEYWARD_BACKUP_PASSPHRASE", "x")],
    );
    fails(
        &out,
        2,
        "this backup is split into 5 shares: give 3 of them",
    );
    assert_eq!(
        stderr(&out).trim_end(),
        "keyward: error: backup verification failed: this backup is split into 5 shares: give 3 \
         of them with --share FILE (no backup passphrase opens it)"
    );
    let plain = store.path("plain.kwb");
    ok(&store.run_with(
        &["backup", "create", "--out", plain.to_str().unwrap()],
        &[("KEYWARD_BACKUP_PASSPHRASE", "pass phrase")],
    ));
    fails(
        &store.with_shares("verify", "plain.kwb", &[s(1), s(2), s(3)], &[], &[]),
        2,
        "sealed under a passphrase, not split into shares",
    );

    // A restore refused for any of these writes nothing.
    std::fs::remove_dir_all(store.store_dir()).unwrap();
    for given in [
        vec![s(1), s(2)],
        vec![s(1), bad.clone(), s(3)],
        vec![s(1), s(2), foreign],
    ] {
        let out = store.with_shares("restore", "t.kwb", &given, &[], &[]);
        assert!(matches!(out.status.code(), Some(2 | 5)), "{}", stderr(&out));
        assert!(stderr(&out).starts_with("keyward: error: restore failed: "));
        assert!(!store.store_dir().exists());
    }
    ok(&store.with_shares("restore", "t.kwb", &[s(5), s(3), s(1)], &[], &[]));
}

#[test]
fn passphrase_protected_shares() {
    let store = Store::with_keys();
    let env = [
        ("KEYWARD_SHARE_PASSPHRASE_1", "alice's"),
        ("KEYWARD_SHARE_PASSPHRASE_2", "bob's"),
        ("KEYWARD_SHARE_PASSPHRASE_3", "carol's"),
    ];
    let made = json_of(&store.split("p.kwb", 3, 2, &["--share-passphrases", "--json"], &env));
    assert!(
        made["shares"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["protected"] == json!(true)),
        "{made}"
    );
    let s = |i| share(&store, "p.kwb", i, 3);
    let text = std::fs::read_to_string(s(1)).unwrap();
    assert!(
        text.contains("protection passphrase pbkdf2-sha256 iterations 1000 salt "),
        "{text}"
    );
    // Each custodian's passphrase from the environment.
    ok(&store.with_shares("verify", "p.kwb", &[s(1), s(3)], &[], &env));
    // Or --pin-file lines in the order the shares are given.
    let pins = store.path("pins");
    std::fs::write(&pins, "carol's\nbob's\n").unwrap();
    std::fs::set_permissions(&pins, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    ok(&store.with_shares(
        "verify",
        "p.kwb",
        &[s(3), s(2)],
        &["--pin-file", pins.to_str().unwrap()],
        &[],
    ));
    // A wrong passphrase names the share.
    let wrong = [env[0], ("KEYWARD_SHARE_PASSPHRASE_3", "mallory's")];
    let out = store.with_shares("verify", "p.kwb", &[s(1), s(3)], &[], &wrong);
    fails(
        &out,
        5,
        &format!(
            "share {}: does not open with the passphrase given for share 3",
            s(3).display()
        ),
    );
    let id = made["backup_id"].as_str().unwrap();
    assert_eq!(
        normalised(&store, stderr(&out).trim_end(), id),
        "keyward: error: backup verification failed: share <DIR>/p.kwb.share-3-of-3: does not \
         open with the passphrase given for share 3 (wrong passphrase, or the share is damaged)"
    );
    // None given: the variable to set is named.
    fails(
        &store.with_shares("verify", "p.kwb", &[s(1), s(2)], &[], &[]),
        3,
        "KEYWARD_SHARE_PASSPHRASE_1",
    );
    // Created with --pin-file lines in share order.
    std::fs::write(&pins, "one\ntwo\nthree\n").unwrap();
    let pin_file = ["--pin-file", pins.to_str().unwrap()];
    ok(&store.split(
        "q.kwb",
        3,
        2,
        &[&["--share-passphrases"][..], &pin_file].concat(),
        &[],
    ));
    let q = |i| share(&store, "q.kwb", i, 3);
    std::fs::write(&pins, "three\none\n").unwrap();
    ok(&store.with_shares("verify", "q.kwb", &[q(3), q(1)], &pin_file, &[]));
    std::fs::write(&pins, "one\nthree\n").unwrap();
    fails(
        &store.with_shares("verify", "q.kwb", &[q(3), q(1)], &pin_file, &[]),
        5,
        "does not open with the passphrase given for share 3",
    );
    // Restored with two protected shares.
    std::fs::remove_dir_all(store.store_dir()).unwrap();
    ok(&store.with_shares("restore", "p.kwb", &[s(2), s(3)], &[], &env));
    store.signs("p.csr");
}

#[test]
fn bad_split_arguments_are_refused() {
    let store = Store::with_keys();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--shares", "5", "--threshold", "1"],
            "2 ≤ --threshold ≤ --shares ≤ 16",
        ),
        (
            &["--shares", "5", "--threshold", "6"],
            "--threshold 6 --shares 5",
        ),
        (&["--shares", "17", "--threshold", "2"], "≤ 16"),
        (&["--shares", "1", "--threshold", "1"], "2 ≤ --threshold"),
        (
            &["--threshold", "3"],
            "--shares N and --threshold M go together",
        ),
        (&["--shares", "5"], "--threshold"),
        (
            &["--share-passphrases"],
            "it needs --shares N --threshold M",
        ),
    ];
    let out_path = store.path("x.kwb");
    for (extra, text) in cases {
        let mut args = vec!["backup", "create", "--out", out_path.to_str().unwrap()];
        args.extend_from_slice(extra);
        fails(&store.run_with(&args, &[]), 2, text);
    }
    // A backup passphrase set alongside --shares would protect nothing.
    fails(
        &store.split("x.kwb", 5, 3, &[], &[("KEYWARD_BACKUP_PASSPHRASE", "p")]),
        2,
        "no backup passphrase is used: unset KEYWARD_BACKUP_PASSPHRASE",
    );
    assert!(!out_path.exists());
    assert!(!share(&store, "x.kwb", 1, 5).exists());
    // An existing share file blocks the whole backup.
    std::fs::write(share(&store, "x.kwb", 3, 5), "mine").unwrap();
    fails(&store.split("x.kwb", 5, 3, &[], &[]), 1, "already exists");
    assert!(!out_path.exists());
    assert!(!share(&store, "x.kwb", 1, 5).exists());
}

#[test]
fn golden_create_output() {
    let store = Store::with_keys();
    let out = store.split("g.kwb", 5, 3, &[], &[]);
    ok(&out);
    let text = stdout(&out);
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("id "))
        .unwrap()
        .trim()
        .to_string();
    let golden = "\
backed up the token to <DIR>/g.kwb
  label    cli-test
  serial   <SERIAL>
  objects  3
  created  <CREATED>
  bytes    <BYTES>
  id       <ID>
split into 5 shares; any 3 of them open the backup:
  share 1 of 5  <DIR>/g.kwb.share-1-of-5
  share 2 of 5  <DIR>/g.kwb.share-2-of-5
  share 3 of 5  <DIR>/g.kwb.share-3-of-5
  share 4 of 5  <DIR>/g.kwb.share-4-of-5
  share 5 of 5  <DIR>/g.kwb.share-5-of-5
give each share file to its own custodian and keep no copy here: fewer than 3 shares reveal nothing about the key";
    assert_eq!(normalised(&store, text.trim_end(), &id), golden);

    // A share file's layout (its bytes and checksum vary).
    let share_text = std::fs::read_to_string(share(&store, "g.kwb", 2, 5)).unwrap();
    let layout: Vec<String> = share_text
        .replace(&id, "<ID>")
        .lines()
        .map(|l| match l.split_once(' ') {
            Some(("data", rest)) => format!(
                "data {}",
                rest.split(' ')
                    .map(|g| "x".repeat(g.len()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Some(("checksum", _)) => "checksum <SUM>".into(),
            _ => l.to_string(),
        })
        .collect();
    assert_eq!(
        layout.join("\n"),
        "\
keyward backup share v1
backup <ID>
share 2 of 5, threshold 3
protection none
data xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx
data xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx
data xx
checksum <SUM>"
    );
}
