//! A secret key's cached schedules (issue 11): the AES round keys, GCM's
//! GHASH key, CMAC and HMAC states are built on the first init that needs
//! them and reused by every later one, and they go when the key goes
//! (C_DestroyObject, session close). Drives the C ABI in process — the
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

    // A token key: cached with the token's parsed key, same rule.
    let token_key = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bytes(CKA_VALUE, &KEY)
                .bool(CKA_TOKEN, true)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_SIGN, true),
        ),
        "token key",
    );
    use_aes(&s, token_key, 20);
    assert_eq!(since(base), (10, 4));
    ok(s.destroy(token_key), "destroy token key");
    assert_eq!(since(base), (10, 0));

    assert_rv!(ck!(f, C_Finalize(std::ptr::null_mut())), CKR_OK);
}
