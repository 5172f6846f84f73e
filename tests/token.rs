//! Token life cycle through the `cryptoki` crate: C_InitToken / C_InitPIN /
//! C_SetPIN, login roles and the session state machine, PIN length rules and
//! lockout, object visibility by login state and session kind, and what
//! survives C_Finalize/C_Initialize. Keys and attribute rules are in
//! `token_objects.rs`.

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};

fn state(s: &Session) -> SessionState {
    s.get_session_info()
        .expect("C_GetSessionInfo")
        .session_state()
}

/// Public/private data object, token or session.
fn data_object(
    s: &Session,
    label: &str,
    token: bool,
    private: bool,
) -> cryptoki::error::Result<ObjectHandle> {
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(private),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Application(b"keyward-tests".to_vec()),
        Attribute::Value(b"some data".to_vec()),
    ])
}

/// A private token HMAC key with a known value.
fn hmac_key(s: &Session, label: &str) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(b"0123456789abcdef0123456789abcdef".to_vec()),
    ])
    .expect("create HMAC key")
}

fn mac(s: &Session, key: ObjectHandle) -> Vec<u8> {
    s.sign(&Mechanism::Sha256Hmac, key, b"persist me")
        .expect("HMAC sign")
}

fn all_data_labels(s: &Session) -> Vec<String> {
    let objs = s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .expect("find data objects");
    let mut labels: Vec<String> = objs
        .into_iter()
        .map(|o| String::from_utf8(attr_bytes(s, o, AttributeType::Label)).expect("utf8 label"))
        .collect();
    labels.sort();
    labels
}

#[test]
fn init_token_and_init_pin_set_flags() {
    let h = Harness::new();
    let ti = h.token_info();
    assert!(!ti.token_initialized());
    assert!(!ti.user_pin_initialized());
    assert!(ti.rng() && ti.login_required() && ti.restore_key_not_needed());
    assert_eq!(ti.manufacturer_id(), "Keyward");
    assert_eq!((ti.min_pin_length(), ti.max_pin_length()), (4, 64));

    expect_rv(
        h.ctx.init_token(h.slot, &pin("123"), "x"),
        RvError::PinLenRange,
    );
    expect_rv(
        h.ctx.init_token(h.slot, &pin(&"9".repeat(65)), "x"),
        RvError::PinLenRange,
    );
    h.init_token();
    let ti = h.token_info();
    assert!(ti.token_initialized());
    assert!(!ti.user_pin_initialized());
    assert_eq!(ti.label(), TOKEN_LABEL);

    let s = h.rw_session();
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserPinNotInitialized,
    );
    s.close().expect("close");
    h.init_user_pin();
    assert!(h.token_info().user_pin_initialized());
    let s = h.user_session();
    assert_eq!(state(&s), SessionState::RwUser);
    s.close().expect("close");

    expect_rv(
        h.ctx.init_token(h.slot, &pin("87654321"), "again"),
        RvError::PinIncorrect,
    );
    assert_eq!(
        h.token_info().label(),
        TOKEN_LABEL,
        "a refused re-init changes nothing"
    );
}

#[test]
fn session_state_machine() {
    let h = Harness::new();
    h.ready();
    let ro = h.ro_session();
    let rw = h.rw_session();
    assert_eq!(state(&ro), SessionState::RoPublic);
    assert_eq!(state(&rw), SessionState::RwPublic);
    assert!(!ro.get_session_info().expect("info").read_write());
    assert!(rw.get_session_info().expect("info").read_write());

    rw.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    assert_eq!(
        state(&ro),
        SessionState::RoUser,
        "login applies to every session"
    );
    assert_eq!(state(&rw), SessionState::RwUser);
    expect_rv(
        ro.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserAlreadyLoggedIn,
    );
    let late = h.ro_session();
    assert_eq!(
        state(&late),
        SessionState::RoUser,
        "new sessions inherit the login"
    );
    drop(late);

    ro.logout().expect("logout from any session");
    assert_eq!(state(&ro), SessionState::RoPublic);
    assert_eq!(state(&rw), SessionState::RwPublic);
    expect_rv(rw.logout(), RvError::UserNotLoggedIn);

    expect_rv(
        rw.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::SessionReadOnlyExists,
    );
    ro.close().expect("close R/O");
    // Only R/W sessions now, so the one remaining reason to refuse is
    // the user's login.
    rw.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    expect_rv(
        rw.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::UserAnotherAlreadyLoggedIn,
    );
    rw.logout().expect("logout");
    rw.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    assert_eq!(state(&rw), SessionState::RwSecurityOfficer);
    expect_rv(
        h.ctx.open_ro_session(h.slot),
        RvError::SessionReadWriteSoExists,
    );
    let rw2 = h.rw_session();
    assert_eq!(state(&rw2), SessionState::RwSecurityOfficer);
    expect_rv(
        rw2.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserAnotherAlreadyLoggedIn,
    );
    expect_rv(
        rw2.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::UserAlreadyLoggedIn,
    );
    rw.logout().expect("SO logout");
    assert_eq!(state(&rw2), SessionState::RwPublic);
}

#[test]
fn pin_errors() {
    let h = Harness::new();
    h.ready();
    let s = h.rw_session();
    expect_rv(
        s.login(UserType::User, Some(&pin("9999"))),
        RvError::PinIncorrect,
    );
    expect_rv(
        s.login(UserType::So, Some(&pin("00000000"))),
        RvError::PinIncorrect,
    );
    s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
    expect_rv(s.init_pin(&pin("123")), RvError::PinLenRange);
    expect_rv(s.init_pin(&pin(&"1".repeat(65))), RvError::PinLenRange);
    s.init_pin(&pin(&"1".repeat(64)))
        .expect("64-char PIN is allowed");
    s.logout().expect("logout");
    s.login(UserType::User, Some(&pin(&"1".repeat(64))))
        .expect("login with the 64-char PIN");
    expect_rv(
        s.set_pin(&pin(&"1".repeat(64)), &pin("123")),
        RvError::PinLenRange,
    );
    s.set_pin(&pin(&"1".repeat(64)), &pin(USER_PIN))
        .expect("back to a short PIN");
}

/// A PIN no PIN of this token can be (empty, too long) is a wrong PIN:
/// C_Login's list of codes has no CKR_PIN_LEN_RANGE, and C_SetPIN keeps
/// that code for the new PIN (python-pkcs11's test_set_pin asks both).
/// Such a try is not counted towards the lockout: it cannot be the PIN.
/// A NULL PIN is CKR_ARGUMENTS_BAD (PyKCS11's test_pin.test_null).
#[test]
fn impossible_pin_is_incorrect_and_not_counted() {
    let h = Harness::with_config("max_pin_failures = 3");
    h.ready();
    let s = h.rw_session();
    for _ in 0..5 {
        expect_rv(
            s.login(UserType::User, Some(&pin(""))),
            RvError::PinIncorrect,
        );
        expect_rv(
            s.login(UserType::User, Some(&pin(&"1".repeat(65)))),
            RvError::PinIncorrect,
        );
        expect_rv(
            s.login(UserType::So, Some(&pin("12"))),
            RvError::PinIncorrect,
        );
    }
    // NULL asks for a PIN pad this token does not have.
    expect_rv(s.login(UserType::User, None), RvError::ArgumentsBad);
    let ti = h.token_info();
    assert!(!ti.user_pin_count_low() && !ti.user_pin_locked() && !ti.so_pin_count_low());

    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    expect_rv(s.set_pin(&pin(USER_PIN), &pin("")), RvError::PinLenRange);
    expect_rv(s.set_pin(&pin(""), &pin("99999")), RvError::PinIncorrect);
    expect_rv(s.set_pin(&pin("1"), &pin("99999")), RvError::PinIncorrect);
    s.set_pin(&pin(USER_PIN), &pin("99999"))
        .expect("the real PIN still works");
}

#[test]
fn user_pin_lockout_and_so_unlock() {
    let h = Harness::with_config("max_pin_failures = 3");
    h.ready();
    let s = h.rw_session();
    assert!(!h.token_info().user_pin_count_low());

    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    let ti = h.token_info();
    assert!(ti.user_pin_count_low(), "COUNT_LOW after a failure");
    assert!(!ti.user_pin_final_try() && !ti.user_pin_locked());

    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    let ti = h.token_info();
    assert!(ti.user_pin_final_try(), "FINAL_TRY with one try left");
    assert!(!ti.user_pin_locked());

    let third = rv_of(s.login(UserType::User, Some(&pin("0000"))));
    assert!(
        third == RvError::PinIncorrect || third == RvError::PinLocked,
        "third failure gave {third:?}"
    );
    assert!(
        h.token_info().user_pin_locked(),
        "USER_PIN_LOCKED after max failures"
    );
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
    assert!(h.token_info().user_pin_locked());

    // The SO can still log in, and C_InitPIN unlocks.
    s.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login while user PIN locked");
    s.init_pin(&pin("4321")).expect("C_InitPIN");
    s.logout().expect("logout");
    let ti = h.token_info();
    assert!(!ti.user_pin_locked() && !ti.user_pin_final_try() && !ti.user_pin_count_low());
    s.login(UserType::User, Some(&pin("4321")))
        .expect("login after unlock");
}

#[test]
fn successful_login_resets_failure_count() {
    let h = Harness::with_config("max_pin_failures = 3");
    h.ready();
    let s = h.rw_session();
    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    assert!(h.token_info().user_pin_final_try());
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("right PIN on the final try");
    let ti = h.token_info();
    assert!(
        !ti.user_pin_count_low() && !ti.user_pin_final_try(),
        "count reset"
    );
    s.logout().expect("logout");
    // Two more failures do not lock: the count restarted from zero.
    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    assert!(!h.token_info().user_pin_locked());
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("still not locked");
}

#[test]
fn lockout_survives_restart() {
    let mut h = Harness::with_config("max_pin_failures = 3");
    h.ready();
    {
        let s = h.rw_session();
        for _ in 0..2 {
            expect_rv(
                s.login(UserType::User, Some(&pin("0000"))),
                RvError::PinIncorrect,
            );
        }
    }
    h.restart();
    assert!(
        h.token_info().user_pin_final_try(),
        "failure count persisted"
    );
    {
        let s = h.rw_session();
        let _ = rv_of(s.login(UserType::User, Some(&pin("0000"))));
    }
    h.restart();
    assert!(h.token_info().user_pin_locked(), "lock persisted");
    let s = h.rw_session();
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
}

#[test]
fn set_pin_changes_user_pin_and_keys_stay_usable() {
    let mut h = Harness::new();
    h.ready();
    let before;
    {
        let s = h.user_session();
        let k = hmac_key(&s, "pin-change-key");
        before = mac(&s, k);
        expect_rv(s.set_pin(&pin("9999"), &pin("5678")), RvError::PinIncorrect);
        s.set_pin(&pin(USER_PIN), &pin("5678")).expect("C_SetPIN");
        assert_eq!(mac(&s, k), before, "key usable in the same login");
        s.logout().expect("logout");
        expect_rv(
            s.login(UserType::User, Some(&pin(USER_PIN))),
            RvError::PinIncorrect,
        );
        s.login(UserType::User, Some(&pin("5678")))
            .expect("new PIN");
        assert_eq!(mac(&s, k), before);
    }
    h.restart();
    let s = h.rw_session();
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinIncorrect,
    );
    s.login(UserType::User, Some(&pin("5678")))
        .expect("new PIN after restart");
    let k = find_by_label(&s, "pin-change-key");
    assert_eq!(k.len(), 1);
    assert_eq!(
        mac(&s, k[0]),
        before,
        "key readable with the new PIN after restart"
    );
    s.logout().expect("logout");

    // C_SetPIN needs an R/W session.
    let ro = h.ro_session();
    ro.login(UserType::User, Some(&pin("5678")))
        .expect("login on R/O");
    expect_rv(
        ro.set_pin(&pin("5678"), &pin("1111")),
        RvError::SessionReadOnly,
    );
}

#[test]
fn so_changes_own_pin() {
    let h = Harness::new();
    h.ready();
    {
        let s = h.rw_session();
        s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
        s.set_pin(&pin(SO_PIN), &pin("87654321"))
            .expect("SO C_SetPIN");
        s.logout().expect("logout");
        expect_rv(
            s.login(UserType::So, Some(&pin(SO_PIN))),
            RvError::PinIncorrect,
        );
        s.login(UserType::So, Some(&pin("87654321")))
            .expect("new SO PIN");
        s.logout().expect("logout");
    }
    expect_rv(
        h.ctx.init_token(h.slot, &pin(SO_PIN), "x"),
        RvError::PinIncorrect,
    );
    h.ctx
        .init_token(h.slot, &pin("87654321"), "x")
        .expect("init with new SO PIN");
}

#[test]
fn init_token_refused_with_session_open_and_wipes_objects() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    data_object(&s, "public-data", true, false).expect("public token object");
    hmac_key(&s, "secret");
    expect_rv(
        h.ctx.init_token(h.slot, &pin(SO_PIN), "wiped"),
        RvError::SessionExists,
    );
    s.close().expect("close");

    h.ctx
        .init_token(h.slot, &pin(SO_PIN), "wiped")
        .expect("re-init");
    let ti = h.token_info();
    assert_eq!(ti.label(), "wiped");
    assert!(ti.token_initialized());
    assert!(!ti.user_pin_initialized(), "re-init clears the user PIN");
    let s = h.ro_session();
    // Nothing is left (the token's own CKO_PROFILE object is found only
    // by a search for its class, and stays).
    assert_eq!(
        s.find_objects(&[]).expect("find"),
        vec![],
        "public objects wiped"
    );
    let profiles = s
        .find_objects(&[cryptoki::object::Attribute::Class(
            cryptoki::object::ObjectClass::PROFILE,
        )])
        .expect("find profiles");
    assert_eq!(profiles.len(), 1, "the profile object stays");
    s.close().expect("close");
    h.init_user_pin();
    let s = h.user_session();
    assert_eq!(
        s.find_objects(&[]).expect("find"),
        vec![],
        "private objects wiped"
    );
}

#[test]
fn init_pin_requires_so() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    expect_rv(s.init_pin(&pin("5555")), RvError::UserNotLoggedIn);
    s.logout().expect("logout");
    expect_rv(s.init_pin(&pin("5555")), RvError::UserNotLoggedIn);
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("old PIN still valid");
}

#[test]
fn logout_hides_private_session_objects() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let private = data_object(&s, "private-session", false, true).expect("private session object");
    data_object(&s, "public-session", false, false).expect("public session object");
    assert_eq!(all_data_labels(&s), ["private-session", "public-session"]);
    s.logout().expect("logout");
    assert_eq!(all_data_labels(&s), ["public-session"]);
    assert!(
        s.get_attributes(private, &[AttributeType::Label]).is_err(),
        "private object readable after logout"
    );
}

#[test]
fn closing_last_session_logs_out() {
    let h = Harness::new();
    h.ready();
    let s1 = h.user_session();
    data_object(&s1, "private-token", true, true).expect("private token object");
    let s2 = h.ro_session();
    s1.close().expect("close first");
    assert_eq!(
        state(&s2),
        SessionState::RoUser,
        "another session is still open"
    );
    s2.close().expect("close last");
    let s3 = h.rw_session();
    assert_eq!(
        state(&s3),
        SessionState::RwPublic,
        "closing the last session logged out"
    );
    assert!(all_data_labels(&s3).is_empty());
}

#[test]
fn read_only_session_cannot_write_token_objects() {
    let h = Harness::new();
    h.ready();
    let rw = h.user_session();
    let tok = data_object(&rw, "token-obj", true, false).expect("token object");
    let ro = h.ro_session();
    assert_eq!(state(&ro), SessionState::RoUser);
    expect_rv(
        data_object(&ro, "nope", true, false),
        RvError::SessionReadOnly,
    );
    expect_rv(
        data_object(&ro, "nope", true, true),
        RvError::SessionReadOnly,
    );
    expect_rv(
        ro.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::Token(true), Attribute::ValueLen(32.into())],
        ),
        RvError::SessionReadOnly,
    );
    expect_rv(
        ro.update_attributes(tok, &[Attribute::Label(b"renamed".to_vec())]),
        RvError::SessionReadOnly,
    );
    expect_rv(ro.destroy_object(tok), RvError::SessionReadOnly);
    // Session objects are fine in an R/O session.
    let so =
        data_object(&ro, "ro-session-obj", false, false).expect("session object in R/O session");
    ro.update_attributes(so, &[Attribute::Label(b"ro-renamed".to_vec())])
        .expect("modify own session object");
    ro.destroy_object(so).expect("destroy session object");
}

#[test]
fn private_objects_invisible_before_login() {
    let h = Harness::new();
    h.ready();
    {
        let s = h.user_session();
        data_object(&s, "pub", true, false).expect("public");
        data_object(&s, "priv", true, true).expect("private");
        hmac_key(&s, "key");
    }
    let s = h.ro_session();
    assert_eq!(all_data_labels(&s), ["pub"]);
    assert!(
        find_by_label(&s, "key").is_empty(),
        "private key visible before login"
    );
    expect_rv(
        data_object(&s, "nope", false, true),
        RvError::UserNotLoggedIn,
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    assert_eq!(all_data_labels(&s), ["priv", "pub"]);
    assert_eq!(find_by_label(&s, "key").len(), 1);
}

#[test]
fn so_cannot_use_or_see_private_keys() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let (_pubk, privk) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Token(true),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(true),
                Attribute::Sign(true),
                Attribute::Label(b"user-ec".to_vec()),
            ],
        )
        .expect("EC key pair");
    s.logout().expect("logout");
    s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
    expect_rv(
        s.sign(&Mechanism::EcdsaSha256, privk, b"data"),
        RvError::UserNotLoggedIn,
    );
    assert!(
        find_by_label(&s, "user-ec").is_empty(),
        "SO sees a private key"
    );
    assert!(
        s.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .expect("find")
            .is_empty()
    );
}

#[test]
fn token_objects_persist_and_session_objects_do_not() {
    let mut h = Harness::new();
    h.ready();
    let before;
    {
        let s = h.user_session();
        data_object(&s, "token-pub", true, false).expect("token public");
        data_object(&s, "token-priv", true, true).expect("token private");
        data_object(&s, "session-pub", false, false).expect("session public");
        before = mac(&s, hmac_key(&s, "persisted-key"));
        assert_eq!(
            all_data_labels(&s),
            ["session-pub", "token-priv", "token-pub"]
        );
    }
    h.restart();
    let s = h.ro_session();
    assert_eq!(all_data_labels(&s), ["token-pub"]);
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    assert_eq!(all_data_labels(&s), ["token-priv", "token-pub"]);
    let k = find_by_label(&s, "persisted-key");
    assert_eq!(k.len(), 1);
    assert_eq!(mac(&s, k[0]), before, "same key material after restart");
    assert_eq!(
        attr_bytes(&s, find_by_label(&s, "token-pub")[0], AttributeType::Value),
        b"some data"
    );
}

#[test]
fn object_handles_stay_valid_across_logout_and_login() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let key = hmac_key(&s, "cached-key");
    let public = data_object(&s, "cached-pub", true, false).expect("public token object");
    let m1 = mac(&s, key);
    s.logout().expect("logout");
    assert_eq!(attr_bytes(&s, public, AttributeType::Label), b"cached-pub");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    assert_eq!(mac(&s, key), m1, "cached private key handle still works");
    assert_eq!(
        find_by_label(&s, "cached-key"),
        vec![key],
        "find returns the same handle"
    );
    assert_eq!(attr_bytes(&s, public, AttributeType::Label), b"cached-pub");
    // A second session sees the same handles.
    let s2 = h.ro_session();
    assert_eq!(mac(&s2, key), m1);
}
