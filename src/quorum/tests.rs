//! Unit tests of the quorum rules: what each class needs, rule and
//! removal checks, and the tally of signed votes.

use super::*;
use crate::store::seal_quorum::{OfficerKey, verify_officer};

fn officer(name: &str, pass: &[u8]) -> (Officer, OfficerKey) {
    let salt = [9u8; 16];
    let key = OfficerKey::derive(name, pass, &salt, 10).unwrap();
    (
        Officer {
            name: name.into(),
            public: hex(&key.public()),
            salt: hex(&salt),
            iterations: 10,
            added: 0,
        },
        key,
    )
}

fn request() -> Request {
    Request {
        id: 7,
        nonce: vec![1; 16],
        op: "destroy".into(),
        target: "object:42".into(),
        about: "secret key 'k'".into(),
        requester: "alice@host".into(),
        reason: "retire".into(),
        created: 0,
        expires: 1_000,
        state: "pending".into(),
    }
}

#[test]
fn what_each_class_needs() {
    let mut c = Config::default();
    assert_eq!(c.needed(Op::Destroy, false), None);
    assert_eq!(c.needed(Op::Policy, false), None);
    // A marked key needs someone's approval even before any rule exists.
    assert_eq!(c.needed(Op::Destroy, true), Some(1));
    assert_eq!(c.needed(Op::Restore, true), None);
    c.rules.insert("destroy".into(), 2);
    assert_eq!(c.needed(Op::Destroy, false), Some(2));
    assert_eq!(c.needed(Op::Export, false), None);
    assert_eq!(c.needed(Op::Export, true), Some(2));
    // Once a rule exists, changing rules needs the largest one.
    assert_eq!(c.needed(Op::Policy, false), Some(2));
    c.rules.insert(DEFAULT_RULE.into(), 3);
    assert_eq!(c.needed(Op::Export, true), Some(3));
    c.rules.insert("policy".into(), 1);
    assert_eq!(c.needed(Op::Policy, false), Some(1));
}

#[test]
fn rules_and_removals_stay_satisfiable() {
    let mut c = Config::default();
    assert!(
        c.check_rule("destroy", 1)
            .unwrap_err()
            .contains("needs at least 1 officers")
    );
    c.officers = vec![officer("a", b"pa").0, officer("b", b"pb").0];
    assert!(c.check_rule("destroy", 2).is_ok());
    assert!(c.check_rule("destroy", 3).is_err());
    assert!(c.check_rule("destroy", 0).is_err());
    assert!(
        c.check_rule("launch", 1)
            .unwrap_err()
            .contains("unknown operation class")
    );
    assert!(c.check_rule(DEFAULT_RULE, 1).is_ok());
    c.rules.insert("destroy".into(), 2);
    assert!(
        c.check_removal("a")
            .unwrap_err()
            .contains("lower the rule first")
    );
    assert!(c.check_removal("zed").is_err());
    c.rules.insert("destroy".into(), 1);
    assert!(c.check_removal("a").is_ok());
    assert!(check_name("carol").is_ok());
    for bad in ["", "with space", "a:b", &"x".repeat(65)] {
        assert!(check_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn tally_counts_only_signatures_that_verify() {
    let (a, ka) = officer("a", b"pa");
    let (b, kb) = officer("b", b"pb");
    let (_, kc) = officer("c", b"pc");
    let config = Config {
        officers: vec![a, b],
        rules: BTreeMap::new(),
    };
    let serial = b"0123456789abcdef";
    let req = request();
    let vote = |who: &str, k: &OfficerKey, d: Decision, r: &Request| Vote {
        officer: who.into(),
        decision: d.name().into(),
        time: 0,
        signature: k.sign(&statement(serial, r, d)),
    };
    let good = [
        vote("a", &ka, Decision::Approve, &req),
        vote("b", &kb, Decision::Approve, &req),
    ];
    let t = tally(&config, serial, &req, &good, &verify_officer);
    assert_eq!(t.approvals, ["a", "b"]);
    assert_eq!(blocker(&req, &t, 2, 10), None);
    assert!(blocker(&req, &t, 3, 10).unwrap().contains("2 of the 3"));
    assert!(blocker(&req, &t, 2, 1_000).unwrap().contains("expired"));

    // Another target, another request id, a stranger's key, a vote
    // relabelled as another officer's, a decision flipped in the store.
    let mut other = req.clone();
    other.target = "object:43".into();
    let mut renumbered = req.clone();
    renumbered.id = 8;
    let mut flipped = vote("a", &ka, Decision::Deny, &req);
    flipped.decision = "approve".into();
    let bad = [
        vote("a", &ka, Decision::Approve, &other),
        vote("b", &kb, Decision::Approve, &renumbered),
        vote("c", &kc, Decision::Approve, &req),
        Vote {
            officer: "b".into(),
            ..vote("a", &ka, Decision::Approve, &req)
        },
        flipped,
    ];
    let t = tally(&config, serial, &req, &bad, &verify_officer);
    assert!(t.approvals.is_empty(), "{t:?}");
    assert_eq!(t.invalid.len(), 5);
    // Another token's serial.
    let t = tally(&config, b"fedcba9876543210", &req, &good, &verify_officer);
    assert!(t.approvals.is_empty());

    let deny = [
        vote("a", &ka, Decision::Approve, &req),
        vote("b", &kb, Decision::Deny, &req),
    ];
    let t = tally(&config, serial, &req, &deny, &verify_officer);
    assert!(blocker(&req, &t, 1, 10).unwrap().contains("denied by b"));
    let mut done = req.clone();
    done.state = "executed".into();
    let t = tally(&config, serial, &done, &[], &verify_officer);
    assert!(
        blocker(&done, &t, 0, 10)
            .unwrap()
            .contains("already executed")
    );
}

#[test]
fn config_round_trips_and_junk_is_tampering() {
    let config = Config {
        officers: vec![officer("a", b"pa").0],
        rules: [("destroy".to_string(), 1)].into_iter().collect(),
    };
    assert_eq!(Config::decode(&config.encode().unwrap()).unwrap(), config);
    assert_eq!(Config::decode(b"{").unwrap_err(), Error::Tampered);
    assert_eq!(hex_decode("0aff"), Some(vec![10, 255]));
    assert_eq!(hex_decode("0a f"), None);
    assert_eq!(Op::parse("rotate-master-key"), Some(Op::RotateMasterKey));
    assert!(OPS.iter().all(|op| Op::parse(op.name()) == Some(*op)));
}
