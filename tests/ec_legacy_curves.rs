//! P-192 and P-224 keys and 512-bit RSA public keys through the C ABI:
//! offered where the policy allows them (the compat profile's
//! `min_ec_bits = 192` and `min_rsa_verify_bits = 512`), refused with the
//! rule named in the audit under the default profile. Known answers: NIST
//! FIPS 186 SigGen and RFC 6979 (ECDSA), NIST CAVS KAS ECC CDH (ECDH), and
//! a 512-bit self-signed certificate (SHA1_RSA_PKCS, the one
//! python-pkcs11's test_x509.py verifies).

#[macro_use]
mod common;

use common::lifecycle::*;
use common::mech::{Mech, der_octets, printable};
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;
use sha2::Digest as _;

const COMPAT: &str = "[policy]\nprofile = \"compat\"\n";

/// DER OIDs of the two curves (CKA_EC_PARAMS).
const P192: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
const P224: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
/// secp256k1 (1.3.132.0.10): well formed, not offered.
const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// Hex with any whitespace (vectors are wrapped as their sources print
/// them).
fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    common::unhex(&s)
}

fn ec_public(params: &[u8], point: &[u8]) -> Tmpl {
    ec_public_on(params, point, false)
}

fn ec_public_on(params: &[u8], point: &[u8], token: bool) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, params)
        .bytes(CKA_EC_POINT, &der_octets(point))
        .bool(CKA_TOKEN, token)
        .bool(CKA_VERIFY, true)
}

fn ec_private(params: &[u8], value: &[u8]) -> Tmpl {
    ec_private_on(params, value, false)
}

fn ec_private_on(params: &[u8], value: &[u8], token: bool) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, params)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, token)
        .bool(CKA_SIGN, true)
        .bool(CKA_DERIVE, true)
}

/// FIPS 186-2 SigGen, P-192 with SHA-1, first vector (NIST CAVP
/// 186-2ecdsatestvectors.zip, SigGen.txt): Q, the SHA-1 of Msg left-padded
/// to 24 bytes, and (R, S).
const P192_Q: &str = "04 14f69738599689f5706ab71343becc886ef1569a2d1137fe
                         0cf5a433909e33217fb4df6b9593f71d43fb1c2a5653b763";
const P192_M: &str = "000000005c8190e87adb631bb5537f3f5f478888bd002ff5";
const P192_RS: &str = "af1f749e3df6220ff04efd178618a977e0838b1b9dc126e3
                       8990a04c6cc0ff26264ecf8f7831381a9dbc6e53cc8cc860";

/// FIPS 186-4 SigGen, P-224 with SHA-224, first vector (NIST CAVP
/// 186-4ecdsatestvectors.zip, SigGen.txt): Q, SHA-224(Msg), (R, S).
const P224_Q: &str = "04 605495756e6e88f1d07ae5f98787af9b4da8a641d1a9492a12174eab
                         f5cc733b17decc806ef1df861a42505d0af9ef7c3df3959b8dfc6669";
const P224_M: &str = "07eb2a50bf70eee87467600614a490e7600437d077ec651a27e65e67";
const P224_RS: &str = "2fc2cff8cdd4866b1d74e45b07d333af46b7af0888049d0fdbc7b0d6
                       8d9cc4c8ea93e0fd9d6431b9a1fd99b88f281793396321b11dac41eb";

/// RFC 6979 A.2.3 (P-192) and A.2.4 (P-224): private key x, public key
/// (Ux, Uy), and the signature of "sample" with SHA-256 (P-192) and
/// SHA-224 (P-224).
const RFC_P192_X: &str = "6FAB034934E4C0FC9AE67F5B5659A9D7D1FEFD187EE09FD4";
const RFC_P192_U: &str = "04 AC2C77F529F91689FEA0EA5EFEC7F210D8EEA0B9E047ED56
                             3BC723E57670BD4887EBC732C523063D0A7C957BC97C1C43";
const RFC_P192_SHA256: &str = "4B0B8CE98A92866A2820E20AA6B75B56382E0F9BFD5ECB55
                               CCDB006926EA9565CBADC840829D8C384E06DE1F1E381B85";
const RFC_P224_X: &str = "F220266E1105BFE3083E03EC7A3A654651F45E37167E88600BF257C1";
const RFC_P224_U: &str = "04 00CF08DA5AD719E42707FA431292DEA11244D64FC51610D94B130D6C
                             EEAB6F3DEBE455E3DBF85416F7030CBD94F34F2D6F232C69F3C1385A";
const RFC_P224_SHA224: &str = "1CDFE6662DDE1E4A1EC4CDEDF6A1F5A2FB7FBD9145C12113E6ABFD3E
                               A6694FD7718A21053F225D3F46197CA699D45006C06F871808F43EBC";

/// NIST CAVS KAS ECC CDH primitive vectors (ecccdhtestvectors.zip,
/// KAS_ECC_CDH_PrimitiveTest.txt), COUNT = 0: dIUT, QCAVS, ZIUT.
const CDH_P192: (&str, &str, &str) = (
    "f17d3fea367b74d340851ca4270dcb24c271f445bed9d527",
    "04 42ea6dd9969dd2a61fea1aac7f8e98edcc896c6e55857cc0
        dfbe5d7c61fac88b11811bde328e8a0d12bf01a9d204b523",
    "803d8ab2e5b6e6fca715737c3a82f7ce3c783124f6d51cd0",
);
const CDH_P224: (&str, &str, &str) = (
    "8346a60fc6f293ca5a0d2af68ba71d1dd389e5e40837942df3e43cbd",
    "04 af33cd0629bc7e996320a3f40368f74de8704fa37b8fab69abaae280
        882092ccbba7930f419a8a4f9bb16978bbc3838729992559a6f2e2d7",
    "7d96f9a3bd3c05cf5cc37feb8b9d5209d5c2597464dec3e9983743e8",
);

/// The EC mechanisms' ulMinKeySize.
fn ec_floors(s: &Sess) -> [CK_ULONG; 4] {
    [
        CKM_EC_KEY_PAIR_GEN,
        CKM_ECDSA,
        CKM_ECDSA_SHA256,
        CKM_ECDH1_DERIVE,
    ]
    .map(|m| ok(s.mechanism_info(0, m), "C_GetMechanismInfo").ulMinKeySize)
}

/// The default profile: P-192 and P-224 are curves the token does not
/// support, at generation and import alike, each refusal audited with
/// its rule; the mechanism info says 256 (255 for ECDH, X25519's size).
#[test]
fn small_curves_are_refused_under_the_default_profile() {
    let m = Module::start("");
    let s = m.ready();
    assert_eq!(ec_floors(&s), [256, 256, 256, 255]);
    for (params, name) in [(P192, "P-192"), (P224, "P-224")] {
        err(
            ec(&s, params, "small", false, |t| t),
            CKR_CURVE_NOT_SUPPORTED,
            "P-192/P-224 generation under the default profile",
        );
        assert_refusal_audited(
            &m,
            "policy_refusal",
            "CKR_CURVE_NOT_SUPPORTED",
            "min_ec_bits",
        );
        assert!(
            m.last_audit().detail().contains(name),
            "{}",
            m.last_audit().body
        );
    }
    err(
        s.create(ec_public(P192, &h(P192_Q))),
        CKR_CURVE_NOT_SUPPORTED,
        "P-192 public key import",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_CURVE_NOT_SUPPORTED",
        "min_ec_bits",
    );
    err(
        s.create(ec_private(P224, &h(RFC_P224_X))),
        CKR_CURVE_NOT_SUPPORTED,
        "P-224 private key import",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_CURVE_NOT_SUPPORTED",
        "min_ec_bits",
    );
    // A curve the module does not have at all: the same code.
    err(
        ec(&s, SECP256K1, "k1", false, |t| t),
        CKR_CURVE_NOT_SUPPORTED,
        "secp256k1 generation",
    );
    // The P-256 path is untouched.
    ok(
        ec(&s, common::P256_PARAMS, "p256", false, |t| t),
        "P-256 generation",
    );
}

/// The compat profile: both curves by OID and by name, ECDSA known
/// answers through raw CKM_ECDSA and the hashed mechanisms, our own
/// signatures verified, and the length protocol.
#[test]
fn ecdsa_on_small_curves_under_compat() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    assert_eq!(ec_floors(&s), [192, 192, 192, 192]);
    // Still not every curve: secp256k1 is not offered under compat either.
    err(
        ec(&s, SECP256K1, "k1", false, |t| t),
        CKR_CURVE_NOT_SUPPORTED,
        "secp256k1 generation under compat",
    );
    err(
        s.create(ec_public(SECP256K1, &h(P192_Q))),
        CKR_CURVE_NOT_SUPPORTED,
        "secp256k1 import under compat",
    );
    // NIST SigGen vectors: raw ECDSA over the given hash.
    for (params, q, msg_hash, rs) in [
        (P192, P192_Q, P192_M, P192_RS),
        (P224, P224_Q, P224_M, P224_RS),
    ] {
        let k = ok(s.create(ec_public(params, &h(q))), "public key import");
        let rs = h(rs);
        ok(
            s.verify_once(&Mech::new(CKM_ECDSA), k, &h(msg_hash), &rs),
            "NIST vector",
        );
        let mut bad = rs.clone();
        bad[3] ^= 1;
        err(
            s.verify_once(&Mech::new(CKM_ECDSA), k, &h(msg_hash), &bad),
            CKR_SIGNATURE_INVALID,
            "altered signature",
        );
        err(
            s.verify_once(&Mech::new(CKM_ECDSA), k, &h(msg_hash), &rs[1..]),
            CKR_SIGNATURE_LEN_RANGE,
            "short signature",
        );
    }
    // RFC 6979: the named-curve string form, the hashed mechanisms, and
    // the private key that made the signatures.
    let cases = [
        (
            "prime192v1",
            P192,
            RFC_P192_X,
            RFC_P192_U,
            CKM_ECDSA_SHA256,
            RFC_P192_SHA256,
            48,
        ),
        (
            "secp224r1",
            P224,
            RFC_P224_X,
            RFC_P224_U,
            CKM_ECDSA_SHA224,
            RFC_P224_SHA224,
            56,
        ),
    ];
    for (name, oid, x, u, mech, sig, sig_len) in cases {
        let public = ok(
            s.create(ec_public(&printable(name), &h(u))),
            "public key by curve name",
        );
        ok(
            s.verify_once(&Mech::new(mech), public, b"sample", &h(sig)),
            "RFC 6979 signature",
        );
        err(
            s.verify_once(&Mech::new(mech), public, b"sample!", &h(sig)),
            CKR_SIGNATURE_INVALID,
            "RFC 6979 signature over other data",
        );
        let private = ok(s.create(ec_private(oid, &h(x))), "private key import");
        for mech in [mech, CKM_ECDSA_SHA1, CKM_ECDSA_SHA512] {
            let made = ok(s.sign_once(&Mech::new(mech), private, b"sample"), "sign");
            assert_eq!(made.len(), sig_len);
            ok(
                s.verify_once(&Mech::new(mech), public, b"sample", &made),
                "our signature verifies",
            );
        }
        // The length protocol: a NULL query, then a buffer one short.
        ok(s.sign_init(&Mech::new(mech), private), "C_SignInit");
        let mut data = b"sample".to_vec();
        let p = protocol(sig_len, |buf, n| {
            ck!(
                s.f,
                C_Sign(s.h, data.as_mut_ptr(), ulong(data.len()), buf, n)
            )
        });
        assert_eq!(p.queried, sig_len);
        assert_eq!(p.short, Some((CKR_BUFFER_TOO_SMALL, sig_len)));
        ok(
            s.verify_once(&Mech::new(mech), public, b"sample", &p.out),
            "signature after the length protocol",
        );
        // A P-256 signature length on this curve.
        err(
            s.verify_once(&Mech::new(mech), public, b"sample", &[1u8; 64]),
            CKR_SIGNATURE_LEN_RANGE,
            "signature of another curve's size",
        );
    }
    // Generated pairs: CKA_EC_POINT of the right width, sign and verify.
    for (params, width) in [(P192, 24), (P224, 28)] {
        let (public, private) = ok(ec(&s, params, "gen", false, |t| t), "generation");
        let point = point_of(&s, public);
        assert_eq!(point.len(), 1 + 2 * width);
        assert_eq!(point[0], 0x04);
        assert_eq!(s.attr_ok(public, CKA_EC_PARAMS), params);
        let sig = ok(
            s.sign_once(&Mech::new(CKM_ECDSA_SHA256), private, b"x"),
            "sign",
        );
        ok(
            s.verify_once(&Mech::new(CKM_ECDSA_SHA256), public, b"x", &sig),
            "verify",
        );
    }
    // A point that is not on the curve, and a key of the wrong type.
    let mut off = h(P192_Q);
    off[30] ^= 1;
    err(
        s.create(ec_public(P192, &off)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "point off the curve",
    );
    let aes = ok(
        s.create(aes_crypt(&[7; 16]).bool(CKA_SIGN, true)),
        "AES key",
    );
    err(
        s.sign_init(&Mech::new(CKM_ECDSA), aes),
        CKR_KEY_TYPE_INCONSISTENT,
        "ECDSA with an AES key",
    );
}

/// ECDH on P-192 and P-224 under compat: the CAVS vectors with the NULL
/// KDF, a hash KDF over the same Z, and two generated pairs agreeing (the
/// shape of python-pkcs11's test_ecc.py test_derive_key).
#[test]
fn ecdh_on_small_curves_under_compat() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    for (params, (d, qcavs, z)) in [(P192, CDH_P192), (P224, CDH_P224)] {
        let k = ok(s.create(ec_private(params, &h(d))), "dIUT import");
        let z = h(z);
        let null = Mech::ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &h(qcavs));
        let out = ok(
            s.derive(&null, k, readable_secret(CKK_GENERIC_SECRET, None)),
            "ECDH, NULL KDF",
        );
        assert_eq!(s.attr_ok(out, CKA_VALUE), z);
        let cof = Mech::ecdh(
            CKM_ECDH1_COFACTOR_DERIVE,
            CKD_NULL,
            &[],
            &der_octets(&h(qcavs)),
        );
        let out = ok(
            s.derive(&cof, k, readable_secret(CKK_GENERIC_SECRET, None)),
            "cofactor ECDH, DER-wrapped peer point",
        );
        assert_eq!(s.attr_ok(out, CKA_VALUE), z);
        // ANSI X9.63 KDF: SHA-256(Z || 00000001 || SharedInfo).
        let x963 = Mech::ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF, b"shared", &h(qcavs));
        let out = ok(
            s.derive(&x963, k, readable_secret(CKK_GENERIC_SECRET, Some(32))),
            "ECDH, X9.63 SHA-256 KDF",
        );
        let mut input = z.clone();
        input.extend_from_slice(&[0, 0, 0, 1]);
        input.extend_from_slice(b"shared");
        assert_eq!(
            s.attr_ok(out, CKA_VALUE),
            sha2::Sha256::digest(&input).to_vec()
        );
        // A P-256 point is not a peer on this curve.
        let (p256, _) = ok(ec(&s, common::P256_PARAMS, "p", false, |t| t), "P-256");
        let wrong = Mech::ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &point_of(&s, p256));
        err(
            s.derive(&wrong, k, readable_secret(CKK_GENERIC_SECRET, None)),
            CKR_MECHANISM_PARAM_INVALID,
            "peer point of another curve",
        );
    }
    // Two generated P-192 pairs agree on an AES-128 key.
    let pair = || {
        ok(
            ec(&s, P192, "ecdh", false, |t| t.bool(CKA_DERIVE, true)),
            "P-192 pair",
        )
    };
    let (alice_pub, alice) = pair();
    let (bob_pub, bob) = pair();
    let aes = |peer: CK_OBJECT_HANDLE, base: CK_OBJECT_HANDLE| {
        let m = Mech::ecdh(
            CKM_ECDH1_DERIVE,
            CKD_NULL,
            &[],
            &s.attr_ok(peer, CKA_EC_POINT),
        );
        let k = ok(
            s.derive(
                &m,
                base,
                readable_secret(CKK_AES, Some(16))
                    .bool(CKA_ENCRYPT, true)
                    .bool(CKA_DECRYPT, true),
            ),
            "derive AES-128",
        );
        s.attr_ok(k, CKA_VALUE)
    };
    let a = aes(bob_pub, alice);
    assert_eq!(a.len(), 16);
    assert_eq!(a, aes(alice_pub, bob));
}

/// Keys made under compat and then used under the default profile (the
/// configuration tightened): signing and key agreement are refused with
/// CKR_KEY_SIZE_RANGE and the rule in the audit; the mechanism info
/// says 256 again, so verification with the old public key is refused
/// by the mechanism too.
#[test]
fn tightening_the_policy_refuses_existing_small_keys() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    ok(
        s.create(ec_private_on(P224, &h(RFC_P224_X), true)),
        "P-224 token key",
    );
    let public = ok(
        s.create(ec_public_on(P224, &h(RFC_P224_U), true)),
        "P-224 public",
    );
    let sig = h(RFC_P224_SHA224);
    ok(
        s.verify_once(&Mech::new(CKM_ECDSA_SHA224), public, b"sample", &sig),
        "verify under compat",
    );
    let text = std::fs::read_to_string(&m.env.conf).expect("read config");
    std::fs::write(
        &m.env.conf,
        text.replace("profile = \"compat\"", "profile = \"default\""),
    )
    .expect("write config");
    m.restart();
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    let found = |class: CK_OBJECT_CLASS| {
        let v = ok(
            s.find(
                Tmpl::new()
                    .ulong(CKA_CLASS, class)
                    .ulong(CKA_KEY_TYPE, CKK_EC),
            ),
            "C_FindObjects",
        );
        assert_eq!(v.len(), 1);
        v[0]
    };
    let (private, public) = (found(CKO_PRIVATE_KEY), found(CKO_PUBLIC_KEY));
    err(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA224), private),
        CKR_KEY_SIZE_RANGE,
        "P-224 signing under the default profile",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_ec_bits");
    let null = Mech::ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &h(CDH_P224.1));
    err(
        s.derive(&null, private, readable_secret(CKK_GENERIC_SECRET, None)),
        CKR_KEY_SIZE_RANGE,
        "P-224 key agreement under the default profile",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_ec_bits");
    err(
        s.verify_init(&Mech::new(CKM_ECDSA_SHA224), public),
        CKR_KEY_SIZE_RANGE,
        "verification below the mechanism's reported floor",
    );
}

// --- RSA public keys for verification -------------------------------------

/// The 512-bit RSA key and SHA1_RSA_PKCS signature of the self-signed
/// certificate in python-pkcs11 0.10.1's tests/test_x509.py (made with
/// `openssl req -x509 -newkey rsa:512`, 2017): modulus, the DER
/// TBSCertificate, and the signature over it.
const CERT_N: &str = "ae730c98940c8bad75663cb13d8ed8004a8799e65a3738b848cd8ff8b964b438
                      6254660cbe1edaf5acfc63852d5b5324a8faae1e1f8fae57a3a5ffe51ff2f94f";
const CERT_TBS: &str = "308201d5a003020102020900adc13bdae72d977d300d06092a864886f70d010105
    05003045310b3009060355040613024155311330110603550408130a536f6d652d53746174653121301f
    060355040a1318496e7465726e6574205769646769747320507479204c7464301e170d31373036303230
    32343833325a170d3138303630323032343833325a3045310b3009060355040613024155311330110603
    550408130a536f6d652d53746174653121301f060355040a1318496e7465726e65742057696467697473
    20507479204c7464305c300d06092a864886f70d0101010500034b003048024100ae730c98940c8bad75
    663cb13d8ed8004a8799e65a3738b848cd8ff8b964b4386254660cbe1edaf5acfc63852d5b5324a8faae
    1e1f8fae57a3a5ffe51ff2f94f0203010001a381a73081a4301d0603551d0e04160414f9c1b6e343f3cf
    4cba8a0b66867935fb5285bfa830750603551d23046e306c8014f9c1b6e343f3cf4cba8a0b66867935fb
    5285bfa8a149a4473045310b3009060355040613024155311330110603550408130a536f6d652d537461
    74653121301f060355040a1318496e7465726e6574205769646769747320507479204c7464820900adc1
    3bdae72d977d300c0603551d13040530030101ff";
const CERT_SIG: &str = "39dbcc28bac814e605dda54b1a16ab635f7a85e3b47e7766dfdb190172783c8b
                        719f6f03cad1c4740a25b64b1f2760ecdd702342a7292397816e122837d0a4c6";

/// The certificate's public key as python-pkcs11's decode_x509_public_key
/// makes it: CKA_ENCRYPT, CKA_VERIFY and CKA_WRAP all true.
fn cert_key() -> Tmpl {
    rsa_public(&h(CERT_N))
}

fn rsa_public(modulus: &[u8]) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_RSA)
        .bytes(CKA_MODULUS, modulus)
        .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
        .bool(CKA_TOKEN, false)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_VERIFY, true)
        .bool(CKA_WRAP, true)
        .bool(CKA_VERIFY_RECOVER, true)
}

fn rsa_floors(s: &Sess) -> [CK_ULONG; 4] {
    [
        CKM_SHA1_RSA_PKCS,
        CKM_RSA_PKCS,
        CKM_RSA_PKCS_OAEP,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
    ]
    .map(|m| ok(s.mechanism_info(0, m), "C_GetMechanismInfo").ulMinKeySize)
}

fn verify_recover(s: &Sess, k: CK_OBJECT_HANDLE, sig: &[u8]) -> Rv<Vec<u8>> {
    let mut ck = Mech::new(CKM_RSA_PKCS).ck();
    let r = ck!(s.f, C_VerifyRecoverInit(s.h, &mut ck, k));
    if r != CKR_OK {
        return Err(r);
    }
    let mut d = sig.to_vec();
    let mut out = vec![0u8; 256];
    let mut n = ulong(out.len());
    let r = ck!(
        s.f,
        C_VerifyRecover(
            s.h,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n
        )
    );
    if r != CKR_OK {
        return Err(r);
    }
    out.truncate(usize_of(n));
    Ok(out)
}

/// Under compat: the 512-bit key imports and verifies the certificate
/// (C_Verify and C_VerifyRecover), and nothing else: encryption and
/// wrapping with it are CKR_KEY_SIZE_RANGE (wrapping:
/// CKR_WRAPPING_KEY_SIZE_RANGE) with the rule audited; no private key or
/// generated key goes below min_rsa_bits. The verifying mechanisms report
/// 512 as their floor, the others keep min_rsa_bits (1024).
#[test]
fn rsa_512_public_keys_verify_only_under_compat() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    assert_eq!(rsa_floors(&s), [512, 512, 1024, 1024]);
    let k = ok(s.create(cert_key()), "512-bit public key import");
    let tbs = h(CERT_TBS);
    let sig = h(CERT_SIG);
    ok(
        s.verify_once(&Mech::new(CKM_SHA1_RSA_PKCS), k, &tbs, &sig),
        "the certificate's signature",
    );
    let mut other = tbs.clone();
    other[40] ^= 1;
    err(
        s.verify_once(&Mech::new(CKM_SHA1_RSA_PKCS), k, &other, &sig),
        CKR_SIGNATURE_INVALID,
        "another TBSCertificate",
    );
    err(
        s.verify_once(&Mech::new(CKM_SHA1_RSA_PKCS), k, &tbs, &sig[1..]),
        CKR_SIGNATURE_LEN_RANGE,
        "short signature",
    );
    // C_VerifyRecover gives back the DigestInfo of SHA-1(TBSCertificate).
    let mut digest_info = h("3021300906052b0e03021a05000414");
    digest_info.extend_from_slice(&sha1::Sha1::digest(&tbs));
    assert_eq!(
        ok(verify_recover(&s, k, &sig), "C_VerifyRecover"),
        digest_info
    );
    // Never encryption or wrapping.
    err(
        s.encrypt_init(&Mech::new(CKM_RSA_PKCS), k),
        CKR_KEY_SIZE_RANGE,
        "C_EncryptInit with the 512-bit key",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_rsa_bits");
    let secret = ok(
        s.create(readable_secret(CKK_AES, None).bytes(CKA_VALUE, &[3; 16])),
        "AES key to wrap",
    );
    err(
        s.wrap(&Mech::new(CKM_RSA_PKCS), k, secret),
        CKR_WRAPPING_KEY_SIZE_RANGE,
        "C_WrapKey with the 512-bit key",
    );
    // The audit records the policy's own code; the caller gets the
    // wrapping key's.
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_rsa_bits");
    // Below the verification floor, and private keys below min_rsa_bits.
    err(
        s.create(rsa_public(&h(CERT_N)[1..])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "504-bit public key",
    );
    err(
        rsa(&s, 512, Tmpl::new().bool(CKA_SIGN, true)),
        CKR_KEY_SIZE_RANGE,
        "RSA-512 generation",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_rsa_bits");
    // A 1024-bit pair still signs and verifies with the same mechanism.
    let (public, private) = ok(rsa(&s, 1024, Tmpl::new().bool(CKA_SIGN, true)), "RSA-1024");
    let sig = ok(
        s.sign_once(&Mech::new(CKM_SHA1_RSA_PKCS), private, &tbs),
        "RSA-1024 sign",
    );
    ok(
        s.verify_once(&Mech::new(CKM_SHA1_RSA_PKCS), public, &tbs, &sig),
        "RSA-1024 verify",
    );
}

/// Under the default profile nothing changes: the key is an attribute
/// value the token refuses, with the rule audited, and the verifying
/// mechanisms report min_rsa_bits (2048).
#[test]
fn rsa_512_public_keys_are_refused_under_the_default_profile() {
    let m = Module::start("");
    let s = m.ready();
    assert_eq!(rsa_floors(&s), [2048, 2048, 2048, 2048]);
    err(
        s.create(cert_key()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "512-bit public key import",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_ATTRIBUTE_VALUE_INVALID",
        "min_rsa_bits",
    );
    // min_rsa_verify_bits alone lowers the verification floor.
    drop(m);
    let m = Module::start("[policy]\nmin_rsa_bits = 1024\nmin_rsa_verify_bits = 512\n");
    let s = m.ready();
    assert_eq!(rsa_floors(&s), [512, 512, 1024, 1024]);
    let k = ok(
        s.create(cert_key()),
        "512-bit key with min_rsa_verify_bits = 512",
    );
    ok(
        s.verify_once(&Mech::new(CKM_SHA1_RSA_PKCS), k, &h(CERT_TBS), &h(CERT_SIG)),
        "the certificate's signature",
    );
}
