//! Ed448 / Ed448ph (RFC 8032 §5.2) and X448 (RFC 7748) through the
//! module's C ABI: the RFC known answers from imported keys, key pair
//! generation on both CKA_EC_PARAMS forms, the length protocol, PKCS#8
//! wrapping, the refusals (wrong key types, bad parameters),
//! the mechanism table, and a cross-check with pyca/cryptography.

#[macro_use]
mod common;

use common::mech::{Mech, der_octets, printable, ulong};
use common::ops::*;
use common::raw::*;
use common::{P256_PARAMS, TestEnv, hex, unhex};
use cryptoki_sys::*;

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

/// DER OBJECT IDENTIFIER 1.3.101.113 (id-Ed448, RFC 8410).
const ED448_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
/// DER OBJECT IDENTIFIER 1.3.101.111 (id-X448, RFC 8410).
const X448_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6f];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// One RFC 8032 test vector: secret key, public key, message, context,
/// signature (hex).
struct Vector {
    secret: &'static str,
    public: &'static str,
    msg: &'static str,
    ctx: &'static str,
    sig: &'static str,
}

/// RFC 8032 §7.4 (Ed448): "-----blank", "1 octet", "1 octet (with
/// context)" and "256 octets" would do; the first three and the 11-octet
/// one are here (hex copied from the RFC).
const ED448: [Vector; 4] = [
    Vector {
        secret: "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3\
                 528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
        public: "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778\
                 edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
        msg: "",
        ctx: "",
        sig: "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f\
              2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a\
              9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db\
              b61149f05a7363268c71d95808ff2e652600",
    },
    Vector {
        secret: "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a\
                 fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
        public: "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c086\
                 6aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
        msg: "03",
        ctx: "",
        sig: "26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd0087810f435\
              2541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e0dbcc0aae1cb\
              cee1afb2e027df36bc04dcecbf154336c19f0af7e0a6472905e799f1953d2a0f\
              f3348ab21aa4adafd1d234441cf807c03a00",
    },
    Vector {
        secret: "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a\
                 fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
        public: "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c086\
                 6aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
        msg: "03",
        ctx: "666f6f",
        sig: "d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2\
              151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da\
              1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d\
              5428407e85dcbc98a49155c13764e66c3c00",
    },
    Vector {
        secret: "cd23d24f714274e744343237b93290f511f6425f98e64459ff203e8985083ffd\
                 f60500553abc0e05cd02184bdb89c4ccd67e187951267eb328",
        public: "dcea9e78f35a1bf3499a831b10b86c90aac01cd84b67a0109b55a36e9328b1e3\
                 65fce161d71ce7131a543ea4cb5f7e9f1d8b00696447001400",
        msg: "0c3e544074ec63b0265e0c",
        ctx: "",
        sig: "1f0a8888ce25e8d458a21130879b840a9089d999aaba039eaf3e3afa090a09d3\
              89dba82c4ff2ae8ac5cdfb7c55e94d5d961a29fe0109941e00b8dbdeea6d3b05\
              1068df7254c0cdc129cbe62db2dc957dbb47b51fd3f213fb8698f064774250a5\
              028961c9bf8ffd973fe5d5c206492b140e00",
    },
];

/// RFC 8032 §7.5 (Ed448ph, message "abc"), without and with the context
/// "foo".
const ED448PH: [Vector; 2] = [
    Vector {
        secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42\
                 ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49",
        public: "259b71c19f83ef77a7abd26524cbdb3161b590a48f7d17de3ee0ba9c52beb743\
                 c09428a131d6b1b57303d90d8132c276d5ed3d5d01c0f53880",
        msg: "616263",
        ctx: "",
        sig: "822f6901f7480f3d5f562c592994d9693602875614483256505600bbc281ae38\
              1f54d6bce2ea911574932f52a4e6cadd78769375ec3ffd1b801a0d9b3f4030cd\
              433964b6457ea39476511214f97469b57dd32dbc560a9a94d00bff07620464a3\
              ad203df7dc7ce360c3cd3696d9d9fab90f00",
    },
    Vector {
        secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42\
                 ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49",
        public: "259b71c19f83ef77a7abd26524cbdb3161b590a48f7d17de3ee0ba9c52beb743\
                 c09428a131d6b1b57303d90d8132c276d5ed3d5d01c0f53880",
        msg: "616263",
        ctx: "666f6f",
        sig: "c32299d46ec8ff02b54540982814dce9a05812f81962b649d528095916a2aa48\
              1065b1580423ef927ecf0af5888f90da0f6a9a85ad5dc3f280d91224ba9911a3\
              653d00e484e2ce232521481c8658df304bb7745a73514cdb9bf3e15784ab7128\
              4f8d0704a608c54a6b62d97beb511d132100",
    },
];

fn import_private(s: &Sess, params: &[u8], seed: &[u8]) -> Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .bytes(CKA_EC_PARAMS, params)
            .bytes(CKA_VALUE, seed)
            .bool(CKA_TOKEN, false)
            .bool(CKA_SIGN, true),
    )
}

fn import_public(s: &Sess, params: &[u8], point: &[u8]) -> Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .bytes(CKA_EC_PARAMS, params)
            .bytes(CKA_EC_POINT, point)
            .bool(CKA_TOKEN, false)
            .bool(CKA_VERIFY, true),
    )
}

/// CKM_EDDSA with CK_EDDSA_PARAMS, as python-pkcs11 passes it.
fn eddsa(prehash: bool, ctx: &[u8]) -> Mech {
    Mech::eddsa(prehash, ctx)
}

/// Signs in one part and in three; both must give `want`; it verifies in
/// one part and in parts, and a flipped bit does not.
fn check_vector(s: &Sess, v: &Vector, prehash: bool) {
    let (seed, public, msg, ctx) = (unhex(v.secret), unhex(v.public), unhex(v.msg), unhex(v.ctx));
    let m = eddsa(prehash, &ctx);
    for params in [ED448_OID.to_vec(), printable("edwards448")] {
        let privk = ok(
            import_private(s, &params, &seed),
            "import the RFC secret key",
        );
        // The public key both ways CKA_EC_POINT is read.
        let pub_der = ok(import_public(s, &params, &der_octets(&public)), "DER point");
        let pub_raw = ok(import_public(s, &params, &public), "raw point");
        assert_eq!(
            hex(&s.attr_ok(privk, CKA_EC_POINT)),
            hex(&der_octets(&public)),
            "the private key's public half is the RFC's"
        );
        let sig = ok(s.sign_once(&m, privk, &msg), "C_Sign");
        assert_eq!(hex(&sig), v.sig.replace(char::is_whitespace, ""));
        ok(s.sign_init(&m, privk), "C_SignInit");
        for part in [&msg[..msg.len() / 2], &[][..], &msg[msg.len() / 2..]] {
            ok(s.sign_update(part), "C_SignUpdate");
        }
        assert_eq!(ok(s.sign_final(), "C_SignFinal"), sig, "multi-part sign");
        for k in [pub_der, pub_raw] {
            ok(s.verify_once(&m, k, &msg, &sig), "C_Verify");
            ok(s.verify_init(&m, k), "C_VerifyInit");
            for part in msg.chunks(1) {
                ok(s.verify_update(part), "C_VerifyUpdate");
            }
            ok(s.verify_final(&sig), "C_VerifyFinal");
            for bit in [0, 8 * 57 + 3, 8 * 113 - 9] {
                let mut bad = sig.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                err(
                    s.verify_once(&m, k, &msg, &bad),
                    CKR_SIGNATURE_INVALID,
                    "a flipped bit",
                );
            }
            // The other variant, or another context, is another signature.
            let other = eddsa(!prehash, &ctx);
            err(
                s.verify_once(&other, k, &msg, &sig),
                CKR_SIGNATURE_INVALID,
                "variant",
            );
            let other = eddsa(prehash, b"bar");
            err(
                s.verify_once(&other, k, &msg, &sig),
                CKR_SIGNATURE_INVALID,
                "context",
            );
        }
    }
}

#[test]
fn ed448_rfc8032_known_answers() {
    let (_env, _init, s) = setup();
    for v in &ED448 {
        check_vector(&s, v, false);
    }
    // Without a parameter: pure Ed448 with an empty context (the spec's
    // table asks for CK_EDDSA_PARAMS; RFC 8410 keys imply pure mode).
    let v = &ED448[1];
    let privk = ok(import_private(&s, ED448_OID, &unhex(v.secret)), "import");
    let sig = ok(
        s.sign_once(&Mech::new(CKM_EDDSA), privk, &unhex(v.msg)),
        "CKM_EDDSA without a parameter",
    );
    assert_eq!(hex(&sig), v.sig.replace(char::is_whitespace, ""));
}

#[test]
fn ed448ph_rfc8032_known_answers() {
    let (_env, _init, s) = setup();
    for v in &ED448PH {
        check_vector(&s, v, true);
    }
}

/// Key pair generation on both CKA_EC_PARAMS forms; CKA_EC_POINT is a DER
/// OCTET STRING of the 57-byte key, as for Ed25519; the length protocol of
/// C_Sign; the private seed is not readable.
#[test]
fn ed448_key_pair_generation_and_length_protocol() {
    let (_env, _init, s) = setup();
    for params in [ED448_OID.to_vec(), printable("edwards448")] {
        let (pubk, privk) = ec_pair(
            &s,
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            &params,
            |t| t.bool(CKA_VERIFY, true),
            |t| t.bool(CKA_SIGN, true),
        );
        assert_eq!(s.attr_ulong(privk, CKA_KEY_TYPE), CKK_EC_EDWARDS);
        assert_eq!(s.attr_ok(privk, CKA_EC_PARAMS), params);
        let der = s.attr_ok(pubk, CKA_EC_POINT);
        assert_eq!(der.len(), 59);
        assert_eq!(&der[..2], &[0x04, 0x39]);
        let spki = s.attr_ok(pubk, CKA_PUBLIC_KEY_INFO);
        assert_eq!(hex(&spki[..12]), "3043300506032b6571033a00");
        assert_eq!(&spki[12..], &der[2..]);
        err(
            s.attr(privk, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
            "the seed of a sensitive key",
        );

        let m = eddsa(false, b"");
        let msg = b"Keyward signs with Ed448".to_vec();
        ok(s.sign_init(&m, privk), "C_SignInit");
        let mut d = msg.clone();
        let pr = protocol(114, |o, len| {
            ck!(s.f, C_Sign(s.h, d.as_mut_ptr(), ulong(d.len()), o, len))
        });
        assert_eq!(pr.queried, 114);
        assert_eq!(pr.short, Some((CKR_BUFFER_TOO_SMALL, 114)));
        ok(s.verify_once(&m, pubk, &msg, &pr.out), "C_Verify");
        err(
            s.verify_once(&m, pubk, &msg, &pr.out[..113]),
            CKR_SIGNATURE_LEN_RANGE,
            "113-byte signature",
        );
        let mut long = pr.out.clone();
        long.push(0);
        err(
            s.verify_once(&m, pubk, &msg, &long),
            CKR_SIGNATURE_LEN_RANGE,
            "115-byte signature",
        );
    }
}

/// The refusals: a context over 255 bytes, the wrong key types each way,
/// malformed key values; and Ed25519ctx (a context without prehash on an
/// Ed25519 key) never comes out as a plain Ed25519 signature.
#[test]
fn ed448_refusals() {
    let (_env, _init, s) = setup();
    let v = &ED448[0];
    let privk = ok(import_private(&s, ED448_OID, &unhex(v.secret)), "import");
    let pubk = ok(import_public(&s, ED448_OID, &unhex(v.public)), "import");
    for prehash in [false, true] {
        err(
            s.sign_init(&eddsa(prehash, &[7; 256]), privk),
            CKR_MECHANISM_PARAM_INVALID,
            "a 256-byte context",
        );
        err(
            s.verify_init(&eddsa(prehash, &[7; 256]), pubk),
            CKR_MECHANISM_PARAM_INVALID,
            "a 256-byte context",
        );
    }
    ok(
        s.sign_init(&eddsa(false, &[7; 255]), privk),
        "a 255-byte context",
    );
    ok(s.sign(b"m"), "and it signs");
    // A public key has no CKA_SIGN (a private key no CKA_VERIFY): the
    // function check answers first.
    err(
        s.sign_init(&eddsa(false, b""), pubk),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "public key signs",
    );
    err(
        s.verify_init(&eddsa(false, b""), privk),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "private verifies",
    );
    err(
        s.sign_init(&Mech::new(CKM_ECDSA), privk),
        CKR_KEY_TYPE_INCONSISTENT,
        "ECDSA with an Ed448 key",
    );
    let (_, p256) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P256_PARAMS,
        |t| t,
        |t| t.bool(CKA_SIGN, true),
    );
    err(
        s.sign_init(&eddsa(false, b""), p256),
        CKR_KEY_TYPE_INCONSISTENT,
        "EdDSA with P-256",
    );
    let (_, x448) = ec_pair(
        &s,
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        X448_OID,
        |t| t,
        |t| t.bool(CKA_DERIVE, true).bool(CKA_SIGN, true),
    );
    err(
        s.sign_init(&eddsa(false, b""), x448),
        CKR_KEY_TYPE_INCONSISTENT,
        "EdDSA with X448",
    );

    // Wrong lengths and wrong curves in the key attributes.
    let seed = unhex(v.secret);
    for (params, value) in [
        (ED448_OID, &seed[..56]),
        (ED25519_OID, &seed[..]),
        (X448_OID, &seed[..]),
    ] {
        err(
            import_private(&s, params, value),
            CKR_ATTRIBUTE_VALUE_INVALID,
            "bad private key",
        );
    }
    let point = unhex(v.public);
    err(
        import_public(&s, ED448_OID, &point[..56]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "56 bytes",
    );
    err(
        import_public(&s, ED448_OID, &[0u8; 57]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "not a point",
    );
    // Edwards key generation on curve448 (a Montgomery curve).
    err(
        s.generate_pair(
            &Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN),
            Tmpl::new()
                .bytes(CKA_EC_PARAMS, X448_OID)
                .bool(CKA_TOKEN, false),
            Tmpl::new().bool(CKA_TOKEN, false),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "Edwards pair on curve448",
    );

    // Ed25519ctx: a signature with the context (edwards_sha3_cmac.rs has
    // its RFC 8032 vector), never a context-less one.
    let ed25519 = ok(
        import_private(
            &s,
            ED25519_OID,
            &unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
        ),
        "Ed25519 key",
    );
    ok(s.sign_init(&eddsa(false, b"foo"), ed25519), "Ed25519ctx");
    let with_ctx = ok(s.sign(b""), "C_Sign");
    ok(
        s.sign_init(&eddsa(false, b""), ed25519),
        "pure Ed25519 still signs",
    );
    let pure = ok(s.sign(b""), "C_Sign");
    assert_eq!((with_ctx.len(), pure.len()), (64, 64));
    assert_ne!(with_ctx, pure, "the context is signed");
}

/// CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA and CKM_EC_MONTGOMERY_KEY_PAIR_GEN
/// cover 255 (Ed25519/X25519) to 448 bits (Ed448/X448).
#[test]
fn mechanism_info_sizes() {
    let (_env, _init, s) = setup();
    for m in [
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_EDDSA,
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    ] {
        let info = ok(s.mechanism_info(0, m), "C_GetMechanismInfo");
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (255, 448), "{m:#x}");
    }
    let info = ok(s.mechanism_info(0, CKM_ECDH1_DERIVE), "C_GetMechanismInfo");
    assert!(info.ulMinKeySize <= 448 && info.ulMaxKeySize >= 448);
}

/// PKCS#8 (RFC 8410, version 1) out of C_WrapKey and back through
/// C_UnwrapKey: the unwrapped key signs the same.
#[test]
fn ed448_and_x448_pkcs8_wrap_and_unwrap() {
    let (_env, _init, s) = setup();
    let kek_value = [0x42u8; 32];
    let kek = ok(
        s.create(
            secret(CKK_AES, &kek_value)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true),
        ),
        "KEK",
    );
    let same = ok(s.create(aes_crypt(&kek_value)), "the KEK to decrypt");
    let kwp = Mech::new(CKM_AES_KEY_WRAP_KWP);
    let v = &ED448[1];
    let seed = unhex(v.secret);
    let x_scalar = unhex(X_ALICE_PRIV);
    for (key_type, params, value, prefix) in [
        (
            CKK_EC_EDWARDS,
            ED448_OID,
            &seed,
            "3047020100300506032b6571043b0439",
        ),
        (
            CKK_EC_MONTGOMERY,
            X448_OID,
            &x_scalar,
            "3046020100300506032b656f043a0438",
        ),
    ] {
        let key = ok(
            s.create(
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                    .ulong(CKA_KEY_TYPE, key_type)
                    .bytes(CKA_EC_PARAMS, params)
                    .bytes(CKA_VALUE, value)
                    .bool(CKA_EXTRACTABLE, true)
                    .bool(CKA_SENSITIVE, false)
                    .bool(CKA_TOKEN, false),
            ),
            "extractable key",
        );
        let wrapped = ok(s.wrap(&kwp, kek, key), "C_WrapKey");
        let plain = ok(s.decrypt_once(&kwp, same, &wrapped), "decrypt the wrapping");
        assert_eq!(hex(&plain), format!("{prefix}{}", hex(value)));
        let back = ok(
            s.unwrap(
                &kwp,
                kek,
                &wrapped,
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                    .ulong(CKA_KEY_TYPE, key_type)
                    .bool(CKA_TOKEN, false)
                    .bool(CKA_SIGN, key_type == CKK_EC_EDWARDS)
                    .bool(CKA_DERIVE, key_type == CKK_EC_MONTGOMERY),
            ),
            "C_UnwrapKey",
        );
        assert_eq!(s.attr_ok(back, CKA_EC_PARAMS), params);
        assert_eq!(s.attr_ok(back, CKA_EC_POINT), s.attr_ok(key, CKA_EC_POINT));
        if key_type == CKK_EC_EDWARDS {
            let sig = ok(s.sign_once(&eddsa(false, b""), back, &unhex(v.msg)), "sign");
            assert_eq!(hex(&sig), v.sig.replace(char::is_whitespace, ""));
        }
    }
}

// --- X448 ----------------------------------------------------------------------

/// RFC 7748 §6.2: Alice's private key and public key, Bob's public key
/// and the shared secret.
const X_ALICE_PRIV: &str = "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d\
                            d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b";
const X_ALICE_PUB: &str = "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c\
                           22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0";
const X_BOB_PRIV: &str = "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d\
                          6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d";
const X_BOB_PUB: &str = "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430\
                         27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609";
const X_SHARED: &str = "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b\
                        b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d";

fn x448_private(s: &Sess, params: &[u8], scalar: &str) -> CK_OBJECT_HANDLE {
    ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_MONTGOMERY)
                .bytes(CKA_EC_PARAMS, params)
                .bytes(CKA_VALUE, &unhex(scalar))
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true),
        ),
        "import X448 private key",
    )
}

fn ecdh(kdf: CK_EC_KDF_TYPE, shared: &[u8], peer: &[u8]) -> Mech {
    Mech::ecdh(CKM_ECDH1_DERIVE, kdf, shared, peer)
}

fn derive_value(s: &Sess, m: &Mech, base: CK_OBJECT_HANDLE, len: Option<usize>) -> Rv<Vec<u8>> {
    let k = s.derive(m, base, readable_secret(CKK_GENERIC_SECRET, len.map(ulong)))?;
    Ok(s.attr_ok(k, CKA_VALUE))
}

/// RFC 7748 §6.2 through C_DeriveKey (both sides, both peer encodings,
/// both CKA_EC_PARAMS forms); an ANSI X9.63 KDF over the same Z; the
/// small-order peers refused; generated pairs agree.
#[test]
fn x448_rfc7748_and_generated_pairs() {
    let (_env, _init, s) = setup();
    let alice = x448_private(&s, X448_OID, X_ALICE_PRIV);
    let bob = x448_private(&s, &printable("curve448"), X_BOB_PRIV);
    let want = X_SHARED.replace(char::is_whitespace, "");
    for (base, peer) in [(alice, X_BOB_PUB), (bob, X_ALICE_PUB)] {
        let peer = unhex(peer);
        for p in [peer.clone(), der_octets(&peer)] {
            let z = ok(
                derive_value(&s, &ecdh(CKD_NULL, &[], &p), base, None),
                "CKD_NULL",
            );
            assert_eq!(hex(&z), want, "RFC 7748 §6.2");
        }
    }
    assert_eq!(
        hex(&s.attr_ok(alice, CKA_EC_POINT)),
        hex(&der_octets(&unhex(X_ALICE_PUB)))
    );
    // X9.63 with SHA-256 over Z: SHA-256(Z || 00000001 || shared).
    let kdf = ok(
        derive_value(
            &s,
            &ecdh(CKD_SHA256_KDF, b"info", &unhex(X_BOB_PUB)),
            alice,
            Some(32),
        ),
        "CKD_SHA256_KDF",
    );
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, unhex(&want));
    sha2::Digest::update(&mut h, [0, 0, 0, 1]);
    sha2::Digest::update(&mut h, b"info");
    assert_eq!(hex(&kdf), hex(&sha2::Digest::finalize(h)));
    // Small-order peers give an all-zero Z: refused as for X25519.
    let mut one = vec![0u8; 56];
    one[0] = 1;
    for peer in [vec![0u8; 56], one] {
        err(
            derive_value(&s, &ecdh(CKD_NULL, &[], &peer), alice, None),
            CKR_FUNCTION_FAILED,
            "small-order peer",
        );
    }
    err(
        derive_value(&s, &ecdh(CKD_NULL, &[], &[9; 32]), alice, None),
        CKR_MECHANISM_PARAM_INVALID,
        "an X25519-sized peer",
    );

    for params in [X448_OID.to_vec(), printable("curve448")] {
        let (pub_g, priv_g) = ec_pair(
            &s,
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            &params,
            |t| t,
            |t| t.bool(CKA_DERIVE, true),
        );
        assert_eq!(s.attr_ulong(priv_g, CKA_KEY_TYPE), CKK_EC_MONTGOMERY);
        let point = point_of(&s, pub_g);
        assert_eq!(point.len(), 56, "X448 public key");
        let ours = ok(
            derive_value(&s, &ecdh(CKD_NULL, &[], &unhex(X_ALICE_PUB)), priv_g, None),
            "",
        );
        let theirs = ok(
            derive_value(&s, &ecdh(CKD_NULL, &[], &point), alice, None),
            "",
        );
        assert_eq!(hex(&ours), hex(&theirs), "both sides of X448 agree");
    }
}

// --- pyca/cryptography ----------------------------------------------------------

/// Runs tests/interop/ed448_cryptography.py; `None` when pyca/cryptography
/// is not available, which fails under CI=true.
fn python(args: &[String]) -> Option<std::process::Output> {
    common::cross_check::run_script("ed448_cryptography.py", args, "python3 with cryptography")
}

/// A generated Ed448 key's signature verifies in pyca/cryptography (and an
/// altered one does not); an X448 exchange with a key made there gives the
/// same secret on both sides.
#[test]
fn interop_with_pyca_cryptography() {
    let (_env, _init, s) = setup();
    let (pubk, privk) = ec_pair(
        &s,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        ED448_OID,
        |t| t.bool(CKA_VERIFY, true),
        |t| t.bool(CKA_SIGN, true),
    );
    let pk = point_of(&s, pubk);
    let msg = b"interop message for Ed448".to_vec();
    let sig = ok(s.sign_once(&eddsa(false, b""), privk, &msg), "token sign");
    let args = |sig: &[u8]| vec!["verify".to_string(), hex(&pk), hex(&msg), hex(sig)];
    let Some(out) = python(&args(&sig)) else {
        return;
    };
    assert!(
        out.status.success(),
        "cryptography rejects the token's Ed448 signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bad = sig.clone();
    bad[5] ^= 0x10;
    let out = python(&args(&bad)).expect("python ran once already");
    assert_eq!(out.status.code(), Some(1), "an altered signature");

    let (pub_x, priv_x) = ec_pair(
        &s,
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        X448_OID,
        |t| t,
        |t| t.bool(CKA_DERIVE, true),
    );
    let ours = point_of(&s, pub_x);
    let out = python(&["x448".to_string(), hex(&ours)]).expect("python ran once already");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let their_pub = unhex(lines.next().unwrap());
    let their_secret = lines.next().unwrap().to_string();
    let z = ok(
        derive_value(&s, &ecdh(CKD_NULL, &[], &their_pub), priv_x, None),
        "derive",
    );
    assert_eq!(hex(&z), their_secret, "the same X448 secret on both sides");
}

/// The policy names the curves "Ed448" and "X448" in `allowed_curves`:
/// with only Ed448 allowed, Ed448 generates and X448 (or Ed25519) is
/// CKR_CURVE_NOT_SUPPORTED.
#[test]
fn policy_allowed_curves_names_ed448_and_x448() {
    let m = common::lifecycle::Module::start("[policy]\nallowed_curves = [\"Ed448\"]\n");
    let s = m.ready();
    let pair = |mech, params: &[u8]| {
        s.generate_pair(
            &Mech::new(mech),
            Tmpl::new()
                .bytes(CKA_EC_PARAMS, params)
                .bool(CKA_TOKEN, false),
            Tmpl::new().bool(CKA_TOKEN, false),
        )
    };
    ok(
        pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, ED448_OID),
        "Ed448 allowed",
    );
    err(
        pair(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, X448_OID),
        CKR_CURVE_NOT_SUPPORTED,
        "X448 not allowed",
    );
    err(
        pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519_OID),
        CKR_CURVE_NOT_SUPPORTED,
        "Ed25519 not allowed",
    );
}

/// A token Ed448 key keeps its 57-byte seed sealed: the seed is in no
/// store file after C_Finalize, and after a restart the key signs the RFC
/// 8032 §7.4 answer again.
#[test]
fn ed448_token_key_sealed_at_rest() {
    let (env, init, s) = setup();
    let v = &ED448[2];
    let seed = unhex(v.secret);
    ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, ED448_OID)
                .bytes(CKA_VALUE, &seed)
                .bytes(CKA_LABEL, b"ed448-at-rest")
                .bool(CKA_TOKEN, true)
                .bool(CKA_SIGN, true),
        ),
        "token Ed448 key",
    );
    drop(init);
    let files = env.store_files();
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(seed.len()).any(|w| w == seed.as_slice()),
            "the Ed448 seed is in {} in the clear",
            f.display()
        );
    }
    let init = Init::new();
    // Log in again (user_session would re-initialize the token).
    let h = open_session(init.f, true);
    assert_eq!(login(init.f, h, CKU_USER, common::USER_PIN), CKR_OK);
    let s = Sess::new(init.f, h);
    let found = ok(
        s.find(Tmpl::new().bytes(CKA_LABEL, b"ed448-at-rest")),
        "C_FindObjects",
    );
    assert_eq!(found.len(), 1);
    let sig = ok(
        s.sign_once(&eddsa(false, &unhex(v.ctx)), found[0], &unhex(v.msg)),
        "sign after the restart",
    );
    assert_eq!(hex(&sig), v.sig);
}
