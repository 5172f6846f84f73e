//! Finite-field Diffie-Hellman (PKCS #3; PKCS#11 3.x "Diffie-Hellman")
//! through the C ABI: CKK_DH domain parameter objects (C_CreateObject and
//! CKM_DH_PKCS_PARAMETER_GEN), CKM_DH_PKCS_KEY_PAIR_GEN, CKM_DH_PKCS_DERIVE
//! against pyca/cryptography (OpenSSL) and between two token keys, the
//! peer-value checks, and the `min_dh_bits` policy rule.

mod common;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::raw::Tmpl;
use common::{hex, unhex};
use cryptoki_sys::*;

const COMPAT: &str = "[policy]\nprofile = \"compat\"\n";

/// RFC 3526 §3: the 2048-bit MODP group (group 14), generator 2.
const MODP_2048: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

/// RFC 2409 §6.2: the 1024-bit MODP group (Oakley group 2), generator 2.
const MODP_1024: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

fn pair(s: &Sess, p: &[u8], g: &[u8], private: Tmpl) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    s.generate_pair(
        &Mech::new(CKM_DH_PKCS_KEY_PAIR_GEN),
        Tmpl::new()
            .bytes(CKA_PRIME, p)
            .bytes(CKA_BASE, g)
            .bool(CKA_TOKEN, false),
        private.bool(CKA_TOKEN, false).bool(CKA_DERIVE, true),
    )
}

/// A readable derived key of `key_type` (CKA_VALUE_LEN if given).
fn out_template(key_type: CK_KEY_TYPE, len: Option<CK_ULONG>) -> Tmpl {
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true);
    match len {
        Some(n) => t.ulong(CKA_VALUE_LEN, n),
        None => t,
    }
}

fn derive(s: &Sess, base: CK_OBJECT_HANDLE, peer: &[u8], t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    s.derive(&Mech::bytes(CKM_DH_PKCS_DERIVE, peer), base, t)
}

/// Runs tests/interop/ffdh_cryptography.py; `None` when python3 or
/// cryptography is missing (a failure under CI=true).
fn python(args: &[String]) -> Option<std::process::Output> {
    common::cross_check::run_script("ffdh_cryptography.py", args, "python3 with cryptography")
}

#[test]
fn mechanism_info() {
    let m = Module::start("");
    let s = m.ready();
    let list = ok(s.mechanism_list(0), "C_GetMechanismList");
    for (mech, flags, max) in [
        (CKM_DH_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, 8192),
        (CKM_DH_PKCS_PARAMETER_GEN, CKF_GENERATE, 3072),
        (CKM_DH_PKCS_DERIVE, CKF_DERIVE, 8192),
    ] {
        assert!(list.contains(&mech), "{mech:#x} listed");
        let i = ok(s.mechanism_info(0, mech), "C_GetMechanismInfo");
        assert_eq!(i.flags, flags, "{mech:#x}");
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (1024, max), "{mech:#x}");
    }
}

/// Known answer against an independent implementation: OpenSSL (through
/// pyca/cryptography) and the token agree on RFC 3526 group 14; the
/// secret is p's length, a shorter key its trailing bytes.
#[test]
fn agreement_with_pyca_cryptography() {
    let m = Module::start("");
    let s = m.ready();
    let p = unhex(MODP_2048);
    let (public, private) = ok(
        pair(&s, &p, &[2], Tmpl::new()),
        "C_GenerateKeyPair(CKM_DH_PKCS_KEY_PAIR_GEN)",
    );
    let y = s.attr_ok(public, CKA_VALUE);
    assert_eq!(s.attr_ok(private, CKA_PRIME), p);
    assert_eq!(s.attr_ok(private, CKA_BASE), vec![2]);
    assert!(s.attr_bool(private, CKA_DERIVE));
    err(s.attr(private, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE, "x");
    assert!(s.attr_ulong(private, CKA_VALUE_BITS) > 2000);
    let Some(out) = python(&["dh".into(), hex(&p), "2".into(), hex(&y)]) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let theirs = lines.next().unwrap();
    let peer = unhex(&format!(
        "{}{theirs}",
        if theirs.len() % 2 == 1 { "0" } else { "" }
    ));
    let z = unhex(lines.next().unwrap());
    assert_eq!(z.len(), 256);
    let full = ok(
        derive(&s, private, &peer, out_template(CKK_GENERIC_SECRET, None)),
        "C_DeriveKey(CKM_DH_PKCS_DERIVE)",
    );
    assert_eq!(s.attr_ok(full, CKA_VALUE), z, "the whole shared secret");
    let aes = ok(
        derive(&s, private, &peer, out_template(CKK_AES, Some(16))),
        "AES-128 from DH",
    );
    assert_eq!(s.attr_ok(aes, CKA_VALUE), z[240..], "its trailing bytes");
    // An AES key without a length would take the whole 256-byte secret:
    // no AES length (as for ECDH without a KDF).
    err(
        derive(&s, private, &peer, out_template(CKK_AES, None)),
        CKR_TEMPLATE_INCONSISTENT,
        "AES without CKA_VALUE_LEN",
    );
}

/// Domain parameters from C_CreateObject and CKM_DH_PKCS_PARAMETER_GEN;
/// two pairs on them agree; CKA_VALUE_BITS bounds the private value.
#[test]
fn domain_parameters_and_two_parties() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    let p = unhex(MODP_1024);
    let d = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_BASE, &[2])
                .bool(CKA_TOKEN, false),
        ),
        "C_CreateObject(CKK_DH domain parameters)",
    );
    assert_eq!(s.attr_ulong(d, CKA_PRIME_BITS), 1024);
    assert!(!s.attr_bool(d, CKA_LOCAL));
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_BASE, &[1]),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "g = 1",
    );
    // Generated parameters: a 1024-bit (safe) prime, g = 2.
    let t0 = std::time::Instant::now();
    let gen_d = ok(
        s.generate_key(
            &Mech::new(CKM_DH_PKCS_PARAMETER_GEN),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_PRIME_BITS, 1024)
                .bool(CKA_TOKEN, false),
        ),
        "C_GenerateKey(CKM_DH_PKCS_PARAMETER_GEN)",
    );
    eprintln!("1024-bit DH parameters in {:?}", t0.elapsed());
    assert_eq!(s.attr_ulong(gen_d, CKA_KEY_TYPE), CKK_DH);
    assert_eq!(s.attr_ulong(gen_d, CKA_PRIME_BITS), 1024);
    assert!(s.attr_bool(gen_d, CKA_LOCAL));
    let gp = s.attr_ok(gen_d, CKA_PRIME);
    assert_eq!(gp.len(), 128);
    assert_eq!(s.attr_ok(gen_d, CKA_BASE), vec![2]);

    let (a_pub, a_priv) = ok(pair(&s, &gp, &[2], Tmpl::new()), "Alice");
    let (b_pub, b_priv) = ok(
        pair(&s, &gp, &[2], Tmpl::new().ulong(CKA_VALUE_BITS, 256)),
        "Bob, 256-bit x",
    );
    assert_eq!(s.attr_ulong(b_priv, CKA_VALUE_BITS), 256);
    let ya = s.attr_ok(a_pub, CKA_VALUE);
    let yb = s.attr_ok(b_pub, CKA_VALUE);
    assert_ne!(ya, yb);
    let ka = ok(
        derive(&s, a_priv, &yb, out_template(CKK_GENERIC_SECRET, Some(32))),
        "Alice derives",
    );
    let kb = ok(
        derive(&s, b_priv, &ya, out_template(CKK_GENERIC_SECRET, Some(32))),
        "Bob derives",
    );
    assert_eq!(s.attr_ok(ka, CKA_VALUE), s.attr_ok(kb, CKA_VALUE));
    // CKA_VALUE_BITS at or over p's size is refused.
    err(
        pair(&s, &gp, &[2], Tmpl::new().ulong(CKA_VALUE_BITS, 1024)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "CKA_VALUE_BITS = 1024",
    );
    // The private template may repeat the domain parameters, not change
    // them.
    ok(
        pair(&s, &gp, &[2], Tmpl::new().bytes(CKA_PRIME, &gp)),
        "repeated CKA_PRIME",
    );
    err(
        pair(&s, &gp, &[2], Tmpl::new().bytes(CKA_BASE, &[5])),
        CKR_TEMPLATE_INCONSISTENT,
        "contradicting CKA_BASE",
    );
    // Import: a private key rebuilt from its value has the same y.
    let x_key = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_BASE, &[2])
                .bytes(CKA_VALUE, &[3])
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true),
        ),
        "import DH private key x = 3",
    );
    assert_eq!(s.attr_ulong(x_key, CKA_VALUE_BITS), 2);
    // 2^3 = 8: the peer value 8 with x = 3 gives 8^3 = 512.
    let z = ok(
        derive(&s, x_key, &[8], out_template(CKK_GENERIC_SECRET, None)),
        "derive with x = 3",
    );
    let mut want = vec![0u8; 126];
    want.extend([0x02, 0x00]);
    assert_eq!(s.attr_ok(z, CKA_VALUE), want, "512 in p's length");
}

/// Bad peer values and wrong keys.
#[test]
fn refusals() {
    let m = Module::start("");
    let s = m.ready();
    let p = unhex(MODP_2048);
    let (_, private) = ok(pair(&s, &p, &[2], Tmpl::new()), "pair");
    let mut p_minus_1 = p.clone();
    *p_minus_1.last_mut().unwrap() -= 1;
    let mut too_long = vec![1u8];
    too_long.extend(&p);
    for (what, peer) in [
        ("0", vec![0u8]),
        ("1", vec![1]),
        ("p - 1", p_minus_1),
        ("p", p.clone()),
        ("longer than p", too_long),
    ] {
        err(
            derive(
                &s,
                private,
                &peer,
                out_template(CKK_GENERIC_SECRET, Some(16)),
            ),
            CKR_MECHANISM_PARAM_INVALID,
            what,
        );
    }
    err(
        s.derive(
            &Mech::new(CKM_DH_PKCS_DERIVE),
            private,
            out_template(CKK_GENERIC_SECRET, Some(16)),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "no peer value",
    );
    err(
        derive(
            &s,
            private,
            &[5],
            out_template(CKK_GENERIC_SECRET, Some(257)),
        ),
        CKR_KEY_SIZE_RANGE,
        "longer than the secret",
    );
    // An EC key with the DH mechanism, a DH key with ECDH.
    let (_, ec_priv) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        common::P256_PARAMS,
        |t| t,
        |t| t.bool(CKA_DERIVE, true),
    );
    err(
        derive(
            &s,
            ec_priv,
            &[5],
            out_template(CKK_GENERIC_SECRET, Some(16)),
        ),
        CKR_KEY_TYPE_INCONSISTENT,
        "EC key, DH derive",
    );
    err(
        s.derive(
            &Mech::ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &[4; 65]),
            private,
            out_template(CKK_GENERIC_SECRET, Some(16)),
        ),
        CKR_KEY_TYPE_INCONSISTENT,
        "DH key, ECDH",
    );
    // Parameters in the public template are required and checked.
    err(
        s.generate_pair(
            &Mech::new(CKM_DH_PKCS_KEY_PAIR_GEN),
            Tmpl::new().bytes(CKA_PRIME, &p),
            Tmpl::new(),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_BASE",
    );
    // Below the policy's floor: refused as policy before the generator
    // looks at it.
    err(
        pair(&s, &p[..64], &[2], Tmpl::new()),
        CKR_KEY_SIZE_RANGE,
        "512-bit prime",
    );
    err(
        pair(&s, &p, &[1], Tmpl::new()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "g = 1",
    );
    // An odd composite "prime": refused for generation and import.
    let mut composite = p.clone();
    *composite.last_mut().unwrap() -= 2;
    err(
        pair(&s, &composite, &[2], Tmpl::new()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "composite p, generation",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &composite)
                .bytes(CKA_BASE, &[2]),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "composite p, domain parameters",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &composite)
                .bytes(CKA_BASE, &[2])
                .bytes(CKA_VALUE, &[5]),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "composite p, public key",
    );
}

/// The default profile's `min_dh_bits` (2048): a 1024-bit group is
/// refused for generation (CKR_KEY_SIZE_RANGE) and import
/// (CKR_ATTRIBUTE_VALUE_INVALID), each naming the rule; compat takes it.
#[test]
fn min_dh_bits_policy() {
    let m = Module::start("");
    let s = m.ready();
    let p = unhex(MODP_1024);
    err(
        pair(&s, &p, &[2], Tmpl::new()),
        CKR_KEY_SIZE_RANGE,
        "1024-bit pair",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_dh_bits");
    err(
        s.generate_key(
            &Mech::new(CKM_DH_PKCS_PARAMETER_GEN),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_PRIME_BITS, 1024),
        ),
        CKR_KEY_SIZE_RANGE,
        "1024-bit parameters",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_dh_bits");
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_BASE, &[2]),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "1024-bit domain parameters",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_ATTRIBUTE_VALUE_INVALID",
        "min_dh_bits",
    );
    // One module at a time (the test environment is locked).
    drop(m);
    let c = Module::start(COMPAT);
    let cs = c.ready();
    ok(pair(&cs, &p, &[2], Tmpl::new()), "compat: 1024-bit pair");
}
