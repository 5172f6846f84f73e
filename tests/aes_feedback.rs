//! AES-OFB, AES-CFB8, AES-CFB128 and AES-CTS (CBC-CS1) through the C ABI
//! (issue 13): NIST SP 800-38A answers (F.4.1, F.3.13, F.3.7) and OpenSSL's
//! CBC-CTS answers, in one call and in parts of every size, with the
//! output-length protocol; the mechanism info; a wrong IV, a wrong key
//! type, and CTS input shorter than a block.

mod common;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::unhex;
use cryptoki_sys::*;

const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                     30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

/// (mechanism, plaintext bytes used, ciphertext)
fn cases() -> Vec<(CK_MECHANISM_TYPE, usize, &'static str)> {
    vec![
        (
            CKM_AES_OFB,
            64,
            "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed825\
             9740051e9c5fecf64344f7a82260edcc304c6528f659c77866a510d9c1d6ae5e",
        ),
        (
            CKM_AES_CFB128,
            64,
            "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b\
             26751f67a3cbb140b1808cf187a4f4dfc04b05357c5d1c0eeac4c66f9ff7f2e6",
        ),
        (CKM_AES_CFB8, 18, "3b79424c9c0dd436bace9e0ed4586a4f32b9"),
        (CKM_AES_CTS, 17, "76b8d266c62a614f00d7c901dc791ecea9"),
        (
            CKM_AES_CTS,
            40,
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee4931b7ebe3959b02a07245ed3eed3d3e",
        ),
        (
            CKM_AES_CTS,
            64,
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
             73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        ),
    ]
}

#[test]
fn known_answers_whole_and_in_parts() {
    let m = Module::start("");
    let s = m.ready();
    let k = ok(s.create(aes_crypt(&unhex(KEY))), "AES key");
    let plain = unhex(PLAIN);
    for (mech, len, want) in cases() {
        let info = ok(s.mechanism_info(0, mech), "listed");
        assert_eq!(info.flags, CKF_ENCRYPT | CKF_DECRYPT, "{mech:#x}");
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32));
        let mech = Mech::bytes(mech, &unhex(IV));
        let data = &plain[..len];
        let want = unhex(want);
        ok(s.encrypt_init(&mech, k), "C_EncryptInit");
        assert_protocol(&s.encrypt_protocol(data, len), &want, "C_Encrypt");
        ok(s.decrypt_init(&mech, k), "C_DecryptInit");
        assert_protocol(&s.decrypt_protocol(&want, len), data, "C_Decrypt");
        for sizes in [&[1usize, 1, 1][..], &[15, 2], &[16, 16], &[33], &[5, 27, 3]] {
            let got = ok(s.encrypt_parts(&mech, k, data, sizes), "in parts");
            assert_eq!(got, want, "{:#x} encrypt {sizes:?}", mech.ty());
            let back = ok(s.decrypt_parts(&mech, k, &want, sizes), "in parts");
            assert_eq!(back, data, "{:#x} decrypt {sizes:?}", mech.ty());
        }
    }
}

#[test]
fn refusals() {
    let m = Module::start("");
    let s = m.ready();
    let k = ok(s.create(aes_crypt(&unhex(KEY))), "AES key");
    for mech in [CKM_AES_OFB, CKM_AES_CFB8, CKM_AES_CFB128, CKM_AES_CTS] {
        err(
            s.encrypt_init(&Mech::bytes(mech, &[0; 8]), k),
            CKR_MECHANISM_PARAM_INVALID,
            "an 8-byte IV",
        );
        err(
            s.encrypt_init(&Mech::new(mech), k),
            CKR_MECHANISM_PARAM_INVALID,
            "no IV",
        );
    }
    let hmac = secret(CKK_GENERIC_SECRET, &[7; 16]).bool(CKA_ENCRYPT, true);
    let hmac = ok(s.create(hmac), "a generic secret");
    err(
        s.encrypt_init(&Mech::bytes(CKM_AES_OFB, &unhex(IV)), hmac),
        CKR_KEY_TYPE_INCONSISTENT,
        "not an AES key",
    );
    let cts = Mech::bytes(CKM_AES_CTS, &unhex(IV));
    err(
        s.encrypt_once(&cts, k, &[1; 15]),
        CKR_DATA_LEN_RANGE,
        "CTS under one block",
    );
    err(
        s.decrypt_once(&cts, k, &[1; 15]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "CTS ciphertext under one block",
    );
    err(
        s.encrypt_parts(&cts, k, &[1; 10], &[4]),
        CKR_DATA_LEN_RANGE,
        "CTS parts under one block",
    );
}
