//! AES CBC-MAC through the C ABI (issue 13): CKM_AES_MAC (8 bytes) and
//! CKM_AES_MAC_GENERAL (1..=16 bytes), offered only under a policy that
//! allows CBC-MAC (`cbc_mac = true`, the compat profile): the tag of whole
//! blocks is CBC's last block under a zero IV (checked with OpenSSL),
//! parts give the same tag, verification refuses an altered tag or a
//! wrong length.

mod common;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::unhex;
use cryptoki_sys::*;

const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const DATA: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";
/// `openssl enc -aes-128-cbc -iv 00…00 -nopad` over DATA: its last block.
const TAG: &str = "b148c17f309ee692287ae57cf12add49";

fn mac_key(s: &Sess) -> CK_OBJECT_HANDLE {
    let t = secret(CKK_AES, &unhex(KEY))
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true);
    ok(s.create(t), "AES key")
}

#[test]
fn not_offered_by_default() {
    let m = Module::start("");
    let s = m.ready();
    let k = mac_key(&s);
    for mech in [CKM_AES_MAC, CKM_AES_MAC_GENERAL] {
        err(
            s.mechanism_info(0, mech),
            CKR_MECHANISM_INVALID,
            "not listed",
        );
    }
    err(
        s.sign_init(&Mech::new(CKM_AES_MAC), k),
        CKR_MECHANISM_INVALID,
        "C_SignInit refused",
    );
}

/// The policy entry alone, without the compat profile, offers it.
#[test]
fn offered_by_the_policy_entry() {
    let m = Module::start("[policy]\ncbc_mac = true\n");
    let s = m.ready();
    ok(
        s.mechanism_info(0, CKM_AES_MAC),
        "listed when the policy allows it",
    );
}

#[test]
fn tags_under_the_compat_profile() {
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let s = m.ready();
    let k = mac_key(&s);
    for mech in [CKM_AES_MAC, CKM_AES_MAC_GENERAL] {
        let info = ok(s.mechanism_info(0, mech), "listed");
        assert_eq!(info.flags, CKF_SIGN | CKF_VERIFY);
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32));
    }
    let data = unhex(DATA);
    let tag = unhex(TAG);
    let mac = Mech::new(CKM_AES_MAC);
    assert_eq!(ok(s.sign_once(&mac, k, &data), "AES-MAC"), tag[..8]);
    for len in [1, 12, 16] {
        let general = Mech::ulong(CKM_AES_MAC_GENERAL, len);
        assert_eq!(
            ok(s.sign_once(&general, k, &data), "AES-MAC-GENERAL"),
            tag[..len as usize]
        );
    }
    ok(s.sign_init(&mac, k), "C_SignInit");
    for part in [&data[..3], &data[3..19], &data[19..]] {
        ok(s.sign_update(part), "C_SignUpdate");
    }
    assert_eq!(ok(s.sign_final(), "C_SignFinal"), tag[..8]);
    ok(s.verify_once(&mac, k, &data, &tag[..8]), "verifies");
    let mut bad = tag[..8].to_vec();
    bad[0] ^= 1;
    err(
        s.verify_once(&mac, k, &data, &bad),
        CKR_SIGNATURE_INVALID,
        "altered",
    );
    err(
        s.verify_once(&mac, k, &data, &tag[..16]),
        CKR_SIGNATURE_LEN_RANGE,
        "16 bytes for an 8-byte MAC",
    );
    for len in [0, 17] {
        err(
            s.sign_init(&Mech::ulong(CKM_AES_MAC_GENERAL, len), k),
            CKR_MECHANISM_PARAM_INVALID,
            "MAC length out of range",
        );
    }
    err(
        s.sign_init(&Mech::new(CKM_AES_MAC_GENERAL), k),
        CKR_MECHANISM_PARAM_INVALID,
        "no parameter",
    );
}
