//! The module's layering rules as a test that reads the source (a call
//! walks down ffi → api → token/session/object → mechanism → store):
//! `object/` never imports the façade (`api`); `mechanism/` imports no
//! layer above it (`object`, `api`, `token`, `store`); crypto and key-format
//! crates are named only in `mechanism/`, the store's sealing
//! (`store/seal*.rs`) and the CLI (crates/keyward-cli, its own package). Test code
//! (`#[cfg(test)]` items and the files declared under one) is exempt: a
//! test may drive the whole `Library`. Each failure prints `file:line`.
//!
//! The scan is textual, not a compiler pass: comments and string contents
//! are blanked first, `crate::`/`super::` paths (also grouped ones,
//! `crate::{a, b}`) are resolved to the top-level module they name, and a
//! crate counts as named when a path starts with it (`sha1::Sha1`,
//! `use getrandom;`). The scanner's own tests below keep it honest.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Dependencies that compute or parse cryptographic material: named only
/// where crypto is allowed. The key-format crates (der … sec1) are here
/// too: reading key encodings is the mechanism layer's job (keyfile,
/// pkcs8, spki), and a provider swap must find every such call there.
const CRYPTO_CRATES: &[&str] = &[
    "aes-gcm",
    "aes",
    "ctr",
    "cbc",
    "ghash",
    "chacha20poly1305",
    "chacha20",
    "salsa20",
    "poly1305",
    "cmac",
    "subtle",
    "p256",
    "p384",
    "p521",
    "p192",
    "p224",
    "ed25519-dalek",
    "curve25519-dalek",
    "x25519-dalek",
    "ed448-goldilocks",
    "x448",
    "ml-dsa",
    "shake",
    "slh-dsa",
    "ml-kem",
    "ecdsa",
    "dsa",
    "crypto-bigint",
    "crypto-primes",
    "rsa",
    "sha1",
    "sha2",
    "sha3",
    "hmac",
    "hkdf",
    "pbkdf2",
    "rand_core",
    "getrandom",
    "der",
    "pem-rfc7468",
    "base64ct",
    "spki",
    "pkcs8",
    "sec1",
    // Shamir secret sharing of split backup keys (store/seal_shares.rs).
    "blahaj",
    // The optional aws-lc provider (feature `aws-lc`, mechanism/provider/).
    "aws-lc-rs",
];

/// Dependencies any layer may name (bindings, storage, encoding of our
/// own formats, memory hygiene, the CLI's crates).
const OTHER_CRATES: &[&str] = &[
    "cryptoki-sys",
    "zeroize",
    "rusqlite",
    "rustix",
    "once_cell",
    "toml",
    "serde",
    "serde_json",
    "time",
    "libc",
    "arc-swap",
    // The PostgreSQL row store (feature `postgres`, store/postgres/):
    // the client and its TLS (certificate checks, no key material).
    "postgres",
    "tokio-postgres-rustls",
    "rustls",
    "rustls-native-certs",
    "bytes",
    // The module's own crates.
    "keyward-core",
    "keyward-shm",
];

/// Named exceptions to the crypto rule: (file, crate, why). Each must
/// still be needed (a test fails on a stale one). None are left: the last
/// two (object/template.rs's sha1/getrandom, api/global.rs's curve table
/// warm-up) now go through `mechanism`.
const CRYPTO_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// Where crypto crates may be named (the CLI, crates/keyward-cli, is not scanned:
/// it is its own crate).
fn crypto_allowed(rel: &str) -> bool {
    rel.starts_with("src/mechanism/") || rel.starts_with("src/store/seal")
}

/// One library source file, its test code removed.
struct Source {
    /// Relative to the package root, with `/` ("src/object/mod.rs").
    rel: String,
    /// The module path of the file (`["object", "template"]`).
    module: Vec<String>,
    /// Comments, string contents and `#[cfg(test)]` items blanked; the
    /// line structure is kept.
    code: String,
}

/// The workspace top: this file is compiled by crates/keyward-core, whose
/// sources are the repository's src/.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `src` with comments blanked, and string and char literal contents too
/// when `strings` (quotes kept). Newlines survive, so lines keep their
/// numbers. Lifetimes (`'a`) are told from char literals by the closing
/// quote.
fn blank(src: &str, strings: bool) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let keep_or_blank = |c: char, out: &mut String, blanked: bool| {
        out.push(if c == '\n' || !blanked { c } else { ' ' });
    };
    let mut i = 0;
    while i < chars.len() {
        let c = at(i);
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && at(i) != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    keep_or_blank(at(i), &mut out, true);
                    i += 1;
                }
            }
        } else if c == 'r'
            && (at(i + 1) == '"' || (at(i + 1) == '#' && !is_ident(at(i + 2))))
            && (i == 0 || !is_ident(at(i - 1)) || at(i - 1) == 'b')
        {
            // Raw string r"…" / r#"…"#.
            let mut hashes = 0;
            let mut j = i + 1;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                out.push(c);
                i += 1;
                continue;
            }
            for k in i..=j {
                out.push(at(k));
            }
            i = j + 1;
            while i < chars.len() {
                if at(i) == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    for k in i..=i + hashes {
                        out.push(at(k));
                    }
                    i += hashes + 1;
                    break;
                }
                keep_or_blank(at(i), &mut out, strings);
                i += 1;
            }
        } else if c == '"' {
            out.push(c);
            i += 1;
            while i < chars.len() {
                if at(i) == '\\' {
                    keep_or_blank(at(i), &mut out, strings);
                    keep_or_blank(at(i + 1), &mut out, strings);
                    i += 2;
                } else if at(i) == '"' {
                    out.push('"');
                    i += 1;
                    break;
                } else {
                    keep_or_blank(at(i), &mut out, strings);
                    i += 1;
                }
            }
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A char literal: '\x', '\u{…}' or one char.
            out.push(c);
            i += 1;
            while i < chars.len() && at(i) != '\'' {
                if at(i) == '\\' {
                    keep_or_blank(at(i), &mut out, strings);
                    i += 1;
                }
                keep_or_blank(at(i), &mut out, strings);
                i += 1;
            }
            out.push('\'');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the item after an attribute ending at `from` ends: after further
/// attributes, the first `;` outside brackets, or the `}` closing the
/// item's first block.
fn item_end(code: &[char], from: usize) -> usize {
    let mut i = from;
    let mut depth = 0i32;
    while let Some(&c) = code.get(i) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => return i + 1,
            '{' if depth == 0 => {
                let mut braces = 0i32;
                while let Some(&b) = code.get(i) {
                    if b == '{' {
                        braces += 1;
                    } else if b == '}' {
                        braces -= 1;
                        if braces == 0 {
                            return i + 1;
                        }
                    }
                    i += 1;
                }
                return i;
            }
            _ => {}
        }
        i += 1;
    }
    i
}

const CFG_TEST: &str = "#[cfg(test)]";

/// `code` (already blanked) without its `#[cfg(test)]` items.
fn without_test_items(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let pattern: Vec<char> = CFG_TEST.chars().collect();
    let mut i = 0;
    while i + pattern.len() <= chars.len() {
        if chars.get(i..i + pattern.len()) == Some(pattern.as_slice()) {
            let end = item_end(&chars, i + pattern.len());
            for c in chars.iter_mut().take(end).skip(i) {
                if *c != '\n' {
                    *c = ' ';
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    chars.into_iter().collect()
}

/// The files `#[cfg(test)] [#[path = "…"]] mod name;` in `file` declares.
fn test_children(file: &Path, text: &str) -> Vec<PathBuf> {
    let code = blank(text, false);
    let dir = file.parent().unwrap_or(Path::new("."));
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let mod_rs = matches!(stem, "mod" | "lib" | "main");
    let mut found = Vec::new();
    for (at, _) in code.match_indices(CFG_TEST) {
        let mut rest = code.get(at + CFG_TEST.len()..).unwrap_or("").trim_start();
        let mut path_attr = None;
        while rest.starts_with("#[") {
            let close = rest.find(']').unwrap_or(rest.len());
            let attr = rest.get(..close).unwrap_or("");
            if let Some(p) = attr.strip_prefix("#[path = \"") {
                path_attr = Some(p.trim_end_matches('"').to_string());
            }
            rest = rest.get(close + 1..).unwrap_or("").trim_start();
        }
        for vis in ["pub(crate) ", "pub(super) ", "pub "] {
            rest = rest.strip_prefix(vis).unwrap_or(rest);
        }
        let Some(decl) = rest.strip_prefix("mod ") else {
            continue;
        };
        let name: String = decl.chars().take_while(|&c| is_ident(c)).collect();
        if !decl
            .get(name.len()..)
            .unwrap_or("")
            .trim_start()
            .starts_with(';')
        {
            continue; // an inline `mod tests { … }`: removed with the items
        }
        match path_attr {
            Some(p) => found.push(dir.join(p)),
            None => {
                let base = if mod_rs {
                    dir.to_path_buf()
                } else {
                    dir.join(stem)
                };
                found.push(base.join(format!("{name}.rs")));
                found.push(base.join(&name).join("mod.rs"));
            }
        }
    }
    found
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_path(rel: &str) -> Vec<String> {
    let inner = rel.strip_prefix("src/").unwrap_or(rel);
    let inner = inner.strip_suffix(".rs").unwrap_or(inner);
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Every library source file (not test-only files), test
/// items removed.
fn library_sources() -> Vec<Source> {
    let root = root();
    let mut files = Vec::new();
    rs_files(&root.join("src"), &mut files);
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect();
    let mut test_only: HashSet<PathBuf> = HashSet::new();
    for (file, text) in &texts {
        test_only.extend(test_children(file, text));
        if text.trim_start().starts_with("#![cfg(test)]") {
            test_only.insert(file.clone());
        }
    }
    texts
        .into_iter()
        .filter(|(f, _)| !test_only.contains(f))
        .map(|(f, text)| {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            Source {
                module: module_path(&rel),
                code: without_test_items(&blank(&text, true)),
                rel,
            }
        })
        .collect()
}

/// The identifiers that start each element of a `{a, b::c, d as e}` group
/// opening at `rest` (just after its `{`).
fn group_heads(rest: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 1;
    let mut expecting = true;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            c if expecting && depth == 1 && is_ident(c) => {
                let word: String = rest
                    .get(i..)
                    .unwrap_or("")
                    .chars()
                    .take_while(|&c| is_ident(c))
                    .collect();
                heads.push(word);
                expecting = false;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules of the crate that `code` (a file of module path
/// `module`) names through `crate::`, `$crate::` or `super::` paths, with
/// the 1-based line of each.
fn crate_modules(code: &str, module: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut search = 0;
        while let Some(pos) = line.get(search..).and_then(|l| {
            let a = l.find("crate::");
            let b = l.find("super::");
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }) {
            let at = search + pos;
            let before = line.get(..at).and_then(|b| b.chars().last());
            let mut rest = line.get(at..).unwrap_or("");
            let fresh = before.is_none_or(|c| !is_ident(c) && c != ':');
            let dollar = before == Some('$');
            if !fresh && !dollar {
                search = at + 7;
                continue;
            }
            let mut supers = 0;
            let mut anchored = false;
            if let Some(r) = rest.strip_prefix("crate::") {
                rest = r;
                anchored = true;
            } else {
                while let Some(r) = rest.strip_prefix("super::") {
                    supers += 1;
                    rest = r;
                }
            }
            search = line.len() - rest.len();
            // Still inside the file's own top-level module: nothing named.
            let own = module
                .first()
                .filter(|_| !anchored && supers < module.len());
            let heads = if let Some(group) = rest.strip_prefix('{') {
                group_heads(group)
            } else {
                vec![rest.chars().take_while(|&c| is_ident(c)).collect()]
            };
            for head in heads {
                let top = own.cloned().unwrap_or(head);
                found.push((n + 1, top));
            }
        }
    }
    found
}

/// Lines of `code` that name dependency `krate` (with `-` as `_`): a path
/// starting with it, `use krate;`/`use krate as …`, `extern crate krate`.
fn names_crate(code: &str, krate: &str) -> Vec<usize> {
    let ident = krate.replace('-', "_");
    let path = format!("{ident}::");
    let mut lines = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let trimmed = line.trim_start();
        let whole_use = [
            format!("use {ident};"),
            format!("use {ident} as "),
            format!("extern crate {ident}"),
        ]
        .iter()
        .any(|p| trimmed.starts_with(p.as_str()));
        let as_path = line.match_indices(&path).any(|(at, _)| {
            line.get(..at)
                .and_then(|b| b.chars().last())
                .is_none_or(|c| !is_ident(c) && c != ':' && c != '$')
        });
        if whole_use || as_path {
            lines.push(n + 1);
        }
    }
    lines
}

/// `file:line: what` for every file of `sources` under `dir` that names
/// one of `banned` top-level modules.
fn module_offences(sources: &[Source], dir: &str, banned: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sources.iter().filter(|s| s.rel.starts_with(dir)) {
        for (line, top) in crate_modules(&s.code, &s.module) {
            if banned.contains(&top.as_str()) {
                out.push(format!("{}:{line}: names crate::{top}", s.rel));
            }
        }
    }
    out
}

fn fail_with(rule: &str, offences: &[String]) {
    assert!(
        offences.is_empty(),
        "{rule}:\n  {}\n",
        offences.join("\n  ")
    );
}

#[test]
fn object_does_not_import_the_facade() {
    let sources = library_sources();
    fail_with(
        "object/ imports the façade (use crate::types for Attr/AttrRead)",
        &module_offences(&sources, "src/object/", &["api"]),
    );
}

#[test]
fn mechanism_imports_no_layer_above() {
    let sources = library_sources();
    fail_with(
        "mechanism/ imports a layer above it",
        &module_offences(
            &sources,
            "src/mechanism/",
            &["object", "api", "token", "store"],
        ),
    );
}

#[test]
fn crypto_crates_stay_in_the_mechanism_layer() {
    let sources = library_sources();
    let mut offences = Vec::new();
    let mut used_exceptions = HashSet::new();
    for s in sources.iter().filter(|s| !crypto_allowed(&s.rel)) {
        for krate in CRYPTO_CRATES {
            for line in names_crate(&s.code, krate) {
                let excepted = CRYPTO_EXCEPTIONS
                    .iter()
                    .position(|(f, k, _)| *f == s.rel && k == krate);
                match excepted {
                    Some(i) => {
                        used_exceptions.insert(i);
                    }
                    None => offences.push(format!("{}:{line}: names crate {krate}", s.rel)),
                }
            }
        }
    }
    for (i, (file, krate, _)) in CRYPTO_EXCEPTIONS.iter().enumerate() {
        if !used_exceptions.contains(&i) {
            offences.push(format!("{file}: exception for {krate} no longer needed"));
        }
    }
    fail_with(
        "crypto crates named outside src/mechanism/, src/store/seal*.rs and the CLI \
         (call the mechanism layer instead)",
        &offences,
    );
}

/// The admin command's crates, which the module must not link: they are
/// dependencies of crates/keyward-cli only (issue 12).
const CLI_CRATES: &[&str] = &["clap", "rpassword", "comfy-table", "indicatif"];

/// The module's dependencies: those of its own package (the root), of
/// the core and of the change counter's crate.
fn module_dependencies() -> Vec<String> {
    let mut names = Vec::new();
    for manifest in [
        "Cargo.toml",
        "crates/keyward-core/Cargo.toml",
        "crates/keyward-shm/Cargo.toml",
    ] {
        names.extend(dependencies_in(&root().join(manifest)));
    }
    names
}

/// The `[dependencies]` names of one manifest.
fn dependencies_in(manifest: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(manifest).unwrap();
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        names.push(
            line.split(['=', ' ', '.'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
        );
    }
    names
}

/// The cdylib links nothing of the CLI: its crates are the CLI package's
/// alone, and that package depends on the module, never the reverse.
#[test]
fn the_module_depends_on_no_cli_crate() {
    let deps = module_dependencies();
    assert!(deps.len() > 20, "no [dependencies] read from Cargo.toml");
    let linked: Vec<&String> = deps
        .iter()
        .filter(|d| CLI_CRATES.contains(&d.as_str()))
        .collect();
    assert!(
        linked.is_empty(),
        "the module depends on CLI crates: {linked:?}"
    );
    let cli = std::fs::read_to_string(root().join("crates/keyward-cli/Cargo.toml")).unwrap();
    for c in CLI_CRATES {
        assert!(
            cli.contains(&format!("\n{c} = ")),
            "{c} is the CLI's dependency"
        );
    }
}

/// A new dependency must be sorted into one list, so the crypto rule
/// cannot miss it.
#[test]
fn every_dependency_is_classified() {
    let deps = module_dependencies();
    let unclassified: Vec<&String> = deps
        .iter()
        .filter(|d| !CRYPTO_CRATES.contains(&d.as_str()) && !OTHER_CRATES.contains(&d.as_str()))
        .collect();
    assert!(deps.len() > 20, "no [dependencies] read from Cargo.toml");
    assert!(
        unclassified.is_empty(),
        "dependencies to add to CRYPTO_CRATES or OTHER_CRATES in src/layering_tests.rs: {unclassified:?}"
    );
}

#[test]
fn scanner_sees_through_comments_strings_and_test_items() {
    let src = r##"
use crate::types::Attr; // crate::api in a comment
/* crate::api
   in a block */
const S: &str = "crate::api sha1::Sha1";
const R: &str = r#"crate::api"#;
const C: char = '}';
fn f<'a>(x: &'a str) -> &'a str { x }
#[cfg(test)]
mod tests {
    use crate::api::Library;
    fn g() { let _ = sha1::Sha1::default(); }
}
#[cfg(test)]
#[path = "x_tests.rs"]
mod more;
use crate::{error::Error, api::Out};
use sha2::Sha256;
"##;
    let code = without_test_items(&blank(src, true));
    let module = vec!["object".to_string(), "x".to_string()];
    let tops: Vec<(usize, String)> = crate_modules(&code, &module);
    assert_eq!(
        tops,
        vec![
            (2, "types".to_string()),
            (17, "error".to_string()),
            (17, "api".to_string())
        ]
    );
    assert!(names_crate(&code, "sha1").is_empty());
    assert_eq!(names_crate(&code, "sha2"), vec![18]);
    assert_eq!(names_crate("    use getrandom;\n", "getrandom"), vec![1]);
    assert!(names_crate("use super::aes::Key;\nlet aes = 1;\n", "aes").is_empty());
    let children = test_children(Path::new("src/object/x.rs"), src);
    assert_eq!(children, vec![PathBuf::from("src/object/x_tests.rs")]);
}

#[test]
fn super_paths_resolve_to_their_module() {
    let m = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Inside mechanism/: super:: stays in the layer; two reach the root.
    let mech = m(&["mechanism", "keyfile"]);
    assert_eq!(
        crate_modules("use super::keys::Key;\n", &mech),
        vec![(1, "mechanism".to_string())]
    );
    assert_eq!(
        crate_modules("use super::super::object::Object;\n", &mech),
        vec![(1, "object".to_string())]
    );
    assert_eq!(
        crate_modules("use super::object::Object;\n", &m(&["mechanism"])),
        vec![(1, "object".to_string())]
    );
}

/// The scan reads the real tree: the files the rules are about, and the
/// crate uses it must see where they are allowed.
#[test]
fn scanner_reads_the_tree() {
    let sources = library_sources();
    assert!(sources.len() > 100, "{} files", sources.len());
    let has = |rel: &str| sources.iter().any(|s| s.rel == rel);
    assert!(has("src/object/template.rs") && has("src/mechanism/digest.rs"));
    assert!(has("src/store/seal.rs"));
    // Test-only files are left out.
    assert!(!has("src/object/template_tests.rs"));
    assert!(!has("src/mechanism/keyfile_fixtures.rs"));
    let digest = sources
        .iter()
        .find(|s| s.rel == "src/mechanism/digest.rs")
        .unwrap();
    assert!(!names_crate(&digest.code, "sha2").is_empty());
}
