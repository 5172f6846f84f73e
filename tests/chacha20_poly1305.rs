//! CKM_CHACHA20_POLY1305 through the C ABI: RFC 8439 §2.8.2 (encryption)
//! and appendix A.5 (decryption) known answers, single- and multi-part
//! with the output-length protocol, XChaCha20 (192-bit nonces),
//! CKM_CHACHA20_KEY_GEN and CKK_CHACHA20 keys, wrapping, the message-based
//! calls with CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS, C_GetMechanismInfo,
//! and the refusals (nonce lengths, altered tag, wrong key type).

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr;

use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;

// RFC 8439 §2.8.2.
const KEY: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const NONCE: &str = "070000004041424344454647";
const AAD: &str = "50515253c0c1c2c3c4c5c6c7";
const PLAIN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you \
only one tip for the future, sunscreen would be it.";
const CIPHER: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
                      3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
                      92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
                      3ff4def08e4b7a9de576d26586cec64b6116";
const TAG: &str = "1ae10b594f09e26a7e902ecbd0600691";

// RFC 8439 appendix A.5 (decryption of a received message).
const A5_KEY: &str = "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
const A5_NONCE: &str = "000000000102030405060708";
const A5_AAD: &str = "f33388860000000000004e91";
const A5_CIPHER: &str = "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2\
                         4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf\
                         332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855\
                         9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4\
                         b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e\
                         af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a\
                         0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10\
                         49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29\
                         a6ad5cb4022b02709b";
const A5_TAG: &str = "eead9d67890cbb22392336fea1851f38";
const A5_PLAIN: &str = "496e7465726e65742d4472616674732061726520647261667420646f63756d65\
                        6e74732076616c696420666f722061206d6178696d756d206f6620736978206d\
                        6f6e74687320616e64206d617920626520757064617465642c207265706c6163\
                        65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65\
                        6e747320617420616e792074696d652e20497420697320696e617070726f7072\
                        6961746520746f2075736520496e7465726e65742d4472616674732061732072\
                        65666572656e6365206d6174657269616c206f7220746f206369746520746865\
                        6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67\
                        726573732e2fe2809d";

/// A ChaCha20 key that encrypts and decrypts (the default policy keeps
/// wrapping keys apart: `wrap_key` makes those).
fn chacha_key(value: &[u8]) -> Tmpl {
    secret(CKK_CHACHA20, value)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true)
        .bool(CKA_WRAP, false)
        .bool(CKA_UNWRAP, false)
}

/// A ChaCha20 key that wraps and unwraps.
fn wrap_key(value: &[u8]) -> Tmpl {
    secret(CKK_CHACHA20, value)
        .bool(CKA_ENCRYPT, false)
        .bool(CKA_DECRYPT, false)
        .bool(CKA_WRAP, true)
        .bool(CKA_UNWRAP, true)
}

fn mech(nonce: &[u8], aad: &[u8]) -> Mech {
    Mech::chacha20_poly1305(nonce, ulong(nonce.len() * 8), aad)
}

/// A fresh store, the module initialized, a user session and the §2.8.2
/// key. Bind all four: they drop in the right order.
fn setup() -> (TestEnv, Init, Sess, CK_OBJECT_HANDLE) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    let k = ok(s.create(chacha_key(&unhex(KEY))), "import ChaCha20 key");
    (env, init, s, k)
}

#[test]
fn mechanism_info() {
    let (_env, _init, s, _k) = setup();
    let info = ok(s.mechanism_info(0, CKM_CHACHA20_POLY1305), "info");
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (32, 32));
    assert_eq!(
        info.flags,
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT
    );
    let gen_info = ok(s.mechanism_info(0, CKM_CHACHA20_KEY_GEN), "keygen info");
    assert_eq!((gen_info.ulMinKeySize, gen_info.ulMaxKeySize), (32, 32));
    assert_eq!(gen_info.flags, CKF_GENERATE);
    let list = ok(s.mechanism_list(0), "list");
    assert!(list.contains(&CKM_CHACHA20_POLY1305) && list.contains(&CKM_CHACHA20_KEY_GEN));
}

#[test]
fn rfc8439_known_answers_single_and_multi_part() {
    let (_env, _init, s, k) = setup();
    let m = mech(&unhex(NONCE), &unhex(AAD));
    let want = [unhex(CIPHER), unhex(TAG)].concat();
    // Single part, with the length protocol (query, short buffer, call).
    ok(s.encrypt_init(&m, k), "C_EncryptInit");
    let mut d = PLAIN.to_vec();
    let p = protocol(want.len(), |o, n| {
        ck!(s.f, C_Encrypt(s.h, d.as_mut_ptr(), ulong(d.len()), o, n))
    });
    assert_eq!(p.queried, want.len());
    assert_protocol(&p, &want, "C_Encrypt");
    // Multi-part: the same bytes.
    assert_eq!(
        ok(s.encrypt_parts(&m, k, PLAIN, &[1, 63, 64]), "parts"),
        want
    );
    // Encryption streams: each part's ciphertext comes with it.
    ok(s.encrypt_init(&m, k), "C_EncryptInit");
    assert_eq!(
        ok(s.encrypt_update(&PLAIN[..10]), "C_EncryptUpdate"),
        unhex(CIPHER)[..10]
    );
    ok(s.encrypt_update(&PLAIN[10..]), "C_EncryptUpdate");
    assert_eq!(ok(s.encrypt_final(), "C_EncryptFinal"), unhex(TAG));
    // Decryption, single and multi-part (nothing before the final part).
    assert_eq!(ok(s.decrypt_once(&m, k, &want), "C_Decrypt"), PLAIN);
    ok(s.decrypt_init(&m, k), "C_DecryptInit");
    for part in want.chunks(50) {
        assert!(ok(s.decrypt_update(part), "C_DecryptUpdate").is_empty());
    }
    assert_eq!(ok(s.decrypt_final(), "C_DecryptFinal"), PLAIN);
    // Appendix A.5: a received message opens to the draft's text.
    let k5 = ok(s.create(chacha_key(&unhex(A5_KEY))), "A.5 key");
    let m5 = mech(&unhex(A5_NONCE), &unhex(A5_AAD));
    let sealed = [unhex(A5_CIPHER), unhex(A5_TAG)].concat();
    assert_eq!(ok(s.decrypt_once(&m5, k5, &sealed), "A.5"), unhex(A5_PLAIN));
    assert_eq!(
        ok(s.encrypt_once(&m5, k5, &unhex(A5_PLAIN)), "A.5 sealed"),
        sealed
    );
}

#[test]
fn refusals() {
    let (_env, _init, s, k) = setup();
    let m = mech(&unhex(NONCE), &unhex(AAD));
    let good = ok(s.encrypt_once(&m, k, PLAIN), "encrypt");
    // An altered tag or ciphertext: nothing comes out.
    for i in [0, good.len() - 1] {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        err(
            s.decrypt_once(&m, k, &bad),
            CKR_ENCRYPTED_DATA_INVALID,
            "altered",
        );
    }
    // Less than a tag.
    err(
        s.decrypt_once(&m, k, &good[..15]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "short",
    );
    // Nonce lengths: a length in bytes (12) is not bits, and one no
    // variant has is refused (64 bits, the original construction, is
    // offered: tests/chacha20_raw.rs).
    for (nonce, bits) in [
        (vec![0u8; 12], 12),
        (vec![0u8; 12], 32),
        (vec![0u8; 12], 128),
    ] {
        err(
            s.encrypt_init(&Mech::chacha20_poly1305(&nonce, bits, &[]), k),
            CKR_MECHANISM_PARAM_INVALID,
            "nonce length",
        );
    }
    err(
        s.encrypt_init(&Mech::new(CKM_CHACHA20_POLY1305), k),
        CKR_MECHANISM_PARAM_INVALID,
        "no parameter",
    );
    // Another key type.
    let aes = ok(s.create(aes_crypt(&[1; 32])), "AES key");
    err(
        s.encrypt_init(&m, aes),
        CKR_KEY_TYPE_INCONSISTENT,
        "AES key",
    );
    // A ChaCha20 key is 32 bytes.
    err(
        s.create(chacha_key(&[1; 16])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "16-byte key",
    );
}

#[test]
fn xchacha_generation_and_wrapping() {
    let (_env, _init, s, _k) = setup();
    let t = |len: CK_ULONG| {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_CHACHA20)
            .ulong(CKA_VALUE_LEN, len)
            .bool(CKA_TOKEN, false)
            .bool(CKA_WRAP, false)
            .bool(CKA_UNWRAP, false)
    };
    let g = ok(
        s.generate_key(&Mech::new(CKM_CHACHA20_KEY_GEN), t(32)),
        "generate",
    );
    assert_eq!(s.attr_ulong(g, CKA_KEY_TYPE), CKK_CHACHA20);
    assert_eq!(s.attr_ulong(g, CKA_VALUE_LEN), 32);
    // Usage defaults: a ChaCha20 key encrypts.
    assert!(s.attr_bool(g, CKA_ENCRYPT) && s.attr_bool(g, CKA_DECRYPT));
    err(
        s.generate_key(&Mech::new(CKM_CHACHA20_KEY_GEN), t(16)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "16-byte generation",
    );
    // XChaCha20-Poly1305: a 192-bit nonce.
    let x = mech(&[7; 24], b"hdr");
    let sealed = ok(s.encrypt_once(&x, g, b"extended nonce"), "XChaCha");
    assert_eq!(sealed.len(), 14 + 16);
    assert_eq!(
        ok(s.decrypt_once(&x, g, &sealed), "open"),
        b"extended nonce"
    );
    // Wrapping an AES key and unwrapping it again.
    let value: Vec<u8> = (0..32).collect();
    let target = ok(
        s.create(
            aes_crypt(&value)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false),
        ),
        "AES key to wrap",
    );
    let g = ok(s.create(wrap_key(&[0x33; 32])), "wrapping key");
    let w = mech(&[9; 12], b"wrap");
    let wrapped = ok(s.wrap(&w, g, target), "C_WrapKey");
    assert_eq!(wrapped.len(), 32 + 16);
    // The policy keeps unwrapped keys sensitive: the key is compared by
    // what it does.
    let unwrapped = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .bool(CKA_TOKEN, false)
            .bool(CKA_ENCRYPT, true)
    };
    let back = ok(s.unwrap(&w, g, &wrapped, unwrapped()), "C_UnwrapKey");
    let ecb = Mech::new(CKM_AES_ECB);
    assert_eq!(
        ok(s.encrypt_once(&ecb, back, &[0; 16]), "unwrapped key"),
        ok(s.encrypt_once(&ecb, target, &[0; 16]), "original key"),
    );
    let mut bad = wrapped.clone();
    bad[3] ^= 1;
    err(
        s.unwrap(&w, g, &bad, unwrapped()),
        CKR_WRAPPED_KEY_INVALID,
        "altered wrapped key",
    );
}

/// CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS owning its nonce and tag.
struct MsgParam {
    nonce: Vec<u8>,
    tag: Vec<u8>,
    raw: CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS,
}

impl MsgParam {
    fn new(nonce: &[u8], tag: &[u8]) -> Self {
        MsgParam {
            nonce: nonce.to_vec(),
            tag: tag.to_vec(),
            raw: CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS {
                pNonce: ptr::null_mut(),
                ulNonceLen: 0,
                pTag: ptr::null_mut(),
            },
        }
    }

    fn ptr(&mut self) -> (*mut c_void, CK_ULONG) {
        self.raw = CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS {
            pNonce: self.nonce.as_mut_ptr(),
            ulNonceLen: ulong(self.nonce.len() * 8),
            pTag: self.tag.as_mut_ptr(),
        };
        let size = std::mem::size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>();
        ((&raw mut self.raw).cast(), ulong(size))
    }
}

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

#[test]
fn message_based_calls() {
    let (_env, _init, s, k) = setup();
    let mut ck = Mech::new(CKM_CHACHA20_POLY1305).ck();
    ok(
        rv(ck!(s.f, C_MessageEncryptInit(s.h, &mut ck, k))),
        "C_MessageEncryptInit",
    );
    let mut p = MsgParam::new(&unhex(NONCE), &[0; 16]);
    let (pp, pl) = p.ptr();
    let mut aad = unhex(AAD);
    let mut data = PLAIN.to_vec();
    let mut out = vec![0u8; PLAIN.len() + 32];
    let mut n = ulong(out.len());
    ok(
        rv(ck!(
            s.f,
            C_EncryptMessage(
                s.h,
                pp,
                pl,
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
    out.truncate(usize_of(n));
    assert_eq!(out, unhex(CIPHER));
    assert_eq!(p.tag, unhex(TAG), "the tag is written through pTag");
    // The same message in parts (C_EncryptMessageBegin, then Next; the
    // tag comes with the last part).
    let mut p2 = MsgParam::new(&unhex(NONCE), &[0; 16]);
    let (pp, pl) = p2.ptr();
    ok(
        rv(ck!(
            s.f,
            C_EncryptMessageBegin(s.h, pp, pl, aad.as_mut_ptr(), ulong(aad.len()))
        )),
        "C_EncryptMessageBegin",
    );
    let mut parts_out = Vec::new();
    let pieces: Vec<&[u8]> = vec![&PLAIN[..20], &PLAIN[20..70], &PLAIN[70..]];
    for (i, piece) in pieces.iter().enumerate() {
        let last = i == pieces.len() - 1;
        let (pp, pl) = p2.ptr();
        let mut d = piece.to_vec();
        let mut o = vec![0u8; piece.len() + 16];
        let mut n = ulong(o.len());
        ok(
            rv(ck!(
                s.f,
                C_EncryptMessageNext(
                    s.h,
                    pp,
                    pl,
                    d.as_mut_ptr(),
                    ulong(d.len()),
                    o.as_mut_ptr(),
                    &mut n,
                    if last { CKF_END_OF_MESSAGE } else { 0 }
                )
            )),
            "C_EncryptMessageNext",
        );
        o.truncate(usize_of(n));
        parts_out.extend(o);
    }
    assert_eq!(parts_out, unhex(CIPHER));
    assert_eq!(p2.tag, unhex(TAG));
    ok(rv(ck!(s.f, C_MessageEncryptFinal(s.h))), "final");

    ok(
        rv(ck!(s.f, C_MessageDecryptInit(s.h, &mut ck, k))),
        "C_MessageDecryptInit",
    );
    let decrypt = |tag: &[u8]| -> Rv<Vec<u8>> {
        let mut p = MsgParam::new(&unhex(NONCE), tag);
        let (pp, pl) = p.ptr();
        let mut aad = unhex(AAD);
        let mut data = unhex(CIPHER);
        let mut out = vec![0u8; data.len()];
        let mut n = ulong(out.len());
        rv(ck!(
            s.f,
            C_DecryptMessage(
                s.h,
                pp,
                pl,
                aad.as_mut_ptr(),
                ulong(aad.len()),
                data.as_mut_ptr(),
                ulong(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        ))?;
        out.truncate(usize_of(n));
        Ok(out)
    };
    assert_eq!(ok(decrypt(&unhex(TAG)), "C_DecryptMessage"), PLAIN);
    let mut bad = unhex(TAG);
    bad[0] ^= 1;
    err(decrypt(&bad), CKR_AEAD_DECRYPT_FAILED, "altered tag");
    // A nonce length that is no variant's (64 bits is the original
    // construction's: tests/chacha20_raw.rs).
    let mut p = MsgParam::new(&[0; 16], &unhex(TAG));
    let (pp, pl) = p.ptr();
    let mut data = unhex(CIPHER);
    let mut out = vec![0u8; data.len()];
    let mut n = ulong(out.len());
    assert_eq!(
        ck!(
            s.f,
            C_DecryptMessage(
                s.h,
                pp,
                pl,
                aad.as_mut_ptr(),
                ulong(aad.len()),
                data.as_mut_ptr(),
                ulong(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        ),
        CKR_MECHANISM_PARAM_INVALID
    );
    ok(rv(ck!(s.f, C_MessageDecryptFinal(s.h))), "final");
}

/// Each message operation takes its own mechanism's structure: the
/// ChaCha20-Poly1305 one given to an AES-GCM operation (whose 96-bit nonce
/// and 128-bit tag a GCM message could have) is refused, not read as GCM.
#[test]
fn message_structure_must_match_the_operation() {
    let (_env, _init, s, _) = setup();
    let aes = ok(
        s.create(common::ops::aes_crypt(&[7; 32])),
        "an AES key for GCM",
    );
    let mut ck = Mech::new(CKM_AES_GCM).ck();
    ok(
        rv(ck!(s.f, C_MessageEncryptInit(s.h, &mut ck, aes))),
        "C_MessageEncryptInit (GCM)",
    );
    let mut p = MsgParam::new(&unhex(NONCE), &[0; 16]);
    let (pp, pl) = p.ptr();
    let mut data = PLAIN.to_vec();
    let mut out = vec![0u8; PLAIN.len() + 32];
    let mut n = ulong(out.len());
    err(
        rv(ck!(
            s.f,
            C_EncryptMessage(
                s.h,
                pp,
                pl,
                std::ptr::null_mut(),
                0,
                data.as_mut_ptr(),
                ulong(data.len()),
                out.as_mut_ptr(),
                &mut n
            )
        )),
        CKR_MECHANISM_PARAM_INVALID,
        "a ChaCha20-Poly1305 structure for a GCM message",
    );
}
