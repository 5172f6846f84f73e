//! C-ABI call sequences: the fuzzer's bytes choose a series of PKCS#11
//! calls (sessions, logins, key generation, object creation with odd
//! templates, finds, attribute reads with short or NULL buffers, sign,
//! encrypt, digest, wrap, operation state, cancel, destroy …) with handles
//! picked from those the module returned, stale ones and random values.
//! The module runs in process through its 3.0 function table on a real
//! token; any panic (even one the ABI layer would catch) aborts the
//! fuzzer, and no call may answer CKR_GENERAL_ERROR.
#![no_main]

use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use cryptoki_sys::*;
use keyward::ffi::function_list::FUNCTION_LIST_3_0;
use libfuzzer_sys::fuzz_target;

const SO_PIN: &[u8] = b"fuzz-so-pin";
const USER_PIN: &[u8] = b"fuzz-user-pin";

/// The fuzzer's bytes, read front to back; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.byte()) % (max + 1);
        let n = n.min(self.0.len());
        let (v, rest) = self.0.split_at(n);
        self.0 = rest;
        v.to_vec()
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

fn f() -> &'static CK_FUNCTION_LIST_3_0 {
    &FUNCTION_LIST_3_0
}

macro_rules! call {
    ($name:ident ( $($arg:expr),* $(,)? )) => {{
        let func = f().$name.expect(stringify!($name));
        // SAFETY: every pointer passed is NULL or points into a live local
        // buffer of at least the length passed with it.
        let rv = unsafe { func($($arg),*) };
        assert_ne!(rv, CKR_GENERAL_ERROR, "{} answered CKR_GENERAL_ERROR", stringify!($name));
        rv
    }};
}

/// A store in a temporary folder with one token whose user PIN is set;
/// cheap PIN hashing and a lockout limit the fuzzer cannot reach.
fn setup() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("keyward-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::create_dir_all(&dir).is_err() {
            return false;
        }
        let conf = dir.join("keyward.toml");
        let text = format!(
            "store_dir = {:?}\npin_kdf_iterations = 1000\nmax_pin_failures = 4000000000\n",
            dir.join("store")
        );
        if std::fs::write(&conf, text).is_err() {
            return false;
        }
        // SAFETY: set once, before the module reads the environment, while
        // no other thread exists in this process.
        unsafe {
            std::env::set_var("KEYWARD_CONF", &conf);
            std::env::remove_var("KEYWARD_STORE");
        }
        let mut label = [b' '; 32];
        label[..4].copy_from_slice(b"fuzz");
        let mut h = 0;
        let ok = call!(C_Initialize(null_mut())) == CKR_OK
            && call!(C_InitToken(
                0,
                SO_PIN.as_ptr() as *mut _,
                SO_PIN.len() as _,
                label.as_mut_ptr()
            )) == CKR_OK
            && call!(C_OpenSession(
                0,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                null_mut(),
                None,
                &mut h
            )) == CKR_OK
            && call!(C_Login(
                h,
                CKU_SO,
                SO_PIN.as_ptr() as *mut _,
                SO_PIN.len() as _
            )) == CKR_OK
            && call!(C_InitPIN(
                h,
                USER_PIN.as_ptr() as *mut _,
                USER_PIN.len() as _
            )) == CKR_OK;
        call!(C_Finalize(null_mut()));
        ok
    })
}

/// Attribute types templates are built from.
const TYPES: [CK_ATTRIBUTE_TYPE; 20] = [
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_VALUE,
    CKA_KEY_TYPE,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_DERIVE,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_EC_PARAMS,
    CKA_MODIFIABLE,
    CKA_TRUSTED,
];

const MECHS: [CK_MECHANISM_TYPE; 12] = [
    CKM_AES_GCM,
    CKM_AES_CBC_PAD,
    CKM_AES_ECB,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_SHA256_HMAC,
    CKM_ECDSA,
    CKM_ECDSA_SHA256,
    CKM_SHA256,
    CKM_RSA_PKCS_OAEP,
    CKM_AES_CMAC,
    CKM_HKDF_DERIVE,
];

struct Template {
    values: Vec<Vec<u8>>,
    attrs: Vec<CK_ATTRIBUTE>,
}

/// Up to 6 attributes; values are booleans, ulongs or raw bytes.
fn template(input: &mut Input<'_>) -> Template {
    let n = usize::from(input.byte() % 7);
    let mut values = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    for _ in 0..n {
        let ty = TYPES[usize::from(input.byte()) % TYPES.len()];
        let v = match input.byte() % 4 {
            0 => vec![1u8],
            1 => vec![0u8],
            2 => CK_ULONG::from(input.byte()).to_ne_bytes().to_vec(),
            _ => input.bytes(48),
        };
        types.push(ty);
        values.push(v);
    }
    let attrs = types
        .iter()
        .zip(values.iter_mut())
        .map(|(ty, v)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: v.len() as CK_ULONG,
        })
        .collect();
    Template { values, attrs }
}

#[derive(Default)]
struct State {
    sessions: Vec<CK_SESSION_HANDLE>,
    objects: Vec<CK_OBJECT_HANDLE>,
}

impl State {
    fn session(&self, input: &mut Input<'_>) -> CK_SESSION_HANDLE {
        let b = input.byte();
        match self
            .sessions
            .get(usize::from(b) % (self.sessions.len() + 1))
        {
            Some(h) => *h,
            None => CK_SESSION_HANDLE::from(b),
        }
    }
    fn object(&self, input: &mut Input<'_>) -> CK_OBJECT_HANDLE {
        let b = input.byte();
        match self.objects.get(usize::from(b) % (self.objects.len() + 1)) {
            Some(h) => *h,
            None => CK_OBJECT_HANDLE::from(b),
        }
    }
}

/// One output buffer case: NULL (length query), too small, or roomy.
fn out_len(input: &mut Input<'_>) -> Option<usize> {
    match input.byte() % 4 {
        0 => None,
        1 => Some(usize::from(input.byte() % 16)),
        _ => Some(4096),
    }
}

/// Runs a single-part call shape `f(session, in, in_len, out, out_len)`.
fn single_part(
    input: &mut Input<'_>,
    st: &State,
    func: unsafe extern "C" fn(
        CK_SESSION_HANDLE,
        CK_BYTE_PTR,
        CK_ULONG,
        CK_BYTE_PTR,
        CK_ULONG_PTR,
    ) -> CK_RV,
) {
    let h = st.session(input);
    let mut data = input.bytes(200);
    let mut out = vec![0u8; 4096];
    let want = out_len(input);
    let mut len = want.unwrap_or(0) as CK_ULONG;
    let out_ptr = if want.is_some() {
        out.as_mut_ptr()
    } else {
        null_mut()
    };
    // SAFETY: data and out are live buffers of at least the lengths given.
    let rv = unsafe {
        func(
            h,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            out_ptr,
            &mut len,
        )
    };
    assert_ne!(rv, CKR_GENERAL_ERROR);
    if rv == CKR_OK && want.is_some() {
        assert!(
            len as usize <= out.len(),
            "reported more output than the buffer holds"
        );
    }
}

fn mechanism(input: &mut Input<'_>, param: &mut Vec<u8>) -> CK_MECHANISM {
    let mech = MECHS[usize::from(input.byte()) % MECHS.len()];
    *param = match mech {
        CKM_AES_GCM => {
            // A well-formed CK_GCM_PARAMS half the time.
            static IV: [u8; 12] = [0; 12];
            let p = CK_GCM_PARAMS {
                // The module only reads the IV.
                pIv: IV.as_ptr().cast_mut(),
                ulIvLen: 12,
                ulIvBits: 96,
                pAAD: null_mut(),
                ulAADLen: 0,
                ulTagBits: CK_ULONG::from(input.byte() % 2) * 64 + 64,
            };
            // SAFETY: CK_GCM_PARAMS is plain old data.
            let raw = unsafe {
                std::slice::from_raw_parts(
                    (&p as *const CK_GCM_PARAMS).cast::<u8>(),
                    size_of::<CK_GCM_PARAMS>(),
                )
            };
            if input.byte() % 2 == 0 {
                raw.to_vec()
            } else {
                input.bytes(40)
            }
        }
        CKM_AES_CBC_PAD => vec![0u8; 16],
        _ => input.bytes(24),
    };
    CK_MECHANISM {
        mechanism: mech,
        pParameter: if param.is_empty() {
            null_mut()
        } else {
            param.as_mut_ptr().cast()
        },
        ulParameterLen: param.len() as CK_ULONG,
    }
}

fn step(input: &mut Input<'_>, st: &mut State) {
    match input.byte() % 22 {
        0 => {
            let flags = match input.byte() % 3 {
                0 => CKF_SERIAL_SESSION,
                1 => CKF_SERIAL_SESSION | CKF_RW_SESSION,
                _ => CK_FLAGS::from(input.byte()),
            };
            let mut h = 0;
            if call!(C_OpenSession(0, flags, null_mut(), None, &mut h)) == CKR_OK {
                st.sessions.push(h);
            }
        }
        1 => {
            let h = st.session(input);
            call!(C_CloseSession(h));
        }
        2 => {
            let h = st.session(input);
            let (user, pin): (CK_USER_TYPE, &[u8]) = match input.byte() % 5 {
                0 | 1 => (CKU_USER, USER_PIN),
                2 => (CKU_SO, SO_PIN),
                3 => (CKU_USER, b"wrong-pin"),
                _ => (CKU_CONTEXT_SPECIFIC, USER_PIN),
            };
            call!(C_Login(h, user, pin.as_ptr() as *mut _, pin.len() as _));
        }
        3 => {
            let h = st.session(input);
            call!(C_Logout(h));
        }
        4 => {
            let h = st.session(input);
            let mut t = template(input);
            let mut mech = CK_MECHANISM {
                mechanism: CKM_AES_KEY_GEN,
                pParameter: null_mut(),
                ulParameterLen: 0,
            };
            if input.byte() % 4 == 0 {
                mech.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
            }
            let mut len = vec![0u8; 0];
            len.extend_from_slice(&(CK_ULONG::from(input.byte() % 4) * 8 + 16).to_ne_bytes());
            t.attrs.push(CK_ATTRIBUTE {
                type_: CKA_VALUE_LEN,
                pValue: len.as_mut_ptr().cast(),
                ulValueLen: len.len() as _,
            });
            let mut k = 0;
            if call!(C_GenerateKey(
                h,
                &mut mech,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _,
                &mut k
            )) == CKR_OK
            {
                st.objects.push(k);
            }
            drop(t.values);
        }
        5 => {
            let h = st.session(input);
            let mut oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
            let mut pubt = template(input);
            pubt.attrs.push(CK_ATTRIBUTE {
                type_: CKA_EC_PARAMS,
                pValue: oid.as_mut_ptr().cast(),
                ulValueLen: oid.len() as _,
            });
            let mut privt = template(input);
            let mut mech = CK_MECHANISM {
                mechanism: CKM_EC_KEY_PAIR_GEN,
                pParameter: null_mut(),
                ulParameterLen: 0,
            };
            let (mut a, mut b) = (0, 0);
            let rv = call!(C_GenerateKeyPair(
                h,
                &mut mech,
                pubt.attrs.as_mut_ptr(),
                pubt.attrs.len() as _,
                privt.attrs.as_mut_ptr(),
                privt.attrs.len() as _,
                &mut a,
                &mut b
            ));
            if rv == CKR_OK {
                st.objects.extend([a, b]);
            }
        }
        6 => {
            let h = st.session(input);
            let mut t = template(input);
            let mut k = 0;
            if call!(C_CreateObject(
                h,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _,
                &mut k
            )) == CKR_OK
            {
                st.objects.push(k);
            }
        }
        7 => {
            let h = st.session(input);
            let mut t = template(input);
            call!(C_FindObjectsInit(
                h,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _
            ));
            let mut found = [0 as CK_OBJECT_HANDLE; 8];
            let mut n = 0;
            let max = CK_ULONG::from(input.byte() % 9);
            if call!(C_FindObjects(h, found.as_mut_ptr(), max, &mut n)) == CKR_OK {
                assert!(n <= max);
                st.objects.extend(found.iter().take(n as usize));
            }
            if input.byte() % 4 != 0 {
                call!(C_FindObjectsFinal(h));
            }
        }
        8 => {
            let h = st.session(input);
            let o = st.object(input);
            let n = usize::from(input.byte() % 5) + 1;
            let mut bufs: Vec<Vec<u8>> = (0..n)
                .map(|_| vec![0u8; usize::from(input.byte() % 80)])
                .collect();
            let mut attrs: Vec<CK_ATTRIBUTE> = bufs
                .iter_mut()
                .map(|b| CK_ATTRIBUTE {
                    type_: TYPES[usize::from(input.byte()) % TYPES.len()],
                    pValue: if b.is_empty() {
                        null_mut()
                    } else {
                        b.as_mut_ptr().cast()
                    },
                    ulValueLen: b.len() as CK_ULONG,
                })
                .collect();
            call!(C_GetAttributeValue(
                h,
                o,
                attrs.as_mut_ptr(),
                attrs.len() as _
            ));
            for (a, b) in attrs.iter().zip(&bufs) {
                assert!(
                    a.ulValueLen == CK_UNAVAILABLE_INFORMATION
                        || b.is_empty()
                        || a.ulValueLen as usize <= b.len()
                );
            }
        }
        9 => {
            let h = st.session(input);
            let o = st.object(input);
            let mut t = template(input);
            call!(C_SetAttributeValue(
                h,
                o,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _
            ));
        }
        10 => {
            let h = st.session(input);
            let o = st.object(input);
            let mut param = Vec::new();
            let mut mech = mechanism(input, &mut param);
            call!(C_SignInit(h, &mut mech, o));
            single_part(input, st, f().C_Sign.expect("C_Sign"));
        }
        11 => {
            let h = st.session(input);
            let o = st.object(input);
            let mut param = Vec::new();
            let mut mech = mechanism(input, &mut param);
            call!(C_EncryptInit(h, &mut mech, o));
            single_part(input, st, f().C_Encrypt.expect("C_Encrypt"));
        }
        12 => {
            let h = st.session(input);
            let o = st.object(input);
            let mut param = Vec::new();
            let mut mech = mechanism(input, &mut param);
            call!(C_DecryptInit(h, &mut mech, o));
            single_part(input, st, f().C_Decrypt.expect("C_Decrypt"));
        }
        13 => {
            let h = st.session(input);
            let mut mech = CK_MECHANISM {
                mechanism: CKM_SHA256,
                pParameter: null_mut(),
                ulParameterLen: 0,
            };
            call!(C_DigestInit(h, &mut mech));
            if input.byte() % 2 == 0 {
                let mut data = input.bytes(64);
                call!(C_DigestUpdate(h, data.as_mut_ptr(), data.len() as _));
            }
            single_part(input, st, f().C_Digest.expect("C_Digest"));
        }
        14 => {
            let h = st.session(input);
            let o = st.object(input);
            if call!(C_DestroyObject(h, o)) == CKR_OK {
                st.objects.retain(|x| *x != o);
            }
        }
        15 => {
            let h = st.session(input);
            let (wrapping, key) = (st.object(input), st.object(input));
            let mut param = Vec::new();
            let mut mech = mechanism(input, &mut param);
            let mut out = vec![0u8; 4096];
            let mut len = out_len(input).unwrap_or(0) as CK_ULONG;
            let rv = call!(C_WrapKey(
                h,
                &mut mech,
                wrapping,
                key,
                out.as_mut_ptr(),
                &mut len
            ));
            if rv == CKR_OK {
                let mut t = template(input);
                let mut k = 0;
                let rv = call!(C_UnwrapKey(
                    h,
                    &mut mech,
                    wrapping,
                    out.as_mut_ptr(),
                    len,
                    t.attrs.as_mut_ptr(),
                    t.attrs.len() as _,
                    &mut k
                ));
                if rv == CKR_OK {
                    st.objects.push(k);
                }
            }
        }
        16 => {
            let h = st.session(input);
            let o = st.object(input);
            let mut t = template(input);
            let mut k = 0;
            if call!(C_CopyObject(
                h,
                o,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _,
                &mut k
            )) == CKR_OK
            {
                st.objects.push(k);
            }
        }
        17 => {
            let h = st.session(input);
            let mut buf = vec![0u8; 8192];
            let mut len = buf.len() as CK_ULONG;
            if call!(C_GetOperationState(h, buf.as_mut_ptr(), &mut len)) == CKR_OK {
                let to = st.session(input);
                if let Some(b) = buf.get_mut(usize::from(input.byte())) {
                    *b ^= input.byte();
                }
                call!(C_SetOperationState(to, buf.as_mut_ptr(), len, 0, 0));
            }
        }
        18 => {
            let h = st.session(input);
            // 3.0 cancel: an Init with a NULL mechanism.
            match input.byte() % 3 {
                0 => call!(C_SignInit(h, null_mut(), 0)),
                1 => call!(C_EncryptInit(h, null_mut(), 0)),
                _ => call!(C_SessionCancel(
                    h,
                    CKF_SIGN | CKF_ENCRYPT | CKF_DECRYPT | CKF_FIND_OBJECTS
                )),
            };
        }
        19 => {
            let h = st.session(input);
            let o = st.object(input);
            let mut param = Vec::new();
            let mut mech = mechanism(input, &mut param);
            call!(C_VerifyInit(h, &mut mech, o));
            let mut data = input.bytes(64);
            let mut sig = input.bytes(128);
            call!(C_Verify(
                h,
                data.as_mut_ptr(),
                data.len() as _,
                sig.as_mut_ptr(),
                sig.len() as _
            ));
        }
        20 => {
            let h = st.session(input);
            let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
            call!(C_GetSessionInfo(h, &mut info));
            let mut tinfo: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
            call!(C_GetTokenInfo(0, &mut tinfo));
            let mut rnd = vec![0u8; usize::from(input.byte())];
            call!(C_GenerateRandom(
                h,
                if rnd.is_empty() {
                    null_mut()
                } else {
                    rnd.as_mut_ptr()
                },
                rnd.len() as _
            ));
        }
        _ => {
            call!(C_CloseAllSessions(0));
            st.sessions.clear();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if !setup() {
        return;
    }
    let _ = null::<u8>();
    let mut input = Input(data);
    assert_eq!(call!(C_Initialize(null_mut())), CKR_OK);
    let mut st = State::default();
    let mut steps = 0;
    while !input.done() && steps < 64 {
        step(&mut input, &mut st);
        steps += 1;
    }
    // Token objects made by this input go, so the store stays small.
    if let Some(&h) = st.sessions.first() {
        for o in st.objects.clone() {
            call!(C_DestroyObject(h, o));
        }
    }
    assert_eq!(call!(C_Finalize(null_mut())), CKR_OK);
});
