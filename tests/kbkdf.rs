//! NIST SP 800-108 KDFs through the C ABI (PKCS#11 3.0 §2.42):
//! CKM_SP800_108_COUNTER_KDF, CKM_SP800_108_FEEDBACK_KDF and
//! CKM_SP800_108_DOUBLE_PIPELINE_KDF against NIST CAVP vectors (read back as
//! CKA_VALUE of extractable derived generic secrets), additional derived
//! keys (CK_DERIVED_KEY) made as one set or not at all, the parameter rules
//! (CKR_MECHANISM_PARAM_INVALID), base key checks and C_GetMechanismInfo.
//!
//! Vectors: NIST CAVP "SP800-108 - KDF" response files KDFCTR_gen.rsp
//! (CAVS 14.4), KDFFeedback_gen.rsp (FeedbackModeNOzeroiv and
//! FeedbackModenocounter, CAVS 12.0) and KDFDblPipeline_gen.rsp
//! (PipelineModewithCounter, CAVS 12.0), as vendored by RustCrypto/KDFs in
//! kbkdf/tests/data/. Each test names the section and COUNT.

mod common;

use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;

use common::lifecycle::*;
use common::ops::*;
use common::raw::Tmpl;
use common::unhex;
use cryptoki_sys::*;

/// One CK_PRF_DATA_PARAM as a test wants it.
#[derive(Clone)]
enum Data {
    /// CK_SP800_108_ITERATION_VARIABLE with a counter format (big-endian,
    /// this many bits), or NULL/0.
    Iter(Option<CK_ULONG>),
    /// CK_SP800_108_OPTIONAL_COUNTER, big-endian, this many bits.
    Ctr(CK_ULONG),
    /// CK_SP800_108_DKM_LENGTH: method, big-endian, bits.
    Dkm(CK_ULONG, CK_ULONG),
    /// CK_SP800_108_BYTE_ARRAY.
    Bytes(Vec<u8>),
    /// Any type with these raw value bytes (wrong sizes, unknown types).
    Raw(CK_ULONG, Vec<u8>),
}

/// An SP 800-108 mechanism parameter, built into C structures per call.
#[derive(Clone)]
struct Kdf {
    ty: CK_MECHANISM_TYPE,
    prf: CK_MECHANISM_TYPE,
    data: Vec<Data>,
    /// The feedback structure's IV (ignored by the other mechanisms).
    iv: Vec<u8>,
    /// A NULL pIV with this ulIVLen (feedback only).
    null_iv_len: Option<CK_ULONG>,
    /// Makers of the additional keys' templates (a template owns its
    /// buffers and is made afresh per call).
    extra: Vec<Rc<dyn Fn() -> Tmpl>>,
    /// ulAdditionalDerivedKeys given with a NULL array.
    null_extra_count: Option<CK_ULONG>,
    /// The parameter length the caller claims (None: the structure's).
    param_len: Option<CK_ULONG>,
}

impl Kdf {
    fn new(ty: CK_MECHANISM_TYPE, prf: CK_MECHANISM_TYPE, data: Vec<Data>) -> Self {
        Kdf {
            ty,
            prf,
            data,
            iv: Vec::new(),
            null_iv_len: None,
            extra: Vec::new(),
            null_extra_count: None,
            param_len: None,
        }
    }

    fn iv(mut self, iv: &[u8]) -> Self {
        self.iv = iv.to_vec();
        self
    }

    fn extra(mut self, t: impl Fn() -> Tmpl + 'static) -> Self {
        self.extra.push(Rc::new(t));
        self
    }

    /// C_DeriveKey: the main key's result and the additional handles as
    /// the module left them (each starts at 0x5a5a).
    fn derive(
        &mut self,
        s: &Sess,
        base: CK_OBJECT_HANDLE,
        mut t: Tmpl,
    ) -> (Rv<CK_OBJECT_HANDLE>, Vec<CK_OBJECT_HANDLE>) {
        let mut counters: Vec<Box<CK_SP800_108_COUNTER_FORMAT>> = Vec::new();
        let mut dkms: Vec<Box<CK_SP800_108_DKM_LENGTH_FORMAT>> = Vec::new();
        let mut params = Vec::new();
        for d in &mut self.data {
            let (ty, p, n): (CK_ULONG, *mut c_void, usize) = match d {
                Data::Iter(None) => (CK_SP800_108_ITERATION_VARIABLE, ptr::null_mut(), 0),
                Data::Iter(Some(bits)) | Data::Ctr(bits) => {
                    let mut b = Box::new(CK_SP800_108_COUNTER_FORMAT {
                        bLittleEndian: 0,
                        ulWidthInBits: *bits,
                    });
                    let p = (&mut *b as *mut CK_SP800_108_COUNTER_FORMAT).cast();
                    counters.push(b);
                    let ty = if matches!(d, Data::Ctr(_)) {
                        CK_SP800_108_OPTIONAL_COUNTER
                    } else {
                        CK_SP800_108_ITERATION_VARIABLE
                    };
                    (ty, p, size_of::<CK_SP800_108_COUNTER_FORMAT>())
                }
                Data::Dkm(method, bits) => {
                    let mut b = Box::new(CK_SP800_108_DKM_LENGTH_FORMAT {
                        dkmLengthMethod: *method,
                        bLittleEndian: 0,
                        ulWidthInBits: *bits,
                    });
                    let p = (&mut *b as *mut CK_SP800_108_DKM_LENGTH_FORMAT).cast();
                    dkms.push(b);
                    (
                        CK_SP800_108_DKM_LENGTH,
                        p,
                        size_of::<CK_SP800_108_DKM_LENGTH_FORMAT>(),
                    )
                }
                Data::Bytes(v) => (CK_SP800_108_BYTE_ARRAY, v.as_mut_ptr().cast(), v.len()),
                Data::Raw(ty, v) => (*ty, v.as_mut_ptr().cast(), v.len()),
            };
            params.push(CK_PRF_DATA_PARAM {
                type_: ty,
                pValue: p,
                ulValueLen: n as CK_ULONG,
            });
        }
        let mut handles = vec![0x5a5a as CK_OBJECT_HANDLE; self.extra.len()];
        let mut tmpls: Vec<Tmpl> = self.extra.iter().map(|f| f()).collect();
        let mut keys: Vec<CK_DERIVED_KEY> = tmpls
            .iter_mut()
            .zip(handles.iter_mut())
            .map(|(t, h)| {
                let (p, n) = t.as_mut();
                CK_DERIVED_KEY {
                    pTemplate: p,
                    ulAttributeCount: n,
                    phKey: h,
                }
            })
            .collect();
        let (pkeys, nkeys) = match self.null_extra_count {
            Some(n) => (ptr::null_mut(), n),
            None if keys.is_empty() => (ptr::null_mut(), 0),
            None => (keys.as_mut_ptr(), keys.len() as CK_ULONG),
        };
        let (piv, niv) = match self.null_iv_len {
            Some(n) => (ptr::null_mut(), n),
            None if self.iv.is_empty() => (ptr::null_mut(), 0),
            None => (self.iv.as_mut_ptr(), self.iv.len() as CK_ULONG),
        };
        let mut plain = CK_SP800_108_KDF_PARAMS {
            prfType: self.prf,
            ulNumberOfDataParams: params.len() as CK_ULONG,
            pDataParams: params.as_mut_ptr(),
            ulAdditionalDerivedKeys: nkeys,
            pAdditionalDerivedKeys: pkeys,
        };
        let mut feedback = CK_SP800_108_FEEDBACK_KDF_PARAMS {
            prfType: self.prf,
            ulNumberOfDataParams: params.len() as CK_ULONG,
            pDataParams: params.as_mut_ptr(),
            ulIVLen: niv,
            pIV: piv,
            ulAdditionalDerivedKeys: nkeys,
            pAdditionalDerivedKeys: pkeys,
        };
        let (p, n): (*mut c_void, usize) = if self.ty == CKM_SP800_108_FEEDBACK_KDF {
            (
                (&mut feedback as *mut CK_SP800_108_FEEDBACK_KDF_PARAMS).cast(),
                size_of_val(&feedback),
            )
        } else {
            (
                (&mut plain as *mut CK_SP800_108_KDF_PARAMS).cast(),
                size_of_val(&plain),
            )
        };
        let mut m = CK_MECHANISM {
            mechanism: self.ty,
            pParameter: p,
            ulParameterLen: self.param_len.unwrap_or(n as CK_ULONG),
        };
        let (pt, nt) = t.as_mut();
        let mut o = CK_INVALID_HANDLE;
        let func = s.f.C_DeriveKey.expect("C_DeriveKey");
        // SAFETY: every pointer in the mechanism, the template and the
        // handles points into values owned by this frame or `self`.
        let r = unsafe { func(s.h, &mut m, base, pt, nt, &mut o) };
        drop((counters, dkms));
        (if r == CKR_OK { Ok(o) } else { Err(r) }, handles)
    }

    /// The main key's value, or the CK_RV.
    fn value(&mut self, s: &Sess, base: CK_OBJECT_HANDLE, len: usize) -> Rv<Vec<u8>> {
        let k = self.derive(s, base, readable(len)).0?;
        Ok(s.attr_ok(k, CKA_VALUE))
    }
}

/// A base key of `key_type` with CKA_DERIVE as given.
fn base(s: &Sess, key_type: CK_KEY_TYPE, value: &[u8], derive: bool) -> CK_OBJECT_HANDLE {
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, derive);
    ok(s.create(t), "import the base key")
}

/// A readable session generic secret of `len` bytes.
fn readable(len: usize) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .ulong(CKA_VALUE_LEN, len as CK_ULONG)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
}

const CTR: CK_MECHANISM_TYPE = CKM_SP800_108_COUNTER_KDF;
const FB: CK_MECHANISM_TYPE = CKM_SP800_108_FEEDBACK_KDF;
const DP: CK_MECHANISM_TYPE = CKM_SP800_108_DOUBLE_PIPELINE_KDF;

#[test]
fn counter_mode_cavp() {
    let m = Module::start("");
    let s = m.ready();
    // KDFCTR_gen.rsp [PRF=CMAC_AES128] [CTRLOCATION=BEFORE_FIXED]
    // [RLEN=8_BITS] COUNT=10, L = 256.
    let k = base(
        &s,
        CKK_AES,
        &unhex("682e814d872397eba71170a693514904"),
        true,
    );
    let fixed = unhex(
        "e323cdfa7873a0d72cd86ffb4468744f097db60498f7d0e3a43bafd2d1af675e4a88338723b12361\
         99705357c47bf1d89b2f4617a340980e6331625c",
    );
    let mut kdf = Kdf::new(
        CTR,
        CKM_AES_CMAC,
        vec![Data::Iter(Some(8)), Data::Bytes(fixed)],
    );
    assert_eq!(
        ok(kdf.value(&s, k, 32), "counter before, CMAC"),
        unhex("dac9b6ca405749cfb065a0f1e42c7c4224d3d5db32fdafe9dee6ca193316f2c7")
    );

    // KDFCTR_gen.rsp [PRF=HMAC_SHA256] [CTRLOCATION=AFTER_FIXED]
    // [RLEN=16_BITS] COUNT=10 (L = 256) and COUNT=30 (L = 320).
    let after = [
        (
            "ddc31690f2b9e18fb7ac80070a87d9f7690d6df6aca9a9e00c30926064693439",
            "b0d0a6ff3e3a52578501162619d245dda7c9bdd946defb3cf58aca79d5a1891d014fe1b1ff70a940\
             8c91f8e8b6cdcf4e758d1d509344b24a94ceffb0",
            "2a2312ea806358a96aa5ab8b639175932da090b1b60ab70ce111ac8322cb673a",
        ),
        (
            "357e401a680c447f2fb0e25171d8784d25ce9a4400bbfe04710526e98c69d347",
            "32d6f66942c9a7cb28be7a58edd6e7e59850cf813014735284c276f39f4cbdea20ecfc8fd4fdc1ab\
             e3f7df78dddadf33f5e822ab771b29d2d5d2d384",
            "cc877a51b8bf6dca6c622822706732eb82cc4d666865f65cb797df896a3aae7d532f67670bead853",
        ),
    ];
    for (ki, fixed, ko) in after {
        let k = base(&s, CKK_GENERIC_SECRET, &unhex(ki), true);
        let mut kdf = Kdf::new(
            CTR,
            CKM_SHA256_HMAC,
            vec![Data::Bytes(unhex(fixed)), Data::Iter(Some(16))],
        );
        let want = unhex(ko);
        assert_eq!(
            ok(kdf.value(&s, k, want.len()), "counter after, HMAC"),
            want
        );
    }

    // KDFCTR_gen.rsp [PRF=HMAC_SHA256] [CTRLOCATION=MIDDLE_FIXED]
    // [RLEN=32_BITS] COUNT=10, L = 256; an HMAC key type works as a
    // generic secret does.
    let k = base(
        &s,
        CKK_SHA256_HMAC,
        &unhex("6f46aa299e6d258b2c839ce0ac7345765a8be915c861f36ee59367e40435f572"),
        true,
    );
    let before = unhex(
        "c28c15632788cc88f00dddc6dbb014c5c492fb56746b59e61f206cd9e4389a954c74bf01aa26af758b9e\
         92287ccfe59a980a",
    );
    let mut kdf = Kdf::new(
        CTR,
        CKM_SHA256_HMAC,
        vec![
            Data::Bytes(before),
            Data::Iter(Some(32)),
            Data::Bytes(unhex("db58244c38e9c1e8f66c")),
        ],
    );
    assert_eq!(
        ok(kdf.value(&s, k, 32), "counter middle, HMAC"),
        unhex("25186585b2069fd280b098abe1d22dc80b12925daa36878514dc0c9aae24c285")
    );
}

#[test]
fn feedback_mode_cavp() {
    let m = Module::start("");
    let s = m.ready();
    // KDFFeedback_gen.rsp (FeedbackModeNOzeroiv) [PRF=CMAC_AES128]
    // [CTRLOCATION=BEFORE_ITER] [RLEN=8_BITS] COUNT=0, L = 512.
    let k = base(
        &s,
        CKK_AES,
        &unhex("6874c099a14942d5bcd823183a4ceb9c"),
        true,
    );
    let fixed = unhex(
        "0909d62821ec989fe16d6d77358126d272fff3e2dc4795c5a9421bee65be679b9f651668fdbc2c13d2ef\
         4932f8830b56e5e1e0",
    );
    let mut kdf = Kdf::new(
        FB,
        CKM_AES_CMAC,
        vec![Data::Ctr(8), Data::Iter(None), Data::Bytes(fixed)],
    )
    .iv(&unhex("4ab31c84730527fbf008e446501bb26a"));
    assert_eq!(
        ok(kdf.value(&s, k, 64), "feedback with counter"),
        unhex(
            "265062a5de896edbfc0d071bdfb6dfd18901f3786cee3c401e53c198e80e78bab17c7049c723d4cd\
             9d334952509c44d7e7bc16627a1e7177b80157a3c56ac21b"
        )
    );
    // KDFFeedback_gen.rsp (FeedbackModeNOzeroiv) [PRF=HMAC_SHA256]
    // [CTRLOCATION=BEFORE_ITER] [RLEN=8_BITS] COUNT=0, L = 512.
    let k = base(
        &s,
        CKK_GENERIC_SECRET,
        &unhex("92932c30ddc5694519d12f9736244adbaa7f7a67bd4700351cfb790f5ee87629"),
        true,
    );
    let fixed = unhex(
        "976cb98760e2345780697150186ba5bc9844c366cf2f6e0c5091862433353509155f5250e8ae00397e25\
         5ce2d2dc2a11a2c496",
    );
    let mut kdf = Kdf::new(
        FB,
        CKM_SHA256_HMAC,
        vec![Data::Ctr(8), Data::Iter(None), Data::Bytes(fixed)],
    )
    .iv(&unhex(
        "244cf150553ce64742b326b94909cba60d957837bdde2b027f16cd054ec5462d",
    ));
    assert_eq!(
        ok(kdf.value(&s, k, 64), "feedback with counter, HMAC"),
        unhex(
            "78b4f43b362c4de5ad320f3dbbaa1e36b4caa306eeffe58070195fceb6f9a3a1144e62ebbe28ed0c\
             09e672ccf2a84d3ce436ee94db62f60a5079e37f767af35a"
        )
    );
    // KDFFeedback_gen.rsp (FeedbackModenocounter) [PRF=CMAC_AES128]
    // COUNT=0 (with an IV) and COUNT=5 (IVlen = 0), L = 512.
    let cases = [
        (
            "5c996c922f65de97d4408373229814c6",
            "28dc945cb8337ab5336c3e9b5bad21c7",
            "62afe5fed91e797221a854336b0aadd8a05ad0e3c8345729897b2efcec5a1178a2fa4c063007b67a\
             7015e0d6b7271ea8d86b44",
            "88a9aae193abdd3fe8143bab66014ae41dc2d12ea9d08f5871588fc5d827924eb9942989d7a36d4b\
             3b107997566472cad5942bd13cb5cff32b9dae30f1bb6300",
        ),
        (
            "aaa7a1f04e701fd35f445059bc062ad6",
            "",
            "932cfcf8e62d03794dc58cd90b9fb9498ec1309773e4a095edc06717c016eb858a7b1e7b828c3639\
             d78bbb8bf1381ed0c352b2",
            "dea320c6cece7d8dca32475aa91ad39ec92ecac3b16c0eea86d69561434c9f41136333bde3f1d33c\
             fe9bcd9accf14284dd82ebe8fe083533f44f490565583cb8",
        ),
    ];
    for (ki, iv, fixed, ko) in cases {
        let k = base(&s, CKK_AES, &unhex(ki), true);
        let mut kdf = Kdf::new(
            FB,
            CKM_AES_CMAC,
            vec![Data::Iter(None), Data::Bytes(unhex(fixed))],
        )
        .iv(&unhex(iv));
        assert_eq!(
            ok(kdf.value(&s, k, 64), "feedback without counter"),
            unhex(ko)
        );
    }
}

#[test]
fn double_pipeline_cavp() {
    let m = Module::start("");
    let s = m.ready();
    // KDFDblPipeline_gen.rsp (PipelineModewithCounter) [PRF=CMAC_AES128]
    // [CTRLOCATION=BEFORE_ITER] [RLEN=8_BITS] COUNT=0 (L = 512) and
    // COUNT=20 (L = 560: the last segment cut).
    let cases = [
        (
            "c6254d95dd108e9bb29e0053ddeec351",
            "22f498fc9b8d4b72188bce30ba9875fc2b0eb3fe76874d85426e6e5b3b237c9f445f2da20a60ab18\
             9802e2c152c4a3602aa342",
            "1e133a952df55a11ee038120375f61e7c0162842c817160693b1f39dc0b795bc6f3691db775cf3af\
             4b0a9f69fecbe99679fd4b4873dda743f5c6a2d2e873f26d",
        ),
        (
            "d92dc7b9d007fc49734bc931ef8554e9",
            "a19d29ed42b369494d6547d8b5f1203078f2e49a85bd4cc8ff71657c10dca7f78f4bb7429063976b\
             1124b031edfeffe2cc5951",
            "de6dee3c072fdd13b14f593a6ecef83e83b8af85149be566e32ffcceafa09e6727f642b4ccd106de\
             370cab0d24cc77ea8a309ed0ccde326110b7bc58b07a7f82f2016df6433e",
        ),
    ];
    // [PRF=HMAC_SHA256] [CTRLOCATION=BEFORE_ITER] [RLEN=16_BITS] COUNT=0.
    let k = base(
        &s,
        CKK_GENERIC_SECRET,
        &unhex("ca265112c6ac7a5d83adf805dc6783bd33cef03a97494f6384657d1ac1503a6c"),
        true,
    );
    let fixed = unhex(
        "3cb92312196576ba8c936ed792851a0de8c184f26ae359323b47583abeeb7b46687ad068be8999158d1a\
         554c86ead8af294600",
    );
    let mut kdf = Kdf::new(
        DP,
        CKM_SHA256_HMAC,
        vec![Data::Ctr(16), Data::Iter(None), Data::Bytes(fixed)],
    );
    assert_eq!(
        ok(kdf.value(&s, k, 64), "double pipeline, HMAC"),
        unhex(
            "77dc175bbb95e259304b17ca3ea8ab79f99e22d0095537a46b347efe26699a50dc03072630400677\
             a954fcca1abdfb8f89568db4338ea21115165076e7b8ab2b"
        )
    );
    for (ki, fixed, ko) in cases {
        let k = base(&s, CKK_AES, &unhex(ki), true);
        let mut kdf = Kdf::new(
            DP,
            CKM_AES_CMAC,
            vec![Data::Ctr(8), Data::Iter(None), Data::Bytes(unhex(fixed))],
        );
        let want = unhex(ko);
        assert_eq!(ok(kdf.value(&s, k, want.len()), "double pipeline"), want);
    }
}

/// Two 32-byte keys from one call are the two halves of one 64-byte
/// derivation with the same parameters: with HMAC-SHA256 each key takes
/// whole segments, and the DKM length (SUM_OF_KEYS) is 512 bits both ways.
#[test]
fn additional_keys_continue_the_stream() {
    let m = Module::start("");
    let s = m.ready();
    let k = base(&s, CKK_GENERIC_SECRET, &[0x42; 32], true);
    for (ty, data) in [
        (
            CTR,
            vec![
                Data::Iter(Some(32)),
                Data::Bytes(b"label".to_vec()),
                Data::Dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, 16),
            ],
        ),
        (
            FB,
            vec![
                Data::Iter(None),
                Data::Ctr(16),
                Data::Dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS, 32),
            ],
        ),
        (DP, vec![Data::Iter(None), Data::Bytes(vec![7; 9])]),
    ] {
        let one = Kdf::new(ty, CKM_SHA256_HMAC, data).iv(&[1; 32]);
        let whole = ok(one.clone().value(&s, k, 64), "one 64-byte key");
        let mut two = one.extra(|| readable(32));
        let (main, more) = two.derive(&s, k, readable(32));
        let main = ok(main, "two 32-byte keys");
        assert_eq!(more.len(), 1);
        assert_ne!(more[0], CK_INVALID_HANDLE);
        assert_ne!(more[0], 0x5a5a, "the additional handle was written");
        assert_eq!(s.attr_ok(main, CKA_VALUE), whole[..32].to_vec(), "{ty:#x}");
        assert_eq!(
            s.attr_ok(more[0], CKA_VALUE),
            whole[32..].to_vec(),
            "{ty:#x}"
        );
        assert!(!s.attr_bool(more[0], CKA_LOCAL));
    }
    // An additional AES key of its own type and length, sensitive by
    // default when its base is: it is a key, not readable.
    let sens = {
        let t = Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .bytes(CKA_VALUE, &[0x42; 32])
            .bool(CKA_TOKEN, false)
            .bool(CKA_SENSITIVE, true)
            .bool(CKA_DERIVE, true);
        ok(s.create(t), "sensitive base")
    };
    let aes = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .ulong(CKA_VALUE_LEN, 16)
            .bool(CKA_TOKEN, false)
            .bool(CKA_ENCRYPT, true)
    };
    let mut kdf = Kdf::new(CTR, CKM_SHA256_HMAC, vec![Data::Iter(Some(8))]).extra(aes);
    let main = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .ulong(CKA_VALUE_LEN, 16)
        .bool(CKA_TOKEN, false);
    let (r, more) = kdf.derive(&s, sens, main);
    let main = ok(r, "main and AES key");
    assert!(
        s.attr_bool(more[0], CKA_SENSITIVE),
        "inherits CKA_SENSITIVE"
    );
    assert!(s.attr_bool(main, CKA_SENSITIVE));
    assert_eq!(s.attr_ulong(more[0], CKA_KEY_TYPE), CKK_AES);
    assert_eq!(s.attr_ulong(more[0], CKA_VALUE_LEN), 16);
    ok(
        s.encrypt_once(&Mech::new(CKM_AES_ECB), more[0], &[0u8; 16]),
        "the additional AES key encrypts",
    );
}

/// An additional key whose template is bad fails the whole call: no main
/// key, no other additional key is left, and every additional handle
/// reads CK_INVALID_HANDLE.
#[test]
fn a_bad_additional_template_leaves_no_key() {
    let m = Module::start("");
    let s = m.ready();
    let k = base(&s, CKK_GENERIC_SECRET, &[9; 32], true);
    let labelled = |label: &str, token: bool| {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 32)
            .bool(CKA_TOKEN, token)
            .bytes(CKA_LABEL, label.as_bytes())
    };
    let bad_aes = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .ulong(CKA_VALUE_LEN, 17)
            .bytes(CKA_LABEL, b"kbkdf-bad")
    };
    let with_value = move || labelled("kbkdf-bad", true).bytes(CKA_VALUE, &[1; 32]);
    let no_len = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .bytes(CKA_LABEL, b"kbkdf-bad")
    };
    // Refused only once the key is built (the role, and the base key's
    // history, are checked then): by that time the keys before it exist
    // as objects, and must not reach the store.
    let trusted = move || labelled("kbkdf-bad", true).bool(CKA_TRUSTED, true);
    let never_extractable = move || {
        labelled("kbkdf-bad", true)
            .bool(CKA_EXTRACTABLE, false)
            .bool(CKA_NEVER_EXTRACTABLE, true)
    };
    let bads: [(Rc<dyn Fn() -> Tmpl>, CK_RV); 5] = [
        (Rc::new(bad_aes), CKR_ATTRIBUTE_VALUE_INVALID),
        (Rc::new(with_value), CKR_ATTRIBUTE_READ_ONLY),
        (Rc::new(no_len), CKR_TEMPLATE_INCOMPLETE),
        (Rc::new(trusted), CKR_ATTRIBUTE_READ_ONLY),
        (Rc::new(never_extractable), CKR_ATTRIBUTE_READ_ONLY),
    ];
    for (bad, want) in bads {
        let mut kdf = Kdf::new(CTR, CKM_SHA256_HMAC, vec![Data::Iter(Some(8))])
            .extra(move || labelled("kbkdf-first", true))
            .extra(move || bad())
            .extra(move || labelled("kbkdf-last", false));
        let (r, more) = kdf.derive(&s, k, labelled("kbkdf-main", true));
        assert_eq!(r, Err(want));
        assert_eq!(more, vec![CK_INVALID_HANDLE; 3]);
        for label in ["kbkdf-main", "kbkdf-first", "kbkdf-bad", "kbkdf-last"] {
            let found = ok(
                s.find(Tmpl::new().bytes(CKA_LABEL, label.as_bytes())),
                "find",
            );
            assert!(found.is_empty(), "{label} left behind");
        }
    }
    // The same set with good templates is stored, token keys included.
    let mut kdf = Kdf::new(CTR, CKM_SHA256_HMAC, vec![Data::Iter(Some(8))])
        .extra(move || labelled("kbkdf-first", true))
        .extra(move || labelled("kbkdf-last", false));
    let (r, more) = kdf.derive(&s, k, labelled("kbkdf-main", true));
    ok(r, "good set");
    assert!(s.attr_bool(more[0], CKA_TOKEN));
    for label in ["kbkdf-main", "kbkdf-first", "kbkdf-last"] {
        let found = ok(
            s.find(Tmpl::new().bytes(CKA_LABEL, label.as_bytes())),
            "find",
        );
        assert_eq!(found.len(), 1, "{label}");
    }
}

/// Every parameter rule of §2.42 broken, one at a time.
#[test]
fn parameter_rules_are_mechanism_param_invalid() {
    let m = Module::start("");
    let s = m.ready();
    let k = base(&s, CKK_GENERIC_SECRET, &[3; 32], true);
    let good_ctr = Kdf::new(CTR, CKM_SHA256_HMAC, vec![Data::Iter(Some(8))]);
    let good_fb = Kdf::new(FB, CKM_SHA256_HMAC, vec![Data::Iter(None)]);
    ok(
        good_ctr.clone().value(&s, k, 32),
        "the good counter parameter",
    );
    ok(
        good_fb.clone().value(&s, k, 32),
        "the good feedback parameter",
    );
    let counter_fmt = 16usize; // sizeof(CK_SP800_108_COUNTER_FORMAT)
    let dkm = |method, bits| Data::Dkm(method, bits);
    let keys = CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS;
    let with = |base: &Kdf, data: Vec<Data>| Kdf {
        data,
        ..base.clone()
    };
    let cases: Vec<(&str, Kdf)> = vec![
        ("no data", with(&good_ctr, vec![])),
        (
            "no iteration variable",
            with(&good_ctr, vec![Data::Bytes(vec![1])]),
        ),
        (
            "two iteration variables",
            with(&good_ctr, vec![Data::Iter(Some(8)), Data::Iter(Some(8))]),
        ),
        (
            "counter mode without format",
            with(&good_ctr, vec![Data::Iter(None)]),
        ),
        (
            "feedback with a format",
            with(&good_fb, vec![Data::Iter(Some(8))]),
        ),
        (
            "double pipeline with a format",
            Kdf::new(DP, CKM_SHA256_HMAC, vec![Data::Iter(Some(8))]),
        ),
        (
            "optional counter in counter mode",
            with(&good_ctr, vec![Data::Iter(Some(8)), Data::Ctr(8)]),
        ),
        (
            "two optional counters",
            with(&good_fb, vec![Data::Iter(None), Data::Ctr(8), Data::Ctr(8)]),
        ),
        (
            "two DKM lengths",
            with(
                &good_ctr,
                vec![Data::Iter(Some(8)), dkm(keys, 16), dkm(keys, 16)],
            ),
        ),
        (
            "DKM method",
            with(&good_ctr, vec![Data::Iter(Some(8)), dkm(3, 16)]),
        ),
        (
            "DKM width",
            with(&good_ctr, vec![Data::Iter(Some(8)), dkm(keys, 12)]),
        ),
        (
            "DKM too narrow for L",
            with(&good_ctr, vec![Data::Iter(Some(8)), dkm(keys, 8)]),
        ),
        (
            "counter width 12",
            with(&good_ctr, vec![Data::Iter(Some(12))]),
        ),
        (
            "counter width 64",
            with(&good_ctr, vec![Data::Iter(Some(64))]),
        ),
        (
            "optional counter width 0",
            with(&good_fb, vec![Data::Iter(None), Data::Ctr(0)]),
        ),
        (
            "empty byte array",
            with(&good_ctr, vec![Data::Iter(Some(8)), Data::Bytes(vec![])]),
        ),
        (
            "counter format of the wrong size",
            with(
                &good_ctr,
                vec![Data::Raw(
                    CK_SP800_108_ITERATION_VARIABLE,
                    vec![0; counter_fmt - 1],
                )],
            ),
        ),
        (
            "unknown data type",
            with(&good_ctr, vec![Data::Iter(Some(8)), Data::Raw(99, vec![1])]),
        ),
        (
            "key handle data (not offered)",
            with(
                &good_ctr,
                vec![
                    Data::Iter(Some(8)),
                    Data::Raw(CK_SP800_108_KEY_HANDLE, vec![0; 8]),
                ],
            ),
        ),
        (
            "PRF not in the table",
            Kdf {
                prf: CKM_SHA256,
                ..good_ctr.clone()
            },
        ),
        (
            "DES3 CMAC PRF",
            Kdf {
                prf: CKM_DES3_CMAC,
                ..good_ctr.clone()
            },
        ),
        (
            "NULL pIV with a length",
            Kdf {
                null_iv_len: Some(16),
                ..good_fb.clone()
            },
        ),
        (
            "additional count with NULL array",
            Kdf {
                null_extra_count: Some(1),
                ..good_ctr.clone()
            },
        ),
        (
            "parameter length",
            Kdf {
                param_len: Some(8),
                ..good_ctr.clone()
            },
        ),
        (
            "feedback structure for counter mode",
            Kdf {
                ty: FB,
                ..good_ctr.clone()
            },
        ),
    ];
    for (what, mut kdf) in cases {
        assert_eq!(
            kdf.value(&s, k, 32),
            Err(CKR_MECHANISM_PARAM_INVALID),
            "{what}"
        );
    }
    // An 8-bit counter numbers at most 255 segments of HMAC-SHA256: 128
    // for a 4096-byte main key and 127 for a 4064-byte additional key;
    // one more byte needs a 256th.
    for (extra, want) in [(4064, CKR_OK), (4065, CKR_MECHANISM_PARAM_INVALID)] {
        let mut kdf = good_ctr.clone().extra(move || readable(extra));
        let r = kdf.derive(&s, k, readable(4096)).0;
        assert_eq!(r.err().unwrap_or(CKR_OK), want, "{extra}");
    }
}

#[test]
fn base_key_checks() {
    let m = Module::start("");
    let s = m.ready();
    let hmac = Kdf::new(CTR, CKM_SHA256_HMAC, vec![Data::Iter(Some(8))]);
    let cmac = Kdf::new(CTR, CKM_AES_CMAC, vec![Data::Iter(Some(8))]);
    let aes = base(&s, CKK_AES, &[1; 16], true);
    let generic = base(&s, CKK_GENERIC_SECRET, &[1; 16], true);
    let sha384 = base(&s, CKK_SHA384_HMAC, &[1; 16], true);
    assert_eq!(
        hmac.clone().value(&s, aes, 16),
        Err(CKR_KEY_TYPE_INCONSISTENT)
    );
    assert_eq!(
        hmac.clone().value(&s, sha384, 16),
        Err(CKR_KEY_TYPE_INCONSISTENT)
    );
    assert_eq!(
        cmac.clone().value(&s, generic, 16),
        Err(CKR_KEY_TYPE_INCONSISTENT)
    );
    let no_derive = base(&s, CKK_GENERIC_SECRET, &[1; 16], false);
    assert_eq!(
        hmac.clone().value(&s, no_derive, 16),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    // The length must be given: no key type here has a fixed size.
    let no_len = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false);
    assert_eq!(
        hmac.clone().derive(&s, generic, no_len).0,
        Err(CKR_TEMPLATE_INCOMPLETE)
    );
}

#[test]
fn mechanism_info_offers_derive() {
    let m = Module::start("");
    let s = m.ready();
    for ty in [CTR, FB, DP] {
        let info = ok(s.mechanism_info(0, ty), "C_GetMechanismInfo");
        assert_eq!(info.flags, CKF_DERIVE, "{ty:#x}");
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (8, 4096), "bits");
    }
}
