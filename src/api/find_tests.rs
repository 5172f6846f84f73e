//! C_FindObjects over a token larger than one search page (issue 11):
//! every object found exactly once, the search leaves the object cache
//! empty — memory does not grow with the token's size — and a commit by
//! another process in the middle of a search never yields a mix of before
//! and after.

use cryptoki_sys::*;

use super::{Attr, Library};
use crate::config::Config;

const SO_PIN: &[u8] = b"so-pin-1";
const USER_PIN: &[u8] = b"user-pin-1";
/// More than two pages of rows (`FIND_PAGE` is 256).
const OBJECTS: usize = 600;

fn library(dir: &std::path::Path) -> Library {
    let config = Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).unwrap();
    Library::new(config).unwrap()
}

fn attr(ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Attr {
    Attr {
        ty,
        value: value.to_vec(),
    }
}

fn user_session(lib: &Library) -> CK_SESSION_HANDLE {
    let mut label = [b' '; 32];
    label[..1].copy_from_slice(b"t");
    lib.init_token(0, SO_PIN, &label).unwrap();
    let h = lib
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    lib.login(h, CKU_SO, SO_PIN).unwrap();
    lib.init_pin(h, USER_PIN).unwrap();
    lib.logout(h).unwrap();
    lib.login(h, CKU_USER, USER_PIN).unwrap();
    h
}

fn find_all(lib: &Library, h: CK_SESSION_HANDLE, template: &[Attr]) -> Vec<CK_OBJECT_HANDLE> {
    lib.find_objects_init(h, template).unwrap();
    let mut out = Vec::new();
    loop {
        let got = lib.find_objects(h, 100).unwrap();
        if got.is_empty() {
            break;
        }
        out.extend(got);
    }
    lib.find_objects_final(h).unwrap();
    out
}

#[test]
fn a_search_spans_pages_and_leaves_the_cache_empty() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = user_session(&lib);
    let data = CKO_DATA.to_ne_bytes();
    let mut made = Vec::new();
    for i in 0..OBJECTS {
        let label = format!("obj-{i:04}");
        made.push(
            lib.create_object(
                h,
                &[
                    attr(CKA_CLASS, &data),
                    attr(CKA_TOKEN, &[1]),
                    attr(CKA_PRIVATE, &[u8::from(i % 2 == 0)]),
                    attr(CKA_LABEL, label.as_bytes()),
                    attr(CKA_VALUE, &[7; 16]),
                ],
            )
            .unwrap(),
        );
    }
    // A fresh library: nothing cached from the creation.
    drop(lib);
    let lib = library(dir.path());
    let h = lib.open_session(0, CKF_SERIAL_SESSION).unwrap();
    lib.login(h, CKU_USER, USER_PIN).unwrap();
    let token = &lib.tokens[0];
    assert_eq!(token.cached_objects(), 0);

    let mut found = find_all(&lib, h, &[attr(CKA_CLASS, &data)]);
    assert_eq!(found.len(), OBJECTS, "every object, public and private");
    found.sort_unstable();
    found.dedup();
    assert_eq!(found.len(), OBJECTS, "no object found twice");
    // Reading every row to match it did not put the token in memory.
    assert_eq!(token.cached_objects(), 0);

    // Page boundaries do not lose a match: one object by label, from
    // either end of the id order.
    for i in [0, 255, 256, 511, OBJECTS - 1] {
        let label = format!("obj-{i:04}");
        let hit = find_all(&lib, h, &[attr(CKA_LABEL, label.as_bytes())]);
        assert_eq!(hit.len(), 1, "{label}");
    }
    // A matching search by an attribute outside the indexed columns
    // (CKA_VALUE) still reads and matches every row.
    assert_eq!(
        find_all(&lib, h, &[attr(CKA_VALUE, &[7; 16])]).len(),
        OBJECTS
    );
    assert_eq!(token.cached_objects(), 0);
}

fn create_data(lib: &Library, h: CK_SESSION_HANDLE, label: &str) {
    lib.create_object(
        h,
        &[
            attr(CKA_CLASS, &CKO_DATA.to_ne_bytes()),
            attr(CKA_TOKEN, &[1]),
            attr(CKA_PRIVATE, &[0]),
            attr(CKA_LABEL, label.as_bytes()),
        ],
    )
    .unwrap();
}

#[test]
fn a_commit_in_the_middle_of_a_search_is_seen_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = user_session(&lib);
    for i in 0..OBJECTS {
        create_data(&lib, h, &format!("a-{i}"));
    }
    // Another process (its own library and connection on the same file)
    // adds 300 objects after the search read its first page. Row ids are
    // random, so about half of them sort before the page boundary: a
    // search that just went on paging would miss those and return a count
    // that never existed; the search must see 600 (before) or 900 (after).
    let other = library(dir.path());
    let oh = other
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    other.login(oh, CKU_USER, USER_PIN).unwrap();
    crate::token::Token::after_first_page(Box::new(move || {
        for i in 0..300 {
            create_data(&other, oh, &format!("b-{i}"));
        }
    }));
    let data = CKO_DATA.to_ne_bytes();
    let found = find_all(&lib, h, &[attr(CKA_CLASS, &data)]);
    assert!(
        !crate::token::Token::mid_search_pending(),
        "the commit ran mid-search"
    );
    assert!(
        found.len() == OBJECTS || found.len() == OBJECTS + 300,
        "a search saw {} objects: part of another process's commits",
        found.len()
    );
    assert_eq!(
        find_all(&lib, h, &[attr(CKA_CLASS, &data)]).len(),
        OBJECTS + 300
    );
}
