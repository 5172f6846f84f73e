//! The FIPS build's approved-only mode through the C ABI (issue 12), and
//! the approved mechanisms working end to end in every build.
//!
//! Built with `--features fips`, the module must name its mode in
//! C_GetInfo, list exactly the approved set this file writes down on its
//! own (not read from the module), refuse everything else with
//! CKR_MECHANISM_INVALID even when the policy would allow it, and answer
//! the pairings and parameters AWS-LC has no approved service for at init
//! with the codes below. In the other builds the same calls show the full
//! set. The end-to-end test runs in every build: with `fips` it proves
//! that each approved family works with no RustCrypto fallback (a
//! fallback answers CKR_FUNCTION_FAILED there).

#[macro_use]
mod common;

use common::hex;
use common::lifecycle::*;
use common::mech::{Mech, Salt};
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;

const FIPS: bool = cfg!(feature = "fips");

/// What the FIPS build offers, written down independently of the module's
/// table (src/mechanism/fips.rs): the test fails if either drifts.
const APPROVED: &[CK_MECHANISM_TYPE] = &[
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_SHA1_RSA_PKCS,
    CKM_RSA_PKCS_OAEP,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_SHA_1,
    CKM_SHA_1_HMAC,
    CKM_SHA_1_HMAC_GENERAL,
    CKM_SHA256,
    CKM_SHA256_HMAC,
    CKM_SHA256_HMAC_GENERAL,
    CKM_SHA224,
    CKM_SHA224_HMAC,
    CKM_SHA224_HMAC_GENERAL,
    CKM_SHA384,
    CKM_SHA384_HMAC,
    CKM_SHA384_HMAC_GENERAL,
    CKM_SHA512,
    CKM_SHA512_HMAC,
    CKM_SHA512_HMAC_GENERAL,
    CKM_SHA3_256,
    CKM_SHA3_384,
    CKM_SHA3_512,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
    CKM_ECDH1_DERIVE,
    CKM_ECDH1_COFACTOR_DERIVE,
    CKM_AES_KEY_GEN,
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_CMAC,
    CKM_AES_CMAC_GENERAL,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_SHA_1_KEY_GEN,
    CKM_SHA224_KEY_GEN,
    CKM_SHA256_KEY_GEN,
    CKM_SHA384_KEY_GEN,
    CKM_SHA512_KEY_GEN,
    CKM_HKDF_DERIVE,
    CKM_HKDF_DATA,
    CKM_HKDF_KEY_GEN,
];

/// Offered in the other builds, never in the FIPS one.
const NOT_APPROVED: &[CK_MECHANISM_TYPE] = &[
    CKM_RSA_PKCS,
    CKM_RSA_X_509,
    CKM_RSA_PKCS_PSS,
    CKM_ECDSA,
    CKM_EDDSA,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    CKM_SHA3_224,
    CKM_SHA3_256_HMAC,
    CKM_AES_KEY_WRAP_PAD,
    CKM_PKCS5_PBKD2,
    CKM_SHA3_256_KEY_GEN,
];

fn mechanism_list(f: &'static CK_FUNCTION_LIST_3_0) -> Vec<CK_MECHANISM_TYPE> {
    let mut n: CK_ULONG = 0;
    assert_eq!(
        ck!(f, C_GetMechanismList(0, std::ptr::null_mut(), &mut n)),
        CKR_OK
    );
    let mut list = vec![0; usize::try_from(n).unwrap()];
    assert_eq!(
        ck!(f, C_GetMechanismList(0, list.as_mut_ptr(), &mut n)),
        CKR_OK
    );
    list.truncate(usize::try_from(n).unwrap());
    list
}

fn mechanism_info(
    f: &'static CK_FUNCTION_LIST_3_0,
    mech: CK_MECHANISM_TYPE,
) -> Rv<CK_MECHANISM_INFO> {
    let mut info = CK_MECHANISM_INFO::default();
    match ck!(f, C_GetMechanismInfo(0, mech, &mut info)) {
        CKR_OK => Ok(info),
        rv => Err(rv),
    }
}

fn library_description(f: &'static CK_FUNCTION_LIST_3_0) -> String {
    let mut info = CK_INFO::default();
    assert_eq!(ck!(f, C_GetInfo(&mut info)), CKR_OK);
    String::from_utf8_lossy(&info.libraryDescription)
        .trim_end()
        .to_string()
}

#[test]
fn the_mode_is_named_and_only_approved_mechanisms_are_offered() {
    let m = Module::start("");
    let f = m.f();
    let description = library_description(f);
    assert_eq!(description.contains("FIPS"), FIPS, "{description:?}");
    let mut offered = mechanism_list(f);
    offered.sort_unstable();
    if FIPS {
        let mut want = APPROVED.to_vec();
        want.sort_unstable();
        assert_eq!(offered, want, "the FIPS build's mechanism list");
        for &mech in NOT_APPROVED {
            assert_eq!(
                mechanism_info(f, mech).err(),
                Some(CKR_MECHANISM_INVALID),
                "{mech:#x}"
            );
        }
        // SHA-1 signatures: verification only; RSA from 2048 bits; HMAC
        // keys from 112 bits.
        let sha1 = mechanism_info(f, CKM_SHA1_RSA_PKCS).unwrap();
        assert_eq!((sha1.flags, sha1.ulMinKeySize), (CKF_VERIFY, 2048));
        let ec_sha1 = mechanism_info(f, CKM_ECDSA_SHA1).unwrap();
        assert_eq!(ec_sha1.flags & (CKF_SIGN | CKF_VERIFY), CKF_VERIFY);
        assert_eq!(mechanism_info(f, CKM_SHA256_HMAC).unwrap().ulMinKeySize, 14);
    } else {
        for &mech in APPROVED.iter().chain(NOT_APPROVED) {
            if mech == CKM_RSA_X_509 {
                continue; // raw RSA: only when the policy allows it
            }
            assert!(
                offered.contains(&mech),
                "{mech:#x} offered outside FIPS mode"
            );
        }
    }
}

/// No policy grants back what the FIPS mode leaves out: the compat
/// profile's 1024-bit RSA, SHA-1 signing and PKCS#1 v1.5 decryption.
#[test]
fn the_policy_cannot_widen_the_fips_set() {
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let f = m.f();
    let gen_rsa = mechanism_info(f, CKM_RSA_PKCS_KEY_PAIR_GEN).unwrap();
    let pkcs1 = mechanism_info(f, CKM_RSA_PKCS);
    let sha1 = mechanism_info(f, CKM_SHA1_RSA_PKCS).unwrap();
    // Nor compat's P-192/P-224 (`min_ec_bits`) and 512-bit RSA public keys
    // for verification (`min_rsa_verify_bits`).
    let ec_gen = mechanism_info(f, CKM_EC_KEY_PAIR_GEN).unwrap();
    let ecdh = mechanism_info(f, CKM_ECDH1_DERIVE).unwrap();
    if FIPS {
        assert_eq!(gen_rsa.ulMinKeySize, 2048);
        assert_eq!(pkcs1.err(), Some(CKR_MECHANISM_INVALID));
        assert_eq!(sha1.flags & CKF_SIGN, 0);
        assert_eq!(sha1.ulMinKeySize, 2048);
        assert_eq!((ec_gen.ulMinKeySize, ecdh.ulMinKeySize), (256, 256));
    } else {
        assert_eq!(gen_rsa.ulMinKeySize, 1024);
        assert_ne!(pkcs1.unwrap().flags & CKF_DECRYPT, 0);
        assert_ne!(sha1.flags & CKF_SIGN, 0);
        assert_eq!(sha1.ulMinKeySize, 512);
        assert_eq!((ec_gen.ulMinKeySize, ecdh.ulMinKeySize), (192, 192));
    }
}

fn pss(hash: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE, salt: CK_ULONG) -> Mech {
    let bytes: Vec<u8> = [hash, mgf, salt]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    Mech::bytes(CKM_SHA256_RSA_PKCS_PSS, &bytes)
}

/// A FIPS-only answer where the other builds succeed.
fn fips_refuses<T: std::fmt::Debug>(r: Rv<T>, fips_rv: CK_RV, what: &str) {
    if FIPS {
        err(r, fips_rv, what);
    } else {
        ok(r, what);
    }
}

#[test]
fn approved_signatures_work_and_unapproved_pairings_are_refused_at_init() {
    let m = Module::start("");
    let s = m.ready();
    let msg = b"a message signed in parts";
    // ECDSA P-256 with SHA-256, in parts, checked and tampered with.
    let (p256_pub, p256) = ok(
        ec(&s, common::P256_PARAMS, "p256", false, |t| t),
        "P-256 pair",
    );
    let sha256 = Mech::new(CKM_ECDSA_SHA256);
    ok(s.sign_init(&sha256, p256), "ECDSA-SHA256 sign init");
    ok(s.sign_update(&msg[..5]), "sign update");
    ok(s.sign_update(&msg[5..]), "sign update");
    let sig = ok(s.sign_final(), "sign final");
    ok(s.verify_once(&sha256, p256_pub, msg, &sig), "verify");
    err(
        s.verify_once(&sha256, p256_pub, b"another message", &sig),
        CKR_SIGNATURE_INVALID,
        "verify of another message",
    );
    // P-256 signing with SHA-384: no approved aws-lc service.
    fips_refuses(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA384), p256),
        CKR_KEY_SIZE_RANGE,
        "ECDSA-SHA384 on P-256 sign init",
    );
    if !FIPS {
        ok(s.sign(msg), "finish the P-256/SHA-384 signature");
    }
    // Its verification exists (through DER): a P-384 key with SHA-256.
    let (p384_pub, p384) = ok(
        ec(&s, common::P384_PARAMS, "p384", false, |t| t),
        "P-384 pair",
    );
    let sha384 = Mech::new(CKM_ECDSA_SHA384);
    let sig384 = ok(s.sign_once(&sha384, p384, msg), "P-384 sign");
    ok(
        s.verify_once(&sha384, p384_pub, msg, &sig384),
        "P-384 verify",
    );
    ok(
        s.verify_init(&sha256, p384_pub),
        "P-384/SHA-256 verify init",
    );
    err(
        s.verify(msg, &sig384),
        CKR_SIGNATURE_INVALID,
        "wrong-hash signature",
    );

    // RSA-2048: PKCS#1 v1.5 and PSS with the hash-length salt.
    let (rsa_pub, rsa) = ok(
        rsa(
            &s,
            2048,
            Tmpl::new().bool(CKA_SIGN, true).bool(CKA_DECRYPT, true),
        ),
        "RSA-2048 pair",
    );
    for mech in [
        Mech::new(CKM_SHA256_RSA_PKCS),
        Mech::new(CKM_SHA512_RSA_PKCS),
        pss(CKM_SHA256, CKG_MGF1_SHA256, 32),
    ] {
        let sig = ok(s.sign_once(&mech, rsa, msg), "RSA sign");
        assert_eq!(sig.len(), 256);
        ok(s.verify_once(&mech, rsa_pub, msg, &sig), "RSA verify");
    }
    fips_refuses(
        s.sign_init(&pss(CKM_SHA256, CKG_MGF1_SHA256, 0), rsa),
        CKR_MECHANISM_PARAM_INVALID,
        "PSS with an empty salt",
    );
    if !FIPS {
        ok(s.sign(msg), "finish the empty-salt PSS signature");
    }
    // RSA generation: FIPS makes 2048/3072/4096-bit keys with e = 65537.
    if FIPS {
        let rsa_gen = |bits: CK_ULONG, e: &[u8]| {
            s.generate_pair(
                &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
                Tmpl::new()
                    .ulong(CKA_MODULUS_BITS, bits)
                    .bytes(CKA_PUBLIC_EXPONENT, e)
                    .bool(CKA_TOKEN, false)
                    .bool(CKA_VERIFY, true),
                Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_SIGN, true),
            )
        };
        err(
            rsa_gen(2560, &[1, 0, 1]),
            CKR_KEY_SIZE_RANGE,
            "a 2560-bit RSA key in FIPS mode",
        );
        err(
            rsa_gen(2048, &[3]),
            CKR_ATTRIBUTE_VALUE_INVALID,
            "e = 3 in FIPS mode",
        );
    }
    // OAEP with SHA-256.
    let oaep = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    let ct = ok(s.encrypt_once(&oaep, rsa_pub, b"secret"), "OAEP encrypt");
    assert_eq!(
        ok(s.decrypt_once(&oaep, rsa, &ct), "OAEP decrypt"),
        b"secret"
    );
}

#[test]
fn approved_symmetric_mechanisms_work() {
    let m = Module::start("");
    let s = m.ready();
    // Digests: FIPS 180-4 / 202 "abc" answers.
    let abc = |mech| hex(&ok(s.digest_once(&Mech::new(mech), b"abc"), "digest"));
    assert_eq!(
        abc(CKM_SHA256),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        abc(CKM_SHA3_256),
        "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
    );
    // AES-256: CBC-PAD and GCM round trips, CTR, CMAC, key wrap of
    // another key (one key per use: the default policy separates them).
    let aes = |len: CK_ULONG, uses: &[CK_ATTRIBUTE_TYPE]| {
        let t = uses.iter().fold(
            Tmpl::new().ulong(CKA_VALUE_LEN, len).bool(CKA_TOKEN, false),
            |t, &a| t.bool(a, true),
        );
        ok(s.generate_key(&Mech::new(CKM_AES_KEY_GEN), t), "AES key")
    };
    let aes_key = aes(32, &[CKA_ENCRYPT, CKA_DECRYPT]);
    let mac_aes = aes(32, &[CKA_SIGN, CKA_VERIFY]);
    let kek = aes(32, &[CKA_WRAP, CKA_UNWRAP]);
    let data = vec![0x5au8; 100];
    for mech in [
        Mech::bytes(CKM_AES_CBC_PAD, &[7u8; 16]),
        Mech::ctr(128, [3u8; 16]),
    ] {
        let ct = ok(s.encrypt_once(&mech, aes_key, &data), "AES encrypt");
        assert_ne!(ct.get(..16), data.get(..16));
        assert_eq!(ok(s.decrypt_once(&mech, aes_key, &ct), "AES decrypt"), data);
    }
    // GCM: decryption everywhere; encryption with the caller's IV only
    // outside FIPS mode (tests/message_gcm.rs covers generated IVs).
    let gcm = Mech::gcm(&[9u8; 12], b"aad", 128);
    fips_refuses(
        s.encrypt_init(&gcm, aes_key),
        CKR_MECHANISM_INVALID,
        "GCM C_EncryptInit",
    );
    if !FIPS {
        let ct = ok(s.encrypt(&data), "GCM encrypt");
        assert_eq!(ok(s.decrypt_once(&gcm, aes_key, &ct), "GCM decrypt"), data);
    }
    let cmac = Mech::new(CKM_AES_CMAC);
    let tag = ok(s.sign_once(&cmac, mac_aes, &data), "CMAC");
    ok(s.verify_once(&cmac, mac_aes, &data, &tag), "CMAC verify");
    let movable = ok(
        s.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            Tmpl::new()
                .ulong(CKA_VALUE_LEN, 16)
                .bool(CKA_TOKEN, false)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_ENCRYPT, true),
        ),
        "AES-128 key to wrap",
    );
    let kw = Mech::new(CKM_AES_KEY_WRAP);
    let wrapped = ok(s.wrap(&kw, kek, movable), "AES key wrap");
    assert_eq!(wrapped.len(), 24);
    let back = ok(
        s.unwrap(
            &kw,
            kek,
            &wrapped,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bool(CKA_TOKEN, false)
                .bool(CKA_DECRYPT, true),
        ),
        "AES key unwrap",
    );
    let probe = Mech::bytes(CKM_AES_CBC, &[1u8; 16]);
    let ct = ok(s.encrypt_once(&probe, movable, &[0u8; 32]), "probe");
    assert_eq!(
        ok(s.decrypt_once(&probe, back, &ct), "unwrapped key"),
        vec![0u8; 32]
    );

    // HMAC-SHA-256 with a 32-byte key; a 64-bit key is below FIPS's floor.
    let hmac_key = |len: CK_ULONG| {
        s.generate_key(
            &Mech::new(CKM_GENERIC_SECRET_KEY_GEN),
            Tmpl::new()
                .ulong(CKA_VALUE_LEN, len)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        )
    };
    let mac_key = ok(hmac_key(32), "HMAC key");
    let hmac = Mech::new(CKM_SHA256_HMAC);
    let mac = ok(s.sign_once(&hmac, mac_key, &data), "HMAC");
    ok(s.verify_once(&hmac, mac_key, &data, &mac), "HMAC verify");
    let short = ok(hmac_key(8), "a 64-bit generic secret");
    fips_refuses(
        s.sign_init(&hmac, short),
        CKR_KEY_SIZE_RANGE,
        "HMAC with a 64-bit key",
    );
    if !FIPS {
        ok(s.sign(&data), "finish the short-key HMAC");
    }
}

#[test]
fn approved_derivations_work() {
    let m = Module::start("");
    let s = m.ready();
    let derive = CKA_DERIVE;
    let pair = |label| {
        ok(
            ec(&s, common::P256_PARAMS, label, false, |t| {
                t.bool(derive, true)
            }),
            "P-256 derive pair",
        )
    };
    let (a_pub, a) = pair("a");
    let (b_pub, b) = pair("b");
    let point = |h| s.attr_ok(h, CKA_EC_POINT);
    let secret = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 32)
            .bool(CKA_TOKEN, false)
            .bool(CKA_SIGN, true)
            .bool(CKA_VERIFY, true)
            .bool(CKA_DERIVE, true)
    };
    let ab = ok(
        s.derive(
            &Mech::ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point(b_pub)),
            a,
            secret(),
        ),
        "ECDH a with b",
    );
    let ba = ok(
        s.derive(
            &Mech::ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point(a_pub)),
            b,
            secret(),
        ),
        "ECDH b with a",
    );
    // Equal secrets: a MAC under one verifies under the other.
    let hmac = Mech::new(CKM_SHA256_HMAC);
    let mac = ok(s.sign_once(&hmac, ab, b"agree"), "MAC under a's secret");
    ok(
        s.verify_once(&hmac, ba, b"agree", &mac),
        "same secret on b's side",
    );
    // The SP 800-56C one-step KDF over the agreed secret, both sides.
    let kdf =
        |peer: Vec<u8>| Mech::ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF_SP800, b"fixed info", &peer);
    let ab2 = ok(
        s.derive(&kdf(point(b_pub)), a, secret()),
        "ECDH + SP 800-56C, a",
    );
    let ba2 = ok(
        s.derive(&kdf(point(a_pub)), b, secret()),
        "ECDH + SP 800-56C, b",
    );
    let mac = ok(s.sign_once(&hmac, ab2, b"kdf"), "MAC under a's KDF key");
    ok(
        s.verify_once(&hmac, ba2, b"kdf", &mac),
        "same KDF key on b's side",
    );
    // HKDF-SHA-256 from the agreed secret.
    let hkdf = Mech::hkdf(
        CKM_HKDF_DERIVE,
        CKM_SHA256,
        true,
        true,
        Salt::Data(b"salt"),
        b"info",
    );
    let k1 = ok(s.derive(&hkdf, ab, secret()), "HKDF on a's side");
    let k2 = ok(s.derive(&hkdf, ba, secret()), "HKDF on b's side");
    let mac = ok(s.sign_once(&hmac, k1, b"hkdf"), "MAC under HKDF key");
    ok(s.verify_once(&hmac, k2, b"hkdf", &mac), "same HKDF key");
}

/// aws-lc's digest contexts cannot be serialized: in the FIPS build a
/// digest in progress answers CKR_STATE_UNSAVEABLE; elsewhere it saves.
#[test]
fn operation_state_of_a_digest() {
    let m = Module::start("");
    let s = m.ready();
    let f = m.f();
    let h = s.h;
    let mut mech = Mech::new(CKM_SHA256).ck();
    assert_eq!(ck!(f, C_DigestInit(h, &mut mech)), CKR_OK);
    let mut data = *b"part";
    assert_eq!(ck!(f, C_DigestUpdate(h, data.as_mut_ptr(), 4)), CKR_OK);
    let mut len: CK_ULONG = 0;
    let rv = ck!(f, C_GetOperationState(h, std::ptr::null_mut(), &mut len));
    assert_eq!(rv, if FIPS { CKR_STATE_UNSAVEABLE } else { CKR_OK });
}
