//! A secret key's cached schedules (issue 11): the AES round keys, GCM's
//! GHASH key, CMAC and HMAC states are built on the first init that needs
//! them and reused by every later one, and they go when the key goes
//! (C_DestroyObject, logout, session close), including the copies that
//! sessions keep of a token key they use again. Drives the C ABI in process — the
//! crate's own function table — so the crate's schedule counters are the
//! ones the calls move; one test per binary keeps the counts exact.

#[macro_use]
mod common;

use common::TestEnv;
use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use cryptoki_sys::*;
use keyward::ffi::function_list::FUNCTION_LIST_3_0;
use keyward::mechanism::schedule::schedule_counts;

const KEY: [u8; 32] = [0x42; 32];

/// Schedules (built, live) since `base`.
fn since(base: (usize, usize)) -> (usize, isize) {
    let (built, live) = schedule_counts();
    (built - base.0, live as isize - base.1 as isize)
}

fn use_aes(s: &Sess, k: CK_OBJECT_HANDLE, rounds: usize) {
    for _ in 0..rounds {
        let ct = ok(
            s.encrypt_once(&Mech::bytes(CKM_AES_CBC_PAD, &[1; 16]), k, b"data"),
            "cbc",
        );
        assert_eq!(ct.len(), 16);
        let ct = ok(
            s.encrypt_once(&Mech::gcm(&[2; 12], b"", 128), k, b"data"),
            "gcm",
        );
        assert_eq!(ct.len(), 20);
        ok(s.sign_once(&Mech::new(CKM_AES_CMAC), k, b"data"), "cmac");
    }
}

#[test]
fn schedules_are_built_once_per_key_and_dropped_with_it() {
    let _env = TestEnv::with_config("");
    let f: &'static CK_FUNCTION_LIST_3_0 = &FUNCTION_LIST_3_0;
    assert_rv!(ck!(f, C_Initialize(std::ptr::null_mut())), CKR_OK);
    let s = Sess::new(f, user_session(f));
    let base = schedule_counts();

    // A session key: AES, GHASH, the crate's GCM (96-bit IV, full tag)
    // and CMAC, each made once over 20 rounds.
    let session_key = ok(
        s.create(aes_crypt(&KEY).bool(CKA_SIGN, true)),
        "session key",
    );
    use_aes(&s, session_key, 20);
    assert_eq!(since(base), (4, 4));

    // HMAC: one padded-key state per hash used, whatever the count.
    let mac = ok(
        s.create(secret(CKK_GENERIC_SECRET, &KEY).bool(CKA_SIGN, true)),
        "mac key",
    );
    for _ in 0..20 {
        ok(s.sign_once(&Mech::new(CKM_SHA256_HMAC), mac, b"x"), "hmac");
        ok(s.sign_once(&Mech::new(CKM_SHA512_HMAC), mac, b"x"), "hmac");
    }
    assert_eq!(since(base), (6, 6));

    // Destroying a key drops its schedules (they zeroize on drop).
    ok(s.destroy(session_key), "destroy");
    assert_eq!(since(base), (6, 2));
    ok(s.destroy(mac), "destroy");
    assert_eq!(since(base), (6, 0));

    // A token key: cached with the token's parsed key (one set of
    // schedules), and a session that uses it again gets its own copy of
    // the key with its own set, so that threads on different sessions
    // share no reference count. Either set is built once, however many
    // operations follow.
    let token_key = |s: &Sess| {
        ok(
            s.create(
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_SECRET_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_AES)
                    .bytes(CKA_VALUE, &KEY)
                    .bool(CKA_TOKEN, true)
                    .bool(CKA_PRIVATE, true)
                    .bool(CKA_ENCRYPT, true)
                    .bool(CKA_SIGN, true),
            ),
            "token key",
        )
    };
    // On a shared PostgreSQL store a cached key is trusted only once the
    // store's change listener is connected, which a loaded machine may
    // take a moment to do (until then every use parses the key again):
    // wait, bounded, until a probe key's use builds nothing new.
    if common::backend::postgres() {
        let probe = token_key(&s);
        for _ in 0..250 {
            let before = schedule_counts();
            use_aes(&s, probe, 1);
            if since(before).0 == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        ok(s.destroy(probe), "destroy the probe");
    }
    let key = token_key(&s);
    let base = schedule_counts();
    use_aes(&s, key, 20);
    let one = since(base);
    // The cache's set holds what ran before the copy was made (at most
    // the four), the copy's the four.
    assert!((4..=8).contains(&one.0), "{one:?}");
    assert_eq!(one.1, one.0 as isize, "all alive");
    use_aes(&s, key, 20);
    assert_eq!(since(base), one, "no set is built twice");

    // A second session: its copy, built once (the cache's set ran its
    // first operation).
    let s2 = Sess::new(f, open_session(f, true));
    use_aes(&s2, key, 20);
    assert_eq!(since(base), (one.0 + 4, one.1 + 4));

    // Destroying the key drops the cache's set and every session's copy.
    ok(s2.destroy(key), "destroy token key");
    assert_eq!(since(base).1, 0, "nothing left of the destroyed key");

    // A logout drops them too, though both sessions stay open.
    let key = token_key(&s);
    let base = schedule_counts();
    use_aes(&s, key, 3);
    use_aes(&s2, key, 3);
    assert!(since(base).1 >= 8, "{:?}", since(base));
    ok(s.logout(), "logout");
    assert_eq!(since(base).1, 0, "no copy outlives the logout");
    ok(s.login(CKU_USER, common::USER_PIN), "login");
    use_aes(&s2, key, 1);
    ok(s.destroy(key), "destroy");

    assert_rv!(ck!(f, C_Finalize(std::ptr::null_mut())), CKR_OK);
}
