//! The raw stream ciphers CKM_CHACHA20 and CKM_SALSA20, the Poly1305 MAC
//! (CKM_POLY1305, offered only under `[policy] poly1305 = true`), their
//! key types and generations, and the original (64-bit nonce)
//! CKM_CHACHA20_POLY1305, through the C ABI: RFC 8439 known answers
//! (§2.4.2, §2.5.2, appendices A.2 and A.3), the ECRYPT Salsa20 vector,
//! libsodium cross-checks through PyNaCl (tests/interop/nacl_chacha.py),
//! the output-length protocol, and the refusals (parameter lengths, key
//! types, altered tags).

#[macro_use]
mod common;

use common::lifecycle::*;
use common::ops::*;
use common::raw::Tmpl;
use common::unhex;
use cryptoki_sys::*;

// RFC 8439 §2.4.2 (counter 1).
const K242: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const N242: &str = "000000000000004a00000000";
const P242: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you \
only one tip for the future, sunscreen would be it.";
const C242: &str = "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
                    f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
                    07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
                    5af90bbf74a35be6b40b8eedf2785e42874d";

/// RFC 8439 appendix A.2 and A.3's text (375 bytes).
const IETF: &[u8] = b"Any submission to the IETF intended by the Contributor for publication \
as all or part of an IETF Internet-Draft or RFC and any statement made within the context of \
an IETF activity is considered an \"IETF Contribution\". Such statements include oral \
statements in IETF sessions, as well as written and electronic communications made at any \
time or place, which are addressed to";
/// RFC 8439 appendix A.2 #3 and A.3 #4's text (127 bytes).
const JABBERWOCK: &[u8] = b"'Twas brillig, and the slithy toves\nDid gyre and gimble in the \
wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.";
const K_A2_3: &str = "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";

// RFC 8439 A.2 #1: zero key, zero nonce, counter 0, 64 zero bytes.
const C_A2_1: &str = "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
                      da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";
// RFC 8439 A.2 #2: key 00…01, nonce 00…02, counter 1, IETF.
const C_A2_2: &str = "a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec\
                      2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d\
                      4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e527950\
                      42bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85a\
                      d00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259d\
                      c4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b\
                      0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6c\
                      cc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0b\
                      c39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f\
                      5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e6\
                      98ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab\
                      7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221";
// RFC 8439 A.2 #3: K_A2_3, nonce 00…02, counter 42, JABBERWOCK.
const C_A2_3: &str = "62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf\
                      166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb\
                      f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f77\
                      04c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1";

// RFC 8439 §2.5.2.
const K252: &str = "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b";
const M252: &[u8] = b"Cryptographic Forum Research Group";
const T252: &str = "a8061dc1305136c6c22b8baf0c0127a9";

/// ECRYPT Salsa20 (256-bit key) set 1, vector 0: key 80 00…00, IV 0,
/// keystream bytes 0..63.
const SALSA_SET1_V0: &str = "e3be8fdd8beca2e3ea8ef9475b29a6e7003951e1097a5c38d23b7a5fad9f6844\
                             b22c97559e2723c7cbbd3fe4fc8d9a0744652a83e72a9c461876af4d7ef1a117";

const POLICY_POLY: &str = "[policy]\npoly1305 = true\n";

/// A session key of `kt` for encryption only (the default policy keeps
/// wrapping keys apart).
fn crypt_key(s: &Sess, kt: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    let t = secret(kt, value)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true)
        .bool(CKA_WRAP, false)
        .bool(CKA_UNWRAP, false);
    ok(s.create(t), "import key")
}

fn mac_key(s: &Sess, value: &[u8]) -> CK_OBJECT_HANDLE {
    let t = secret(CKK_POLY1305, value)
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true);
    ok(s.create(t), "import Poly1305 key")
}

/// CK_CHACHA20_PARAMS with the lengths of its buffers.
fn chacha(counter: &[u8], nonce: &[u8]) -> Mech {
    Mech::chacha20(
        counter,
        ulong(counter.len() * 8),
        nonce,
        ulong(nonce.len() * 8),
    )
}

fn salsa(counter: u64, nonce: &[u8]) -> Mech {
    Mech::salsa20(&counter.to_le_bytes(), nonce, ulong(nonce.len() * 8))
}

fn nonce12(last: u8) -> Vec<u8> {
    let mut n = vec![0u8; 12];
    n[11] = last;
    n
}

#[test]
fn mechanism_info_and_policy() {
    let m = Module::start("");
    let s = m.ready();
    for mech in [CKM_CHACHA20, CKM_SALSA20] {
        let info = ok(s.mechanism_info(0, mech), "info");
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (32, 32));
        assert_eq!(info.flags, CKF_ENCRYPT | CKF_DECRYPT, "{mech:#x}");
    }
    let info = ok(s.mechanism_info(0, CKM_SALSA20_KEY_GEN), "keygen info");
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (32, 32));
    assert_eq!(info.flags, CKF_GENERATE);
    let list = ok(s.mechanism_list(0), "list");
    assert!(list.contains(&CKM_CHACHA20) && list.contains(&CKM_SALSA20));
    // Poly1305 (a one-time key) is not offered by default.
    assert!(!list.contains(&CKM_POLY1305) && !list.contains(&CKM_POLY1305_KEY_GEN));
    for mech in [CKM_POLY1305, CKM_POLY1305_KEY_GEN] {
        err(
            s.mechanism_info(0, mech),
            CKR_MECHANISM_INVALID,
            "not offered",
        );
    }
    let k = mac_key(&s, &unhex(K252));
    err(
        s.sign_init(&Mech::new(CKM_POLY1305), k),
        CKR_MECHANISM_INVALID,
        "C_SignInit refused",
    );
    drop(m);
    // Nor by the compat profile; the policy entry offers it.
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let s = m.ready();
    err(
        s.mechanism_info(0, CKM_POLY1305),
        CKR_MECHANISM_INVALID,
        "compat",
    );
    drop(m);
    let m = Module::start(POLICY_POLY);
    let s = m.ready();
    let info = ok(s.mechanism_info(0, CKM_POLY1305), "Poly1305 info");
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (32, 32));
    assert_eq!(info.flags, CKF_SIGN | CKF_VERIFY);
    let info = ok(s.mechanism_info(0, CKM_POLY1305_KEY_GEN), "keygen info");
    assert_eq!(info.flags, CKF_GENERATE);
}

#[test]
fn chacha20_rfc8439_vectors() {
    let m = Module::start("");
    let s = m.ready();
    let k = crypt_key(&s, CKK_CHACHA20, &unhex(K242));
    let mech = chacha(&1u32.to_le_bytes(), &unhex(N242));
    let want = unhex(C242);
    // Single part with the length protocol: the query, then a short
    // buffer (CKR_BUFFER_TOO_SMALL with the needed length), then the call.
    ok(s.encrypt_init(&mech, k), "C_EncryptInit");
    let p = s.encrypt_protocol(P242, want.len());
    assert_eq!(p.queried, want.len());
    assert_eq!(p.short, Some((CKR_BUFFER_TOO_SMALL, want.len())));
    assert_protocol(&p, &want, "C_Encrypt");
    // Parts: each part's output comes with it, and no final part.
    ok(s.encrypt_init(&mech, k), "C_EncryptInit");
    let mut out = Vec::new();
    for part in split(P242, &[1, 62, 1, 64]) {
        let c = ok(s.encrypt_update(part), "C_EncryptUpdate");
        assert_eq!(c.len(), part.len());
        out.extend(c);
    }
    assert!(ok(s.encrypt_final(), "C_EncryptFinal").is_empty());
    assert_eq!(out, want);
    // Decryption is the same stream.
    assert_eq!(ok(s.decrypt_once(&mech, k, &want), "C_Decrypt"), P242);
    assert_eq!(
        ok(s.decrypt_parts(&mech, k, &want, &[5, 100]), "parts"),
        P242
    );
    // Appendix A.2.
    let zero = crypt_key(&s, CKK_CHACHA20, &[0; 32]);
    let a1 = chacha(&0u32.to_le_bytes(), &[0; 12]);
    assert_eq!(
        ok(s.encrypt_once(&a1, zero, &[0; 64]), "A.2 #1"),
        unhex(C_A2_1)
    );
    let mut one = [0u8; 32];
    one[31] = 1;
    let k2 = crypt_key(&s, CKK_CHACHA20, &one);
    let a2 = chacha(&1u32.to_le_bytes(), &nonce12(2));
    assert_eq!(ok(s.encrypt_once(&a2, k2, IETF), "A.2 #2"), unhex(C_A2_2));
    assert_eq!(ok(s.decrypt_once(&a2, k2, &unhex(C_A2_2)), "A.2 #2"), IETF);
    let k3 = crypt_key(&s, CKK_CHACHA20, &unhex(K_A2_3));
    let a3 = chacha(&42u32.to_le_bytes(), &nonce12(2));
    assert_eq!(
        ok(s.encrypt_parts(&a3, k3, JABBERWOCK, &[3, 70]), "A.2 #3"),
        unhex(C_A2_3)
    );
    // An empty message is fine (a stream cipher takes any length).
    assert!(ok(s.encrypt_once(&a3, k3, &[]), "empty").is_empty());
}

/// The original (64/64) and XChaCha20 (192/64) forms: the counter
/// addresses 64-byte blocks, little-endian, all 64 bits of it.
#[test]
fn chacha20_counters_address_blocks() {
    let m = Module::start("");
    let s = m.ready();
    let k = crypt_key(&s, CKK_CHACHA20, &[0x11; 32]);
    for nonce in [vec![1u8; 8], vec![2u8; 24]] {
        let from0 = ok(
            s.encrypt_once(&chacha(&0u64.to_le_bytes(), &nonce), k, &[0; 192]),
            "from block 0",
        );
        let from2 = ok(
            s.encrypt_once(&chacha(&2u64.to_le_bytes(), &nonce), k, &[0; 64]),
            "from block 2",
        );
        assert_eq!(from2, from0[128..]);
        // Past 2^32 blocks: the high counter word counts too.
        let low = ok(
            s.encrypt_once(&chacha(&5u64.to_le_bytes(), &nonce), k, &[0; 64]),
            "block 5",
        );
        let high = ok(
            s.encrypt_once(
                &chacha(&((1u64 << 32) + 5).to_le_bytes(), &nonce),
                k,
                &[0; 64],
            ),
            "block 2^32 + 5",
        );
        assert_ne!(low, high);
    }
}

#[test]
fn salsa20_vectors_and_generation() {
    let m = Module::start("");
    let s = m.ready();
    let mut key = [0u8; 32];
    key[0] = 0x80;
    let k = crypt_key(&s, CKK_SALSA20, &key);
    let mech = salsa(0, &[0; 8]);
    ok(s.encrypt_init(&mech, k), "C_EncryptInit");
    let p = s.encrypt_protocol(&[0; 64], 64);
    assert_protocol(&p, &unhex(SALSA_SET1_V0), "ECRYPT set 1 vector 0");
    assert_eq!(
        ok(s.encrypt_parts(&mech, k, &[0; 64], &[1, 31, 17]), "parts"),
        unhex(SALSA_SET1_V0)
    );
    // Block 1 of the same stream is where counter 1 starts.
    let two = ok(s.encrypt_once(&mech, k, &[0; 128]), "two blocks");
    assert_eq!(
        ok(s.encrypt_once(&salsa(1, &[0; 8]), k, &[0; 64]), "counter 1"),
        two[64..]
    );
    // CKM_SALSA20_KEY_GEN makes a 32-byte CKK_SALSA20 key that encrypts.
    let t = |len: CK_ULONG| {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_SALSA20)
            .ulong(CKA_VALUE_LEN, len)
            .bool(CKA_TOKEN, false)
            .bool(CKA_WRAP, false)
            .bool(CKA_UNWRAP, false)
    };
    let g = ok(
        s.generate_key(&Mech::new(CKM_SALSA20_KEY_GEN), t(32)),
        "gen",
    );
    assert_eq!(s.attr_ulong(g, CKA_KEY_TYPE), CKK_SALSA20);
    assert!(s.attr_bool(g, CKA_ENCRYPT) && s.attr_bool(g, CKA_DECRYPT));
    let x = salsa(0, &[4; 24]);
    let ct = ok(s.encrypt_once(&x, g, b"xsalsa20"), "XSalsa20");
    assert_eq!(ok(s.decrypt_once(&x, g, &ct), "XSalsa20"), b"xsalsa20");
    err(
        s.generate_key(&Mech::new(CKM_SALSA20_KEY_GEN), t(16)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "16-byte generation",
    );
}

#[test]
fn poly1305_vectors() {
    let m = Module::start(POLICY_POLY);
    let s = m.ready();
    let mech = Mech::new(CKM_POLY1305);
    let k = mac_key(&s, &unhex(K252));
    // §2.5.2, single part with the length protocol.
    ok(s.sign_init(&mech, k), "C_SignInit");
    let mut d = M252.to_vec();
    let p = protocol(16, |o, n| {
        ck!(s.f, C_Sign(s.h, d.as_mut_ptr(), ulong(d.len()), o, n))
    });
    assert_eq!(p.short, Some((CKR_BUFFER_TOO_SMALL, 16)));
    assert_protocol(&p, &unhex(T252), "C_Sign");
    // Parts.
    ok(s.sign_init(&mech, k), "C_SignInit");
    for part in split(M252, &[1, 15, 3]) {
        ok(s.sign_update(part), "C_SignUpdate");
    }
    assert_eq!(ok(s.sign_final(), "C_SignFinal"), unhex(T252));
    // Verification: good, altered, wrong length.
    ok(s.verify_once(&mech, k, M252, &unhex(T252)), "C_Verify");
    ok(s.verify_init(&mech, k), "C_VerifyInit");
    ok(s.verify_update(&M252[..20]), "C_VerifyUpdate");
    ok(s.verify_update(&M252[20..]), "C_VerifyUpdate");
    ok(s.verify_final(&unhex(T252)), "C_VerifyFinal");
    let mut bad = unhex(T252);
    bad[0] ^= 1;
    err(
        s.verify_once(&mech, k, M252, &bad),
        CKR_SIGNATURE_INVALID,
        "altered tag",
    );
    err(
        s.verify_once(&mech, k, M252, &bad[..15]),
        CKR_SIGNATURE_LEN_RANGE,
        "short tag",
    );
    // Appendix A.3 #1 to #11 (#5 to #11: the edge cases of the
    // arithmetic; keys are r || s, 16 bytes each).
    let r_s = |r: &str, s: &str| [unhex(r), unhex(s)].concat();
    let z = "00000000000000000000000000000000";
    let r1 = "01000000000000000000000000000000";
    let r2 = "02000000000000000000000000000000";
    let r10 = "01000000000000000400000000000000";
    let ff = "ffffffffffffffffffffffffffffffff";
    let m10 = unhex(
        "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000\
         0000000000000000000000000000000001000000000000000000000000000000",
    );
    let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
        (vec![0; 32], vec![0; 64], z),
        (
            r_s(z, "36e5f6b5c5e06070f0efca96227a863e"),
            IETF.to_vec(),
            "36e5f6b5c5e06070f0efca96227a863e",
        ),
        (
            r_s("36e5f6b5c5e06070f0efca96227a863e", z),
            IETF.to_vec(),
            "f3477e7cd95417af89a6b8794c310cf0",
        ),
        (
            unhex(K_A2_3),
            JABBERWOCK.to_vec(),
            "4541669a7eaaee61e708dc7cbcc5eb62",
        ),
        (r_s(r2, z), unhex(ff), "03000000000000000000000000000000"),
        (r_s(r2, ff), unhex(r2), "03000000000000000000000000000000"),
        (
            r_s(r1, z),
            unhex(&format!(
                "{ff}f0ffffffffffffffffffffffffffffff11000000000000000000000000000000"
            )),
            "05000000000000000000000000000000",
        ),
        (
            r_s(r1, z),
            unhex(&format!(
                "{ff}fbfefefefefefefefefefefefefefefe01010101010101010101010101010101"
            )),
            z,
        ),
        (
            r_s(r2, z),
            unhex("fdffffffffffffffffffffffffffffff"),
            "faffffffffffffffffffffffffffffff",
        ),
        (r_s(r10, z), m10.clone(), "14000000000000005500000000000000"),
        (
            r_s(r10, z),
            m10[..48].to_vec(),
            "13000000000000000000000000000000",
        ),
    ];
    for (i, (key, msg, tag)) in cases.iter().enumerate() {
        let k = mac_key(&s, key);
        assert_eq!(
            ok(s.sign_once(&mech, k, msg), "A.3"),
            unhex(tag),
            "A.3 #{}",
            i + 1
        );
        ok(s.verify_once(&mech, k, msg, &unhex(tag)), "A.3 verify");
    }
    // CKM_POLY1305_KEY_GEN makes a key that MACs.
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_POLY1305)
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_TOKEN, false);
    let g = ok(s.generate_key(&Mech::new(CKM_POLY1305_KEY_GEN), t), "gen");
    assert!(s.attr_bool(g, CKA_SIGN) && s.attr_bool(g, CKA_VERIFY));
    let tag = ok(s.sign_once(&mech, g, b"once"), "generated key");
    ok(s.verify_once(&mech, g, b"once", &tag), "verify");
    // Refusals: a parameter, another key type.
    err(
        s.sign_init(&Mech::bytes(CKM_POLY1305, &[0; 16]), k),
        CKR_MECHANISM_PARAM_INVALID,
        "parameter",
    );
    let chacha_k = ok(
        s.create(
            secret(CKK_CHACHA20, &[1; 32])
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        ),
        "ChaCha20 key",
    );
    err(
        s.sign_init(&mech, chacha_k),
        CKR_KEY_TYPE_INCONSISTENT,
        "ChaCha20 key",
    );
    err(
        s.create(secret(CKK_POLY1305, &[1; 16])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "16-byte key",
    );
}

#[test]
fn stream_cipher_refusals() {
    let m = Module::start("");
    let s = m.ready();
    let k = crypt_key(&s, CKK_CHACHA20, &[1; 32]);
    // (nonce, counter) pairs the spec's table does not have, lengths in
    // bytes instead of bits, unknown lengths.
    for (nonce, nbits, counter, cbits) in [
        (12, 96, 8, 64),
        (8, 64, 4, 32),
        (24, 192, 4, 32),
        (16, 128, 4, 32),
        (12, 12, 4, 32),
        (12, 96, 4, 4),
    ] {
        err(
            s.encrypt_init(
                &Mech::chacha20(&vec![0; counter], cbits, &vec![0; nonce], nbits),
                k,
            ),
            CKR_MECHANISM_PARAM_INVALID,
            &format!("nonce {nbits} counter {cbits}"),
        );
    }
    // No parameter, or a structure of the wrong size.
    err(
        s.encrypt_init(&Mech::new(CKM_CHACHA20), k),
        CKR_MECHANISM_PARAM_INVALID,
        "no parameter",
    );
    err(
        s.encrypt_init(&Mech::bytes(CKM_CHACHA20, &[0; 16]), k),
        CKR_MECHANISM_PARAM_INVALID,
        "short structure",
    );
    let sk = crypt_key(&s, CKK_SALSA20, &[2; 32]);
    err(
        s.encrypt_init(&Mech::salsa20(&[0; 8], &[0; 12], 96), sk),
        CKR_MECHANISM_PARAM_INVALID,
        "Salsa20 has no 96-bit nonce",
    );
    // Key types: each cipher takes its own.
    let aes = ok(s.create(aes_crypt(&[3; 32])), "AES key");
    let good = chacha(&0u32.to_le_bytes(), &[0; 12]);
    for (mech, key) in [(&good, aes), (&good, sk), (&salsa(0, &[0; 8]), k)] {
        err(
            s.encrypt_init(mech, key),
            CKR_KEY_TYPE_INCONSISTENT,
            "key type",
        );
        err(
            s.decrypt_init(mech, key),
            CKR_KEY_TYPE_INCONSISTENT,
            "key type",
        );
    }
    err(
        s.create(secret(CKK_SALSA20, &[1; 16])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "16-byte Salsa20 key",
    );
    // The raw ciphers do not wrap keys (no integrity).
    let wk = ok(
        s.create(
            secret(CKK_CHACHA20, &[4; 32])
                .bool(CKA_ENCRYPT, false)
                .bool(CKA_DECRYPT, false)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true),
        ),
        "wrapping key",
    );
    let target = ok(
        s.create(aes_crypt(&[5; 16]).bool(CKA_EXTRACTABLE, true)),
        "target",
    );
    err(s.wrap(&good, wk, target), CKR_MECHANISM_INVALID, "no wrap");
}

/// The new key types wrap and unwrap as AES keys do (here under AES key
/// wrap; not sensitive, as the default policy wraps a sensitive key only
/// under a trusted one), and the unwrapped key does the same thing.
#[test]
fn new_key_types_wrap_and_unwrap() {
    let m = Module::start(POLICY_POLY);
    let s = m.ready();
    let kek = ok(
        s.create(
            secret(CKK_AES, &[7; 32])
                .bool(CKA_ENCRYPT, false)
                .bool(CKA_DECRYPT, false)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true),
        ),
        "KEK",
    );
    let kw = Mech::new(CKM_AES_KEY_WRAP);
    let salsa_k = ok(
        s.create(
            secret(CKK_SALSA20, &[8; 32])
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_WRAP, false)
                .bool(CKA_UNWRAP, false)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false),
        ),
        "Salsa20 key",
    );
    let wrapped = ok(s.wrap(&kw, kek, salsa_k), "wrap Salsa20 key");
    assert_eq!(wrapped.len(), 40);
    let back = ok(
        s.unwrap(
            &kw,
            kek,
            &wrapped,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_SALSA20)
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCRYPT, true),
        ),
        "unwrap Salsa20 key",
    );
    let mech = salsa(3, &[1; 8]);
    assert_eq!(
        ok(s.encrypt_once(&mech, back, b"same stream"), "unwrapped"),
        ok(s.encrypt_once(&mech, salsa_k, b"same stream"), "original")
    );
    let poly_k = ok(
        s.create(
            secret(CKK_POLY1305, &[9; 32])
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false),
        ),
        "Poly1305 key",
    );
    let wrapped = ok(s.wrap(&kw, kek, poly_k), "wrap Poly1305 key");
    let back = ok(
        s.unwrap(
            &kw,
            kek,
            &wrapped,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_POLY1305)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true),
        ),
        "unwrap Poly1305 key",
    );
    let p = Mech::new(CKM_POLY1305);
    assert_eq!(
        ok(s.sign_once(&p, back, b"m"), "unwrapped"),
        ok(s.sign_once(&p, poly_k, b"m"), "original")
    );
}

/// libsodium's crypto_aead_chacha20poly1305_encrypt (the original
/// construction) over the §2.8.2 key, AAD and text with nonce 4041…47
/// (PyNaCl 1.6.2), for when PyNaCl is not installed.
const ORIG_SEALED: &str = "a479cb54628946d6f4042a8e384ef4bd2fbc7330b8be55eb2d8dc18aaa51d66a\
                           8ec1f8d3619a258db0ac56956015b7b4937e9b8e6aa957b3dc0214d803d77660\
                           aabc913092971da8f207171ce7843608162e2e759d8efc25d8d0936990af63c8\
                           20ba87e8a955b5c8274ef7d10f6fafd046470f54ae6c8d92023fbb151b4206ee\
                           8e95";
const K282: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const A282: &str = "50515253c0c1c2c3c4c5c6c7";

#[test]
fn original_chacha20_poly1305() {
    let m = Module::start("");
    let s = m.ready();
    let k = crypt_key(&s, CKK_CHACHA20, &unhex(K282));
    let mech = Mech::chacha20_poly1305(&unhex("4041424344454647"), 64, &unhex(A282));
    let want = unhex(ORIG_SEALED);
    ok(s.encrypt_init(&mech, k), "C_EncryptInit");
    let p = s.encrypt_protocol(P242, want.len());
    assert_eq!(p.short, Some((CKR_BUFFER_TOO_SMALL, want.len())));
    assert_protocol(&p, &want, "C_Encrypt");
    assert_eq!(
        ok(s.encrypt_parts(&mech, k, P242, &[1, 16, 17]), "parts"),
        want
    );
    assert_eq!(ok(s.decrypt_once(&mech, k, &want), "C_Decrypt"), P242);
    assert_eq!(
        ok(s.decrypt_parts(&mech, k, &want, &[7, 64]), "parts"),
        P242
    );
    // Altered text or tag: nothing comes out (as the 96-bit form).
    for i in [0, 60, want.len() - 1] {
        let mut bad = want.clone();
        bad[i] ^= 0x40;
        err(
            s.decrypt_once(&mech, k, &bad),
            CKR_ENCRYPTED_DATA_INVALID,
            "altered",
        );
    }
    err(
        s.decrypt_once(&mech, k, &want[..15]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "short",
    );
    // The ciphertext is raw ChaCha20 (64/64) from block 1.
    let raw = ok(
        s.encrypt_once(
            &chacha(&1u64.to_le_bytes(), &unhex("4041424344454647")),
            k,
            P242,
        ),
        "CKM_CHACHA20",
    );
    assert_eq!(raw, want[..P242.len()]);
}

/// Runs tests/interop/nacl_chacha.py; `None` when PyNaCl is missing,
/// which fails under CI=true.
fn nacl(args: &[&str]) -> Option<Vec<u8>> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = common::cross_check::run_script("nacl_chacha.py", &args, "python3 with PyNaCl")?;
    assert!(
        out.status.success(),
        "nacl_chacha.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(unhex(String::from_utf8_lossy(&out.stdout).trim()))
}

fn h(b: &[u8]) -> String {
    if b.is_empty() {
        "-".into()
    } else {
        common::hex(b)
    }
}

/// Cross-checks with libsodium (PyNaCl): the original ChaCha20-Poly1305
/// both ways, over lengths around the MAC and keystream blocks; raw
/// XChaCha20 against libsodium's XChaCha20-Poly1305 ciphertext (the
/// stream from block 1); raw XSalsa20 against crypto_secretbox (the
/// stream from byte 32 of block 0).
#[test]
fn libsodium_cross_check() {
    let m = Module::start("");
    let s = m.ready();
    let key: Vec<u8> = (0..32).map(|i| 0xa0 ^ i).collect();
    let k = crypt_key(&s, CKK_CHACHA20, &key);
    let n8 = unhex("0102030405060708");
    for (aad_len, len) in [
        (0, 0),
        (0, 1),
        (1, 15),
        (13, 16),
        (16, 17),
        (17, 64),
        (3, 200),
    ] {
        let aad: Vec<u8> = (0..aad_len).map(|i| i as u8).collect();
        let msg: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let Some(theirs) = nacl(&["aead", &h(&key), &h(&n8), &h(&aad), &h(&msg)]) else {
            return;
        };
        let mech = Mech::chacha20_poly1305(&n8, 64, &aad);
        assert_eq!(
            ok(s.encrypt_once(&mech, k, &msg), "token"),
            theirs,
            "aad {aad_len} len {len}"
        );
        assert_eq!(ok(s.decrypt_once(&mech, k, &theirs), "token opens"), msg);
    }
    let n24: Vec<u8> = (0..24).map(|i| 0x30 + i).collect();
    let msg: Vec<u8> = (0..150).map(|i| i as u8).collect();
    let Some(theirs) = nacl(&["xaead", &h(&key), &h(&n24), "-", &h(&msg)]) else {
        return;
    };
    let raw = ok(
        s.encrypt_once(&chacha(&1u64.to_le_bytes(), &n24), k, &msg),
        "XChaCha20",
    );
    assert_eq!(raw, theirs[..msg.len()]);
    let sk = crypt_key(&s, CKK_SALSA20, &key);
    let Some(boxed) = nacl(&["secretbox", &h(&key), &h(&n24), &h(&msg)]) else {
        return;
    };
    let mut input = vec![0u8; 32];
    input.extend_from_slice(&msg);
    let raw = ok(s.encrypt_once(&salsa(0, &n24), sk, &input), "XSalsa20");
    assert_eq!(raw[32..], boxed[16..]);
}

/// The message-based calls take the 64-bit nonce too
/// (CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS, ulNonceLen 64): the same
/// ciphertext and tag as libsodium, an altered tag refused with the
/// message API's CKR_AEAD_DECRYPT_FAILED (as for the 96-bit form).
#[test]
fn original_construction_through_the_message_calls() {
    let m = Module::start("");
    let s = m.ready();
    let k = crypt_key(&s, CKK_CHACHA20, &unhex(K282));
    let sealed = unhex(ORIG_SEALED);
    let (want_ct, want_tag) = sealed.split_at(P242.len());
    let mut nonce = unhex("4041424344454647");
    let mut aad = unhex(A282);
    let mut ck = Mech::new(CKM_CHACHA20_POLY1305).ck();
    let rv = |r: CK_RV| if r == CKR_OK { Ok(()) } else { Err(r) };
    ok(
        rv(ck!(s.f, C_MessageEncryptInit(s.h, &mut ck, k))),
        "C_MessageEncryptInit",
    );
    let mut tag = [0u8; 16];
    let mut param = CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS {
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: 64,
        pTag: tag.as_mut_ptr(),
    };
    let plen = ulong(std::mem::size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>());
    let mut data = P242.to_vec();
    let mut out = vec![0u8; data.len()];
    let mut n = ulong(out.len());
    ok(
        rv(ck!(
            s.f,
            C_EncryptMessage(
                s.h,
                (&raw mut param).cast(),
                plen,
                aad.as_mut_ptr(),
                ulong(aad.len()),
                data.as_mut_ptr(),
                ulong(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        )),
        "C_EncryptMessage",
    );
    out.truncate(common::mech::usize_of(n));
    assert_eq!(out, want_ct);
    assert_eq!(tag, want_tag);
    ok(rv(ck!(s.f, C_MessageEncryptFinal(s.h))), "final");
    ok(
        rv(ck!(s.f, C_MessageDecryptInit(s.h, &mut ck, k))),
        "C_MessageDecryptInit",
    );
    for flip in [0u8, 1] {
        let mut tag: Vec<u8> = want_tag.to_vec();
        tag[0] ^= flip;
        let mut param = CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS {
            pNonce: nonce.as_mut_ptr(),
            ulNonceLen: 64,
            pTag: tag.as_mut_ptr(),
        };
        let mut data = want_ct.to_vec();
        let mut out = vec![0u8; data.len()];
        let mut n = ulong(out.len());
        let r = ck!(
            s.f,
            C_DecryptMessage(
                s.h,
                (&raw mut param).cast(),
                plen,
                aad.as_mut_ptr(),
                ulong(aad.len()),
                data.as_mut_ptr(),
                ulong(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        );
        if flip == 0 {
            assert_eq!(r, CKR_OK);
            out.truncate(common::mech::usize_of(n));
            assert_eq!(out, P242);
        } else {
            assert_eq!(r, CKR_AEAD_DECRYPT_FAILED);
        }
    }
    ok(rv(ck!(s.f, C_MessageDecryptFinal(s.h))), "final");
}
