//! CKM_AES_CCM through the C ABI: NIST SP 800-38C Appendix C examples 1-3
//! and RFC 3610 packet vector #1, single- and multi-part with the
//! output-length protocol, ulDataLen held to (CKR_DATA_LEN_RANGE /
//! CKR_ENCRYPTED_DATA_LEN_RANGE), wrapping, the message-based calls with
//! CK_CCM_MESSAGE_PARAMS (in one call or in parts), and the
//! refusals (nonce and MAC lengths, altered MAC, wrong key type).

#[macro_use]
mod common;

use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;

/// SP 800-38C Appendix C: key, then (nonce, AAD, payload, ciphertext ||
/// MAC, MAC length) for examples 1 to 3.
const KEY: &str = "404142434445464748494a4b4c4d4e4f";
const EXAMPLES: [(&str, &str, &str, &str, CK_ULONG); 3] = [
    (
        "10111213141516",
        "0001020304050607",
        "20212223",
        "7162015b4dac255d",
        4,
    ),
    (
        "1011121314151617",
        "000102030405060708090a0b0c0d0e0f",
        "202122232425262728292a2b2c2d2e2f",
        "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
        6,
    ),
    (
        "101112131415161718191a1b",
        "000102030405060708090a0b0c0d0e0f10111213",
        "202122232425262728292a2b2c2d2e2f3031323334353637",
        "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
        8,
    ),
];

fn setup() -> (TestEnv, Init, Sess, CK_OBJECT_HANDLE) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    let k = ok(s.create(aes_crypt(&unhex(KEY))), "import AES key");
    (env, init, s, k)
}

#[test]
fn mechanism_info() {
    let (_env, _init, s, _k) = setup();
    let info = ok(s.mechanism_info(0, CKM_AES_CCM), "info");
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32));
    assert_eq!(
        info.flags,
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT
    );
}

#[test]
fn sp800_38c_examples_single_and_multi_part() {
    let (_env, _init, s, k) = setup();
    for (n, a, p, c, t) in EXAMPLES {
        let (n, a, p, c) = (unhex(n), unhex(a), unhex(p), unhex(c));
        let m = Mech::ccm(p.len(), &n, &a, t);
        ok(s.encrypt_init(&m, k), "C_EncryptInit");
        let mut d = p.clone();
        let pr = protocol(c.len(), |o, len| {
            ck!(s.f, C_Encrypt(s.h, d.as_mut_ptr(), ulong(d.len()), o, len))
        });
        assert_eq!(pr.queried, c.len());
        assert_protocol(&pr, &c, "C_Encrypt");
        assert_eq!(ok(s.encrypt_parts(&m, k, &p, &[1, 2]), "parts"), c);
        // Encryption streams: the first part's ciphertext comes with it.
        ok(s.encrypt_init(&m, k), "C_EncryptInit");
        assert_eq!(ok(s.encrypt_update(&p[..3]), "C_EncryptUpdate"), c[..3]);
        ok(s.encrypt_update(&p[3..]), "C_EncryptUpdate");
        assert_eq!(ok(s.encrypt_final(), "C_EncryptFinal"), c[p.len()..]);
        assert_eq!(ok(s.decrypt_once(&m, k, &c), "C_Decrypt"), p);
        ok(s.decrypt_init(&m, k), "C_DecryptInit");
        for part in c.chunks(3) {
            assert!(ok(s.decrypt_update(part), "C_DecryptUpdate").is_empty());
        }
        assert_eq!(ok(s.decrypt_final(), "C_DecryptFinal"), p);
        let mut bad = c.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        err(
            s.decrypt_once(&m, k, &bad),
            CKR_ENCRYPTED_DATA_INVALID,
            "altered MAC",
        );
    }
}

#[test]
fn rfc3610_packet_vector_1() {
    let (_env, _init, s, _k) = setup();
    let k = ok(
        s.create(aes_crypt(&unhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"))),
        "key",
    );
    let nonce = unhex("00000003020100a0a1a2a3a4a5");
    let aad = unhex("0001020304050607");
    let p = unhex("08090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
    let want = unhex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0");
    let m = Mech::ccm(p.len(), &nonce, &aad, 8);
    assert_eq!(ok(s.encrypt_once(&m, k, &p), "encrypt"), want);
    assert_eq!(ok(s.decrypt_once(&m, k, &want), "decrypt"), p);
}

#[test]
fn lengths_and_refusals() {
    let (_env, _init, s, k) = setup();
    let m = Mech::ccm(4, &[1; 12], b"aad", 16);
    // The text must be ulDataLen: less or more is refused.
    err(s.encrypt_once(&m, k, &[0; 3]), CKR_DATA_LEN_RANGE, "short");
    err(s.encrypt_once(&m, k, &[0; 5]), CKR_DATA_LEN_RANGE, "long");
    ok(s.encrypt_init(&m, k), "init");
    ok(s.encrypt_update(&[0; 2]), "part");
    err(s.encrypt_final(), CKR_DATA_LEN_RANGE, "final short");
    let c = ok(s.encrypt_once(&m, k, &[0; 4]), "encrypt");
    assert_eq!(c.len(), 20);
    err(
        s.decrypt_once(&m, k, &c[..19]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "short ciphertext",
    );
    // Nonce and MAC lengths SP 800-38C does not have.
    for (nonce_len, mac) in [(6, 16), (14, 16), (12, 3), (12, 5), (12, 18)] {
        err(
            s.encrypt_init(&Mech::ccm(4, &vec![0; nonce_len], &[], mac), k),
            CKR_MECHANISM_PARAM_INVALID,
            "lengths",
        );
    }
    // A length the 13-byte nonce's 2-byte field cannot hold.
    err(
        s.encrypt_init(&Mech::ccm(1 << 16, &[0; 13], &[], 16), k),
        CKR_MECHANISM_PARAM_INVALID,
        "data length",
    );
    err(
        s.encrypt_init(&Mech::new(CKM_AES_CCM), k),
        CKR_MECHANISM_PARAM_INVALID,
        "no parameter",
    );
    let chacha = ok(
        s.create(secret(CKK_CHACHA20, &[1; 32]).bool(CKA_ENCRYPT, true)),
        "ChaCha20 key",
    );
    err(
        s.encrypt_init(&m, chacha),
        CKR_KEY_TYPE_INCONSISTENT,
        "ChaCha20 key",
    );
}

#[test]
fn wrapping() {
    let (_env, _init, s, _k) = setup();
    let wk = ok(
        s.create(
            secret(CKK_AES, &[0x11; 32])
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_ENCRYPT, false)
                .bool(CKA_DECRYPT, false),
        ),
        "wrapping key",
    );
    let target = ok(
        s.create(
            aes_crypt(&[0x22; 16])
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false),
        ),
        "key to wrap",
    );
    let m = Mech::ccm(16, &[5; 11], b"key", 12);
    let wrapped = ok(s.wrap(&m, wk, target), "C_WrapKey");
    assert_eq!(wrapped.len(), 28);
    let t = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .bool(CKA_TOKEN, false)
            .bool(CKA_ENCRYPT, true)
    };
    let back = ok(s.unwrap(&m, wk, &wrapped, t()), "C_UnwrapKey");
    let ecb = Mech::new(CKM_AES_ECB);
    assert_eq!(
        ok(s.encrypt_once(&ecb, back, &[0; 16]), "unwrapped"),
        ok(s.encrypt_once(&ecb, target, &[0; 16]), "original"),
    );
    let mut bad = wrapped.clone();
    bad[0] ^= 1;
    err(
        s.unwrap(&m, wk, &bad, t()),
        CKR_WRAPPED_KEY_INVALID,
        "altered",
    );
}

/// CK_CCM_MESSAGE_PARAMS owning its nonce and MAC.
struct MsgParam {
    data_len: usize,
    nonce: Vec<u8>,
    fixed_bits: CK_ULONG,
    generator: CK_GENERATOR_FUNCTION,
    mac: Vec<u8>,
    raw: CK_CCM_MESSAGE_PARAMS,
}

impl MsgParam {
    fn new(data_len: usize, nonce: &[u8], mac: &[u8]) -> Self {
        MsgParam {
            data_len,
            nonce: nonce.to_vec(),
            fixed_bits: 0,
            generator: CKG_NO_GENERATE,
            mac: mac.to_vec(),
            raw: CK_CCM_MESSAGE_PARAMS {
                ulDataLen: 0,
                pNonce: std::ptr::null_mut(),
                ulNonceLen: 0,
                ulNonceFixedBits: 0,
                nonceGenerator: 0,
                pMAC: std::ptr::null_mut(),
                ulMACLen: 0,
            },
        }
    }

    fn ptr(&mut self) -> (*mut std::ffi::c_void, CK_ULONG) {
        self.raw = CK_CCM_MESSAGE_PARAMS {
            ulDataLen: ulong(self.data_len),
            pNonce: self.nonce.as_mut_ptr(),
            ulNonceLen: ulong(self.nonce.len()),
            ulNonceFixedBits: self.fixed_bits,
            nonceGenerator: self.generator,
            pMAC: self.mac.as_mut_ptr(),
            ulMACLen: ulong(self.mac.len()),
        };
        let size = std::mem::size_of::<CK_CCM_MESSAGE_PARAMS>();
        ((&raw mut self.raw).cast(), ulong(size))
    }
}

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

fn encrypt_message(s: &Sess, p: &mut MsgParam, aad: &[u8], plain: &[u8]) -> Rv<Vec<u8>> {
    let (pp, pl) = p.ptr();
    let mut a = aad.to_vec();
    let mut d = plain.to_vec();
    let mut out = vec![0u8; plain.len() + 32];
    let mut n = ulong(out.len());
    rv(ck!(
        s.f,
        C_EncryptMessage(
            s.h,
            pp,
            pl,
            a.as_mut_ptr(),
            ulong(a.len()),
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n
        )
    ))?;
    out.truncate(usize_of(n));
    Ok(out)
}

fn decrypt_message(s: &Sess, p: &mut MsgParam, aad: &[u8], cipher: &[u8]) -> Rv<Vec<u8>> {
    let (pp, pl) = p.ptr();
    let mut a = aad.to_vec();
    let mut d = cipher.to_vec();
    let mut out = vec![0u8; cipher.len() + 32];
    let mut n = ulong(out.len());
    rv(ck!(
        s.f,
        C_DecryptMessage(
            s.h,
            pp,
            pl,
            a.as_mut_ptr(),
            ulong(a.len()),
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n
        )
    ))?;
    out.truncate(usize_of(n));
    Ok(out)
}

#[test]
fn message_based_calls() {
    let (_env, _init, s, k) = setup();
    let info = ok(s.mechanism_info(0, CKM_AES_CCM), "info");
    let both = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;
    assert_eq!(info.flags & both, both);
    let mut ck = Mech::new(CKM_AES_CCM).ck();
    ok(
        rv(ck!(s.f, C_MessageEncryptInit(s.h, &mut ck, k))),
        "C_MessageEncryptInit",
    );
    ok(
        rv(ck!(s.f, C_MessageDecryptInit(s.h, &mut ck, k))),
        "C_MessageDecryptInit",
    );
    // SP 800-38C example 2, the MAC written through pMAC.
    let (n, a, p, c, t) = EXAMPLES[1];
    let (n, a, p, c) = (unhex(n), unhex(a), unhex(p), unhex(c));
    let mac_len = t as usize;
    let (want_ct, want_mac) = c.split_at(p.len());
    let mut mp = MsgParam::new(p.len(), &n, &vec![0; mac_len]);
    assert_eq!(ok(encrypt_message(&s, &mut mp, &a, &p), "encrypt"), want_ct);
    assert_eq!(mp.mac, want_mac);
    let mut dp = MsgParam::new(p.len(), &n, want_mac);
    assert_eq!(ok(decrypt_message(&s, &mut dp, &a, want_ct), "decrypt"), p);
    // An altered MAC; a text of another length than ulDataLen.
    let mut bad = want_mac.to_vec();
    bad[0] ^= 1;
    let mut dp = MsgParam::new(p.len(), &n, &bad);
    err(
        decrypt_message(&s, &mut dp, &a, want_ct),
        CKR_AEAD_DECRYPT_FAILED,
        "altered MAC",
    );
    let mut mp = MsgParam::new(p.len() + 1, &n, &vec![0; mac_len]);
    err(
        encrypt_message(&s, &mut mp, &a, &p),
        CKR_DATA_LEN_RANGE,
        "ulDataLen",
    );
    // A nonce from the counter generator: written back, and it opens.
    let mut gp = MsgParam::new(5, &[0xa5; 12], &[0; 16]);
    gp.fixed_bits = 32;
    gp.generator = CKG_GENERATE_COUNTER;
    let sealed = ok(encrypt_message(&s, &mut gp, b"", b"hello"), "generated");
    assert_eq!(gp.nonce[..4], [0xa5; 4]);
    let mut dp = MsgParam::new(5, &gp.nonce, &gp.mac);
    assert_eq!(
        ok(decrypt_message(&s, &mut dp, b"", &sealed), "open"),
        b"hello"
    );
    // MAC and nonce lengths CCM does not have.
    for (nonce_len, mac) in [(12, 5), (6, 16), (14, 16)] {
        let mut bp = MsgParam::new(5, &vec![0; nonce_len], &vec![0; mac]);
        err(
            encrypt_message(&s, &mut bp, b"", b"hello"),
            CKR_MECHANISM_PARAM_INVALID,
            "lengths",
        );
    }
    // Example 2 again in parts: C_EncryptMessageBegin, then Next calls,
    // the MAC with the last.
    let mut bp = MsgParam::new(p.len(), &n, &vec![0; mac_len]);
    let (pp, pl) = bp.ptr();
    let mut aad = a.clone();
    ok(
        rv(ck!(
            s.f,
            C_EncryptMessageBegin(s.h, pp, pl, aad.as_mut_ptr(), ulong(aad.len()))
        )),
        "C_EncryptMessageBegin",
    );
    let mut parts = Vec::new();
    for (i, piece) in p.chunks(5).enumerate() {
        let last = (i + 1) * 5 >= p.len();
        let (pp, pl) = bp.ptr();
        let mut d = piece.to_vec();
        let mut o = vec![0u8; piece.len() + 16];
        let mut len = ulong(o.len());
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
                    &mut len,
                    if last { CKF_END_OF_MESSAGE } else { 0 }
                )
            )),
            "C_EncryptMessageNext",
        );
        o.truncate(usize_of(len));
        assert_eq!(o.len(), piece.len(), "each part's ciphertext comes with it");
        parts.extend(o);
    }
    assert_eq!(parts, want_ct);
    assert_eq!(bp.mac, want_mac);
    ok(rv(ck!(s.f, C_MessageEncryptFinal(s.h))), "final");
    ok(rv(ck!(s.f, C_MessageDecryptFinal(s.h))), "final");
}
