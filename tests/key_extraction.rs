//! Key-extraction attacks (Tookan/Clulow, as pkcs11test's tookan.cc runs
//! them, with AES keys) through the module's C ABI under the default
//! policy, and the cross-token wrapping that must keep working: SO-made
//! CKA_TRUSTED wrapping keys, unwrapped keys that stay sensitive.
//! The rules are in docs/KEY-SEPARATION.md.

#[macro_use]
mod common;

use common::lifecycle::{Module, assert_refusal_audited};
use common::ops::*;
use common::raw::*;
use common::{SO_PIN, TestEnv, USER_PIN};
use cryptoki_sys::*;

const TARGET_VALUE: [u8; 32] = [0x5a; 32];
const KEK_VALUE: [u8; 32] = [0x11; 32];

/// A session AES key of the user's holding `value`, with `extra`.
fn aes_key(s: &Sess, value: &[u8], extra: impl FnOnce(Tmpl) -> Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    s.create(extra(secret(CKK_AES, value)))
}

/// The victim: a sensitive, extractable AES key (so it may legitimately
/// be wrapped for another token).
fn victim(s: &Sess) -> CK_OBJECT_HANDLE {
    ok(
        aes_key(s, &TARGET_VALUE, |t| {
            t.bool(CKA_SENSITIVE, true)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
        }),
        "sensitive extractable victim key",
    )
}

fn generate(s: &Sess, t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    s.generate_key(
        &Mech::new(CKM_AES_KEY_GEN),
        t.ulong(CKA_VALUE_LEN, 32).bool(CKA_TOKEN, false),
    )
}

fn kw() -> Mech {
    Mech::new(CKM_AES_KEY_WRAP)
}

fn gcm() -> Mech {
    Mech::gcm(&[7; 12], b"", 128)
}

/// The SO's trusted wrapping key (token object, public so the user's
/// sessions see it), created in a session `s` of a token whose SO PIN is
/// the harness's.
fn so_trusted_kek(s: &Sess, extra: impl FnOnce(Tmpl) -> Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    ok(s.login(CKU_SO, SO_PIN), "SO login");
    let r = s.create(extra(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .bytes(CKA_VALUE, &KEK_VALUE)
            .bool(CKA_TOKEN, true)
            .bool(CKA_PRIVATE, false)
            .bool(CKA_TRUSTED, true)
            .bool(CKA_WRAP, true)
            .bool(CKA_UNWRAP, true)
            .bytes(CKA_LABEL, b"trusted-kek"),
    ));
    ok(s.logout(), "SO logout");
    r
}

/// A token on `slot` with the harness PINs, the SO's trusted KEK, and a
/// session logged in as the user: (session, KEK).
fn token_with_kek(f: &'static CK_FUNCTION_LIST_3_0, slot: CK_SLOT_ID) -> (Sess, CK_OBJECT_HANDLE) {
    let mut so = SO_PIN.as_bytes().to_vec();
    let mut label = padded32(&format!("kek-token-{slot}"));
    let r = ck!(
        f,
        C_InitToken(slot, so.as_mut_ptr(), ulong(so.len()), label.as_mut_ptr())
    );
    assert_eq!(r, CKR_OK, "C_InitToken");
    let s = open_rw(f, slot);
    ok(s.login(CKU_SO, SO_PIN), "SO login");
    ok(common::lifecycle::init_pin(&s, USER_PIN), "C_InitPIN");
    ok(s.logout(), "SO logout");
    let kek = ok(so_trusted_kek(&s, |t| t), "SO imports the trusted KEK");
    ok(s.login(CKU_USER, USER_PIN), "user login");
    (s, kek)
}

#[track_caller]
fn assert_hidden(s: &Sess, k: CK_OBJECT_HANDLE, what: &str) {
    err(s.attr(k, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE, what);
    assert!(s.attr_bool(k, CKA_SENSITIVE), "{what}: CKA_SENSITIVE");
}

/// A1: one key that wraps and decrypts. It cannot be made (created,
/// generated), and a wrap-only key cannot carry the sensitive key out.
#[test]
fn a1_wrap_and_decrypt_on_one_key() {
    let m = Module::start("");
    let s = m.ready();
    let k1 = victim(&s);
    err(
        generate(&s, Tmpl::new().bool(CKA_WRAP, true).bool(CKA_DECRYPT, true)),
        CKR_TEMPLATE_INCONSISTENT,
        "C_GenerateKey with CKA_WRAP and CKA_DECRYPT",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_TEMPLATE_INCONSISTENT",
        "wrap_separation",
    );
    err(
        aes_key(&s, &KEK_VALUE, |t| {
            t.bool(CKA_WRAP, true).bool(CKA_DECRYPT, true)
        }),
        CKR_TEMPLATE_INCONSISTENT,
        "C_CreateObject with CKA_WRAP and CKA_DECRYPT",
    );
    // The attack's second step, with a key that only wraps.
    let k2 = ok(
        generate(&s, Tmpl::new().bool(CKA_WRAP, true)),
        "wrap-only key",
    );
    assert!(
        !s.attr_bool(k2, CKA_DECRYPT),
        "a wrapping key does not decrypt by default"
    );
    err(
        s.wrap(&kw(), k2, k1),
        CKR_KEY_NOT_WRAPPABLE,
        "C_WrapKey of a sensitive key under an untrusted key",
    );
    err(
        s.decrypt_init(&kw(), k2),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_DecryptInit with the wrap-only key",
    );
}

/// A2 (AES): wrapped under a trusted key, the sensitive key cannot come
/// back non-sensitive: not by the unwrap template, not by the unwrapping
/// key's CKA_UNWRAP_TEMPLATE, not by C_SetAttributeValue afterwards.
#[test]
fn a2_reimport_as_non_sensitive() {
    let m = Module::start("");
    let s = m.ready();
    ok(s.logout(), "user logout");
    let kek = ok(so_trusted_kek(&s, |t| t), "trusted KEK");
    let loose_kek = ok(
        so_trusted_kek(&s, |t| {
            t.bytes(CKA_UNWRAP_TEMPLATE, &nested_false_sensitive())
        }),
        "trusted KEK whose unwrap template says non-sensitive",
    );
    ok(s.login(CKU_USER, USER_PIN), "user login");
    let k1 = victim(&s);
    let blob = ok(s.wrap(&kw(), kek, k1), "wrap under the trusted KEK");
    let tmpl = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .bool(CKA_TOKEN, false)
            .bool(CKA_ENCRYPT, true)
    };
    err(
        s.unwrap(
            &kw(),
            kek,
            &blob,
            tmpl()
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "C_UnwrapKey as CKA_SENSITIVE=false",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_TEMPLATE_INCONSISTENT",
        "unwrapped_keys_sensitive",
    );
    err(
        s.unwrap(&kw(), loose_kek, &blob, tmpl()),
        CKR_TEMPLATE_INCONSISTENT,
        "C_UnwrapKey whose CKA_UNWRAP_TEMPLATE says CKA_SENSITIVE=false",
    );
    let k = ok(
        s.unwrap(&kw(), kek, &blob, tmpl().bool(CKA_EXTRACTABLE, true)),
        "C_UnwrapKey with a plain template",
    );
    assert_hidden(&s, k, "unwrapped key");
    err(
        s.set_attr(k, Tmpl::new().bool(CKA_SENSITIVE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
        "C_SetAttributeValue CKA_SENSITIVE=false after unwrap",
    );
    err(
        copy_object(&s, k, Tmpl::new().bool(CKA_SENSITIVE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
        "C_CopyObject as CKA_SENSITIVE=false",
    );
    assert_hidden(&s, k, "unwrapped key after the attempts");
}

/// CKA_UNWRAP_TEMPLATE {CKA_SENSITIVE=false}, as `nested::encode` expects
/// it: one CK_ATTRIBUTE pointing at a CK_BBOOL.
fn nested_false_sensitive() -> Vec<u8> {
    // The template parser reads CKA_UNWRAP_TEMPLATE as an array of
    // CK_ATTRIBUTE; a static false keeps the pointer valid for the call.
    static FALSE: CK_BBOOL = CK_FALSE;
    let a = CK_ATTRIBUTE {
        type_: CKA_SENSITIVE,
        pValue: (&raw const FALSE).cast_mut().cast(),
        ulValueLen: 1,
    };
    // SAFETY: CK_ATTRIBUTE is plain old data; its bytes are what the C
    // caller would pass.
    unsafe {
        std::slice::from_raw_parts(
            (&raw const a).cast::<u8>(),
            std::mem::size_of::<CK_ATTRIBUTE>(),
        )
    }
    .to_vec()
}

fn copy_object(s: &Sess, o: CK_OBJECT_HANDLE, t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    common::lifecycle::copy_object(s, o, t)
}

/// A2 (RSA pair): wrapped under a public key whose private half decrypts.
/// The public key is not trusted, so the sensitive key does not leave.
#[test]
fn a2_rsa_pair_wrap_then_decrypt() {
    let m = Module::start("");
    let s = m.ready();
    let k1 = victim(&s);
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bool(CKA_TOKEN, false)
                .bool(CKA_WRAP, true),
            Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_DECRYPT, true),
        ),
        "RSA pair: public wraps, private decrypts",
    );
    let oaep = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    err(
        s.wrap(&oaep, public, k1),
        CKR_KEY_NOT_WRAPPABLE,
        "C_WrapKey of a sensitive key under an untrusted RSA public key",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_KEY_NOT_WRAPPABLE",
        "sensitive_wrap_needs_trusted",
    );
    assert!(
        s.attr_bool(private, CKA_DECRYPT),
        "the private half decrypts"
    );
}

/// A3 with a key pair, as pkcs11-provider generates RSA keys (private
/// half {DECRYPT, SIGN, UNWRAP}, allowed): chosen bytes encrypted with the
/// public key unwrap as a key the attacker knows, which cannot wrap the
/// victim (not trusted); the pair's own public key cannot either.
#[test]
fn a3_rsa_pair_encrypt_then_unwrap() {
    let m = Module::start("");
    let s = m.ready();
    let k1 = victim(&s);
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_VERIFY, true)
                .bool(CKA_WRAP, true),
            Tmpl::new()
                .bool(CKA_TOKEN, false)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_SIGN, true)
                .bool(CKA_UNWRAP, true),
        ),
        "pkcs11-provider's RSA templates",
    );
    let oaep = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    let blob = ok(
        s.encrypt_once(&oaep, public, &KEK_VALUE),
        "C_Encrypt of chosen key bytes with the public key",
    );
    let known = ok(
        s.unwrap(
            &oaep,
            private,
            &blob,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bool(CKA_TOKEN, false)
                .bool(CKA_WRAP, true),
        ),
        "unwrap them as a wrapping key",
    );
    err(
        s.wrap(&kw(), known, k1),
        CKR_KEY_NOT_WRAPPABLE,
        "the victim under the attacker's known key",
    );
    err(
        s.wrap(&oaep, public, k1),
        CKR_KEY_NOT_WRAPPABLE,
        "the victim under the pair's own public key",
    );
}

/// A3: C_Encrypt of chosen bytes with a key that also unwraps. Such a key
/// cannot be made; and with two keys of one known value (one encrypts,
/// one unwraps) the key the attacker unwraps does not wrap the victim.
#[test]
fn a3_encrypt_and_unwrap() {
    let m = Module::start("");
    let s = m.ready();
    let k1 = victim(&s);
    err(
        generate(
            &s,
            Tmpl::new().bool(CKA_ENCRYPT, true).bool(CKA_UNWRAP, true),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "C_GenerateKey with CKA_ENCRYPT and CKA_UNWRAP",
    );
    // The attacker's own value, imported twice.
    let enc = ok(
        aes_key(&s, &KEK_VALUE, |t| t.bool(CKA_ENCRYPT, true)),
        "known key, encrypt",
    );
    let unw = ok(
        aes_key(&s, &KEK_VALUE, |t| t.bool(CKA_UNWRAP, true)),
        "known key, unwrap",
    );
    let chosen = [0xc4u8; 32];
    let blob = ok(
        s.encrypt_once(&kw(), enc, &chosen),
        "C_Encrypt AES-KW of chosen bytes",
    );
    let known = ok(
        s.unwrap(
            &kw(),
            unw,
            &blob,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bool(CKA_TOKEN, false)
                .bool(CKA_WRAP, true),
        ),
        "unwrap the chosen bytes as a wrapping key",
    );
    err(
        s.wrap(&kw(), known, k1),
        CKR_KEY_NOT_WRAPPABLE,
        "C_WrapKey of the victim under the attacker's known key",
    );
}

/// A4 (pkcs11test): a non-extractable key's value is not revealed even
/// when it is not sensitive.
#[test]
fn a4_unextractable_value_hidden() {
    let m = Module::start("");
    let s = m.ready();
    let k = ok(
        generate(
            &s,
            Tmpl::new()
                .bool(CKA_EXTRACTABLE, false)
                .bool(CKA_SENSITIVE, false),
        ),
        "non-extractable, non-sensitive key",
    );
    err(s.attr(k, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE, "CKA_VALUE");
}

/// A5a/A5b: CKA_SENSITIVE never goes true→false, CKA_EXTRACTABLE never
/// false→true.
#[test]
fn a5_one_way_attributes() {
    let m = Module::start("");
    let s = m.ready();
    let k = ok(generate(&s, Tmpl::new().bool(CKA_SENSITIVE, true)), "key");
    err(
        s.set_attr(k, Tmpl::new().bool(CKA_SENSITIVE, false)),
        CKR_ATTRIBUTE_READ_ONLY,
        "A5a: CKA_SENSITIVE=false",
    );
    assert!(s.attr_bool(k, CKA_SENSITIVE));
    let k = ok(
        generate(
            &s,
            Tmpl::new()
                .bool(CKA_EXTRACTABLE, false)
                .bool(CKA_SENSITIVE, false),
        ),
        "key",
    );
    err(
        s.set_attr(k, Tmpl::new().bool(CKA_EXTRACTABLE, true)),
        CKR_ATTRIBUTE_READ_ONLY,
        "A5b: CKA_EXTRACTABLE=true",
    );
    assert!(!s.attr_bool(k, CKA_EXTRACTABLE));
}

/// Toggling usage flags in turn (clear DECRYPT, set WRAP, wrap, clear
/// WRAP, set DECRYPT, decrypt) fails at the first raise, by
/// C_SetAttributeValue or C_CopyObject; lowering stays allowed.
#[test]
fn sequential_toggling() {
    let m = Module::start("");
    let s = m.ready();
    let k = ok(generate(&s, Tmpl::new()), "a default AES key");
    assert!(s.attr_bool(k, CKA_ENCRYPT) && s.attr_bool(k, CKA_DECRYPT));
    assert!(!s.attr_bool(k, CKA_WRAP) && !s.attr_bool(k, CKA_UNWRAP));
    ok(
        s.set_attr(
            k,
            Tmpl::new()
                .bool(CKA_ENCRYPT, false)
                .bool(CKA_DECRYPT, false),
        ),
        "clearing CKA_ENCRYPT and CKA_DECRYPT",
    );
    err(
        s.set_attr(k, Tmpl::new().bool(CKA_WRAP, true)),
        CKR_ATTRIBUTE_READ_ONLY,
        "then setting CKA_WRAP",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_ATTRIBUTE_READ_ONLY",
        "usage_only_lowered",
    );
    err(
        copy_object(&s, k, Tmpl::new().bool(CKA_WRAP, true)),
        CKR_ATTRIBUTE_READ_ONLY,
        "a copy with CKA_WRAP",
    );
    let w = ok(generate(&s, Tmpl::new().bool(CKA_WRAP, true)), "wrap key");
    ok(
        s.set_attr(w, Tmpl::new().bool(CKA_WRAP, false)),
        "clearing CKA_WRAP",
    );
    err(
        s.set_attr(w, Tmpl::new().bool(CKA_DECRYPT, true)),
        CKR_ATTRIBUTE_READ_ONLY,
        "then setting CKA_DECRYPT",
    );
    assert!(
        !s.attr_bool(w, CKA_DECRYPT),
        "the refused change was not applied"
    );
}

/// Wrapping with a key the user imported (and so knows): refused for a
/// sensitive key, allowed for a key that is readable anyway.
#[test]
fn wrapping_with_a_known_key() {
    let m = Module::start("");
    let s = m.ready();
    let known = ok(
        aes_key(&s, &KEK_VALUE, |t| {
            t.bool(CKA_WRAP, true)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true)
        }),
        "imported known wrapping key",
    );
    let k1 = victim(&s);
    err(
        s.wrap(&kw(), known, k1),
        CKR_KEY_NOT_WRAPPABLE,
        "a sensitive key under a known key",
    );
    let plain = ok(
        aes_key(&s, &TARGET_VALUE, |t| {
            t.bool(CKA_SENSITIVE, false).bool(CKA_EXTRACTABLE, true)
        }),
        "non-sensitive extractable key",
    );
    ok(
        s.wrap(&kw(), known, plain),
        "a readable key under a known key",
    );
}

/// The documented path: the SO of each token imports the same trusted
/// KEK; the user wraps a sensitive key on token A and unwraps it on token
/// B, where it is sensitive and encrypts/decrypts as on A. The trusted
/// KEK itself cannot also decrypt.
#[test]
fn cross_token_with_trusted_kek() {
    let _env = TestEnv::with_config(TWO_SLOTS);
    let init = Init::new();
    let (a, kek_a) = token_with_kek(init.f, 0);
    let (b, kek_b) = token_with_kek(init.f, 1);
    assert!(a.attr_bool(kek_a, CKA_TRUSTED) && b.attr_bool(kek_b, CKA_TRUSTED));
    let k1 = victim(&a);
    let blob = ok(a.wrap(&kw(), kek_a, k1), "wrap on token A");
    let moved = ok(
        b.unwrap(
            &kw(),
            kek_b,
            &blob,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true),
        ),
        "unwrap on token B",
    );
    assert_hidden(&b, moved, "the key on token B");
    let plain = b"one key, two tokens".to_vec();
    let sealed = ok(a.encrypt_once(&gcm(), k1, &plain), "encrypt on A");
    let opened = ok(b.decrypt_once(&gcm(), moved, &sealed), "decrypt on B");
    assert_eq!(opened, plain, "the unwrapped key is the original");
    // Trusted keys only wrap: C_Decrypt of the blob with the KEK fails.
    err(
        a.decrypt_init(&kw(), kek_a),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_DecryptInit with the trusted KEK",
    );
    ok(a.logout(), "user logout");
    err(
        so_trusted_kek(&a, |t| t.bool(CKA_DECRYPT, true)),
        CKR_TEMPLATE_INCONSISTENT,
        "a trusted KEK that also decrypts",
    );
}

/// Every rule is a switch: with all four off, the legacy behaviour
/// (A1) comes back, which shows each test above exercises the rules.
#[test]
fn rules_are_switches() {
    let m = Module::start(
        "[policy]\nwrap_separation = false\nusage_only_lowered = false\n\
         sensitive_wrap_needs_trusted = false\nunwrapped_keys_sensitive = false\n",
    );
    let s = m.ready();
    let k1 = victim(&s);
    let k2 = ok(
        generate(&s, Tmpl::new().bool(CKA_WRAP, true).bool(CKA_DECRYPT, true)),
        "wrap+decrypt key with the rule off",
    );
    let blob = ok(s.wrap(&kw(), k2, k1), "wrap");
    let value = ok(s.decrypt_once(&kw(), k2, &blob), "decrypt");
    assert_eq!(value, TARGET_VALUE, "A1 works with every rule off");
}

/// With `wrap_separation` off (the compat profile), a template that leaves
/// the usage flags out gets every use its key type has, as SoftHSMv2's
/// and 2.x-era clients expect (PyKCS11's test_wrapKey wraps with a key
/// made for CKA_ENCRYPT), and `usage_only_lowered` is off too, so a usage
/// flag may be set on an existing key (its
/// test_setAttributeValue_with_a_list_of_attributes). Under the default
/// policy the same template gives a key that encrypts but cannot wrap,
/// and setting CKA_WRAP is refused.
#[test]
fn usage_defaults_follow_wrap_separation() {
    let t = || Tmpl::new().bool(CKA_ENCRYPT, true).bool(CKA_DECRYPT, true);
    {
        let m = Module::start("[policy]\nprofile = \"compat\"\n");
        let s = m.ready();
        let k1 = victim(&s);
        let kek = ok(generate(&s, t()), "encrypting key, usage left out");
        assert!(s.attr_bool(kek, CKA_WRAP) && s.attr_bool(kek, CKA_UNWRAP));
        ok(s.wrap(&kw(), kek, k1), "wraps under the default flags");
        let k = ok(
            generate(&s, Tmpl::new().bool(CKA_WRAP, false).bool(CKA_SIGN, false)),
            "key with CKA_WRAP false",
        );
        ok(
            s.set_attr(k, Tmpl::new().bool(CKA_WRAP, true).bool(CKA_SIGN, true)),
            "flags raised under compat",
        );
        assert!(s.attr_bool(k, CKA_WRAP) && s.attr_bool(k, CKA_SIGN));
    }
    let m = Module::start("");
    let s = m.ready();
    let k1 = victim(&s);
    let kek = ok(generate(&s, t()), "encrypting key, usage left out");
    assert!(!s.attr_bool(kek, CKA_WRAP) && !s.attr_bool(kek, CKA_UNWRAP));
    err(
        s.wrap(&kw(), kek, k1),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "no CKA_WRAP by default",
    );
    err(
        s.set_attr(kek, Tmpl::new().bool(CKA_WRAP, true)),
        CKR_ATTRIBUTE_READ_ONLY,
        "usage_only_lowered",
    );
}
