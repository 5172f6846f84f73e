//! Paged object searches (issue 11): pages in id order without gaps or
//! repeats, and the change stamp a multi-page search checks.

use super::tests::{ev, fresh, ids, row};
use super::{RowFilter, TokenDb};

#[test]
fn find_page_walks_the_rows_in_id_order() {
    let (_dir, db) = fresh();
    for id in [-4, 30, 10, 20, 50, 40] {
        db.insert_object(&row(id, 3, id == 40, b"L", b"I"), &ev())
            .unwrap();
    }
    db.insert_object(&row(60, 2, false, b"other", b"I"), &ev())
        .unwrap();
    let filter = RowFilter {
        class: Some(3),
        label: Some(vec![b"L".to_vec()]),
        id: None,
        include_private: false,
    };
    let mut pages = Vec::new();
    let mut after = i64::MIN;
    loop {
        let page = ids(&db.find_page(&filter, after, 2, false).unwrap().0);
        assert!(page.len() <= 2, "a page holds at most its limit: {page:?}");
        let Some(&last) = page.last() else { break };
        pages.push(page);
        after = last;
    }
    // Private row 40 and the other class's row 60 are left out; no
    // row is seen twice or skipped at a page boundary.
    assert_eq!(pages, vec![vec![-4, 10], vec![20, 30], vec![50]]);
    assert_eq!(pages.concat(), ids(&db.find(&filter).unwrap()));
}

#[test]
fn change_stamp_moves_with_any_commit() {
    let (dir, db) = fresh();
    let (_, first) = db
        .find_page(&RowFilter::default(), i64::MIN, 2, true)
        .unwrap();
    let first = first.unwrap();
    assert_eq!(db.change_stamp().unwrap(), first, "reads change nothing");
    // A commit through this connection (another thread of this process).
    db.insert_object(&row(1, 3, false, b"L", b"I"), &ev())
        .unwrap();
    let after_own = db.change_stamp().unwrap();
    assert_ne!(after_own, first);
    // A commit through another connection (another process).
    let other = TokenDb::open(&dir.path().join("sub/token.db")).unwrap();
    other
        .insert_object(&row(2, 3, false, b"L", b"I"), &ev())
        .unwrap();
    assert_ne!(db.change_stamp().unwrap(), after_own);
}
