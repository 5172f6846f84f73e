//! Raw C-ABI operations for the mechanism suites (cipher, wrap, derive,
//! EdDSA, SHA-3, CMAC): a session wrapper whose calls return the module's
//! `CK_RV` instead of panicking, the output-length protocol driven step by
//! step, key templates and multi-token set-up on any slot. The mechanisms
//! themselves are in `mech.rs` (re-exported here).

#![allow(dead_code)]

use std::ptr;

use cryptoki_sys::*;

pub use super::mech::*;
use super::raw::{Tmpl, login, padded32};
use super::{SO_PIN, USER_PIN};

/// A call's result: the value, or the CK_RV the module returned.
pub type Rv<T> = Result<T, CK_RV>;

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

/// Room given to outputs when a test is not exercising the length
/// protocol (larger than any output these suites make).
const ROOM: usize = 8192;

/// One call with a large buffer; the output truncated to what it wrote.
fn out_big(extra: usize, mut call: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> Rv<Vec<u8>> {
    let mut buf = vec![0u8; ROOM + extra];
    let mut n = ulong(buf.len());
    rv(call(buf.as_mut_ptr(), &mut n))?;
    assert!(
        usize_of(n) <= buf.len(),
        "module claims to have written past the buffer"
    );
    buf.truncate(usize_of(n));
    Ok(buf)
}

/// What each step of the length protocol answered.
#[derive(Debug)]
pub struct Protocol {
    /// Length from the NULL-buffer query (must be CKR_OK).
    pub queried: usize,
    /// (CK_RV, length) of the call with a buffer one byte short, if the
    /// output was not empty.
    pub short: Option<(CK_RV, usize)>,
    /// The output of the final call with a buffer of the queried length.
    pub out: Vec<u8>,
}

/// Drive an output call through the whole protocol (PKCS#11 3.0 §5.2):
/// a NULL-buffer query, then a buffer one byte shorter than the real
/// `expect_len`-byte output (it must not end the operation), then a
/// buffer of the queried size, which must succeed.
#[track_caller]
pub fn protocol(
    expect_len: usize,
    mut call: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV,
) -> Protocol {
    let mut n: CK_ULONG = 0;
    let r = call(ptr::null_mut(), &mut n);
    assert!(
        r == CKR_OK,
        "length query: expected CKR_OK, got {} ({r:#x})",
        super::raw::rv_name(r)
    );
    let queried = usize_of(n);
    assert!(
        queried >= expect_len,
        "length query answered {queried}, less than the {expect_len}-byte output"
    );
    let short = if expect_len > 0 {
        let mut buf = vec![0u8; expect_len - 1];
        let mut n = ulong(buf.len());
        // A zero-length Vec still hands out a non-NULL (dangling) pointer:
        // a real buffer of capacity 0, not a query.
        let r = call(buf.as_mut_ptr(), &mut n);
        Some((r, usize_of(n)))
    } else {
        None
    };
    let mut buf = vec![0u8; queried];
    let mut n = ulong(buf.len());
    let r = call(buf.as_mut_ptr(), &mut n);
    assert!(
        r == CKR_OK,
        "final call with the queried length: expected CKR_OK, got {} ({r:#x})",
        super::raw::rv_name(r)
    );
    assert!(usize_of(n) <= queried);
    buf.truncate(usize_of(n));
    Protocol {
        queried,
        short,
        out: buf,
    }
}

/// Assert the protocol's short-buffer step: CKR_BUFFER_TOO_SMALL with a
/// length at least the real one.
#[track_caller]
pub fn assert_protocol(p: &Protocol, want: &[u8], what: &str) {
    assert_eq!(p.out, want, "{what}: output after the length protocol");
    if let Some((r, n)) = p.short {
        assert!(
            r == CKR_BUFFER_TOO_SMALL,
            "{what}: short buffer: expected CKR_BUFFER_TOO_SMALL, got {} ({r:#x})",
            super::raw::rv_name(r)
        );
        assert!(
            n >= want.len(),
            "{what}: short buffer answered length {n} < {}",
            want.len()
        );
    }
}

/// An open session of the raw function table.
#[derive(Clone, Copy)]
pub struct Sess {
    pub f: &'static CK_FUNCTION_LIST_3_0,
    pub h: CK_SESSION_HANDLE,
}

macro_rules! call {
    ($s:expr, $name:ident ( $($arg:expr),* $(,)? )) => {{
        let func = $s.f.$name.expect(concat!(stringify!($name), " is NULL"));
        // SAFETY: the arguments are valid for this PKCS#11 call: owned
        // buffers, templates and mechanisms that outlive it.
        #[allow(unused_unsafe)]
        unsafe { func($($arg),*) }
    }};
}

impl Sess {
    pub fn new(f: &'static CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE) -> Self {
        Sess { f, h }
    }

    pub fn create(&self, mut t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
        let (p, n) = t.as_mut();
        let mut o = CK_INVALID_HANDLE;
        rv(call!(self, C_CreateObject(self.h, p, n, &mut o)))?;
        Ok(o)
    }

    pub fn destroy(&self, o: CK_OBJECT_HANDLE) -> Rv<()> {
        rv(call!(self, C_DestroyObject(self.h, o)))
    }

    pub fn generate_key(&self, m: &Mech, mut t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
        let mut ck = m.ck();
        let (p, n) = t.as_mut();
        let mut o = CK_INVALID_HANDLE;
        rv(call!(self, C_GenerateKey(self.h, &mut ck, p, n, &mut o)))?;
        Ok(o)
    }

    /// (public, private).
    pub fn generate_pair(
        &self,
        m: &Mech,
        mut public: Tmpl,
        mut private: Tmpl,
    ) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let mut ck = m.ck();
        let (pp, pn) = public.as_mut();
        let (sp, sn) = private.as_mut();
        let (mut pubk, mut privk) = (CK_INVALID_HANDLE, CK_INVALID_HANDLE);
        rv(call!(
            self,
            C_GenerateKeyPair(self.h, &mut ck, pp, pn, sp, sn, &mut pubk, &mut privk)
        ))?;
        Ok((pubk, privk))
    }

    /// One attribute by the two-call protocol.
    pub fn attr(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Rv<Vec<u8>> {
        let mut a = CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        };
        rv(call!(self, C_GetAttributeValue(self.h, o, &mut a, 1)))?;
        let mut buf = vec![0u8; usize_of(a.ulValueLen)];
        a.pValue = buf.as_mut_ptr().cast();
        rv(call!(self, C_GetAttributeValue(self.h, o, &mut a, 1)))?;
        buf.truncate(usize_of(a.ulValueLen));
        Ok(buf)
    }

    #[track_caller]
    pub fn attr_ok(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
        match self.attr(o, ty) {
            Ok(v) => v,
            Err(r) => panic!(
                "C_GetAttributeValue({ty:#x}): {} ({r:#x})",
                super::raw::rv_name(r)
            ),
        }
    }

    #[track_caller]
    pub fn attr_bool(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> bool {
        let v = self.attr_ok(o, ty);
        assert_eq!(v.len(), 1, "attribute {ty:#x} is not a CK_BBOOL");
        v[0] != CK_FALSE
    }

    #[track_caller]
    pub fn attr_ulong(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
        let v = self.attr_ok(o, ty);
        CK_ULONG::from_ne_bytes(v.try_into().expect("attribute is not a CK_ULONG"))
    }

    pub fn set_attr(&self, o: CK_OBJECT_HANDLE, mut t: Tmpl) -> Rv<()> {
        let (p, n) = t.as_mut();
        rv(call!(self, C_SetAttributeValue(self.h, o, p, n)))
    }

    pub fn find(&self, mut t: Tmpl) -> Rv<Vec<CK_OBJECT_HANDLE>> {
        let (p, n) = t.as_mut();
        rv(call!(self, C_FindObjectsInit(self.h, p, n)))?;
        let mut out = Vec::new();
        loop {
            let mut buf = [CK_INVALID_HANDLE; 16];
            let mut got: CK_ULONG = 0;
            let r = call!(self, C_FindObjects(self.h, buf.as_mut_ptr(), 16, &mut got));
            if r != CKR_OK {
                let _ = call!(self, C_FindObjectsFinal(self.h));
                return Err(r);
            }
            if got == 0 {
                break;
            }
            out.extend_from_slice(&buf[..usize_of(got)]);
        }
        rv(call!(self, C_FindObjectsFinal(self.h)))?;
        Ok(out)
    }

    // --- encryption -------------------------------------------------------

    pub fn encrypt_init(&self, m: &Mech, k: CK_OBJECT_HANDLE) -> Rv<()> {
        let mut ck = m.ck();
        rv(call!(self, C_EncryptInit(self.h, &mut ck, k)))
    }

    /// C_EncryptInit with a NULL mechanism (3.0: cancels).
    pub fn encrypt_init_null(&self, k: CK_OBJECT_HANDLE) -> Rv<()> {
        rv(call!(self, C_EncryptInit(self.h, ptr::null_mut(), k)))
    }

    pub fn encrypt(&self, data: &[u8]) -> Rv<Vec<u8>> {
        let mut d = data.to_vec();
        out_big(data.len(), |p, n| {
            call!(
                self,
                C_Encrypt(self.h, d.as_mut_ptr(), ulong(d.len()), p, n)
            )
        })
    }

    pub fn encrypt_update(&self, data: &[u8]) -> Rv<Vec<u8>> {
        let mut d = data.to_vec();
        out_big(data.len(), |p, n| {
            call!(
                self,
                C_EncryptUpdate(self.h, d.as_mut_ptr(), ulong(d.len()), p, n)
            )
        })
    }

    pub fn encrypt_final(&self) -> Rv<Vec<u8>> {
        out_big(0, |p, n| call!(self, C_EncryptFinal(self.h, p, n)))
    }

    /// Init + single-part C_Encrypt.
    pub fn encrypt_once(&self, m: &Mech, k: CK_OBJECT_HANDLE, data: &[u8]) -> Rv<Vec<u8>> {
        self.encrypt_init(m, k)?;
        self.encrypt(data)
    }

    /// Init, C_EncryptUpdate over `data` cut at `sizes` (the rest in a last
    /// part), C_EncryptFinal; the outputs concatenated.
    pub fn encrypt_parts(
        &self,
        m: &Mech,
        k: CK_OBJECT_HANDLE,
        data: &[u8],
        sizes: &[usize],
    ) -> Rv<Vec<u8>> {
        self.encrypt_init(m, k)?;
        let mut out = Vec::new();
        for part in split(data, sizes) {
            out.extend(self.encrypt_update(part)?);
        }
        out.extend(self.encrypt_final()?);
        Ok(out)
    }

    pub fn decrypt_init(&self, m: &Mech, k: CK_OBJECT_HANDLE) -> Rv<()> {
        let mut ck = m.ck();
        rv(call!(self, C_DecryptInit(self.h, &mut ck, k)))
    }

    pub fn decrypt_init_null(&self, k: CK_OBJECT_HANDLE) -> Rv<()> {
        rv(call!(self, C_DecryptInit(self.h, ptr::null_mut(), k)))
    }

    pub fn decrypt(&self, data: &[u8]) -> Rv<Vec<u8>> {
        let mut d = data.to_vec();
        out_big(data.len(), |p, n| {
            call!(
                self,
                C_Decrypt(self.h, d.as_mut_ptr(), ulong(d.len()), p, n)
            )
        })
    }

    pub fn decrypt_update(&self, data: &[u8]) -> Rv<Vec<u8>> {
        let mut d = data.to_vec();
        out_big(data.len(), |p, n| {
            call!(
                self,
                C_DecryptUpdate(self.h, d.as_mut_ptr(), ulong(d.len()), p, n)
            )
        })
    }

    pub fn decrypt_final(&self) -> Rv<Vec<u8>> {
        out_big(0, |p, n| call!(self, C_DecryptFinal(self.h, p, n)))
    }

    pub fn decrypt_once(&self, m: &Mech, k: CK_OBJECT_HANDLE, data: &[u8]) -> Rv<Vec<u8>> {
        self.decrypt_init(m, k)?;
        self.decrypt(data)
    }

    pub fn decrypt_parts(
        &self,
        m: &Mech,
        k: CK_OBJECT_HANDLE,
        data: &[u8],
        sizes: &[usize],
    ) -> Rv<Vec<u8>> {
        self.decrypt_init(m, k)?;
        let mut out = Vec::new();
        for part in split(data, sizes) {
            out.extend(self.decrypt_update(part)?);
        }
        out.extend(self.decrypt_final()?);
        Ok(out)
    }

    /// C_Encrypt driven through the length protocol (operation already
    /// initialized); `expect_len` is the real ciphertext length.
    #[track_caller]
    pub fn encrypt_protocol(&self, data: &[u8], expect_len: usize) -> Protocol {
        let mut d = data.to_vec();
        protocol(expect_len, |p, n| {
            call!(
                self,
                C_Encrypt(self.h, d.as_mut_ptr(), ulong(d.len()), p, n)
            )
        })
    }

    #[track_caller]
    pub fn decrypt_protocol(&self, data: &[u8], expect_len: usize) -> Protocol {
        let mut d = data.to_vec();
        protocol(expect_len, |p, n| {
            call!(
                self,
                C_Decrypt(self.h, d.as_mut_ptr(), ulong(d.len()), p, n)
            )
        })
    }

    #[track_caller]
    pub fn decrypt_final_protocol(&self, expect_len: usize) -> Protocol {
        protocol(expect_len, |p, n| call!(self, C_DecryptFinal(self.h, p, n)))
    }

    // --- signing, MACs, digests ------------------------------------------

    pub fn sign_init(&self, m: &Mech, k: CK_OBJECT_HANDLE) -> Rv<()> {
        let mut ck = m.ck();
        rv(call!(self, C_SignInit(self.h, &mut ck, k)))
    }

    pub fn sign(&self, data: &[u8]) -> Rv<Vec<u8>> {
        let mut d = data.to_vec();
        out_big(0, |p, n| {
            call!(self, C_Sign(self.h, d.as_mut_ptr(), ulong(d.len()), p, n))
        })
    }

    pub fn sign_update(&self, data: &[u8]) -> Rv<()> {
        let mut d = data.to_vec();
        rv(call!(
            self,
            C_SignUpdate(self.h, d.as_mut_ptr(), ulong(d.len()))
        ))
    }

    pub fn sign_final(&self) -> Rv<Vec<u8>> {
        out_big(0, |p, n| call!(self, C_SignFinal(self.h, p, n)))
    }

    pub fn sign_once(&self, m: &Mech, k: CK_OBJECT_HANDLE, data: &[u8]) -> Rv<Vec<u8>> {
        self.sign_init(m, k)?;
        self.sign(data)
    }

    pub fn verify_init(&self, m: &Mech, k: CK_OBJECT_HANDLE) -> Rv<()> {
        let mut ck = m.ck();
        rv(call!(self, C_VerifyInit(self.h, &mut ck, k)))
    }

    pub fn verify(&self, data: &[u8], sig: &[u8]) -> Rv<()> {
        let mut d = data.to_vec();
        let mut s = sig.to_vec();
        rv(call!(
            self,
            C_Verify(
                self.h,
                d.as_mut_ptr(),
                ulong(d.len()),
                s.as_mut_ptr(),
                ulong(s.len())
            )
        ))
    }

    pub fn verify_update(&self, data: &[u8]) -> Rv<()> {
        let mut d = data.to_vec();
        rv(call!(
            self,
            C_VerifyUpdate(self.h, d.as_mut_ptr(), ulong(d.len()))
        ))
    }

    pub fn verify_final(&self, sig: &[u8]) -> Rv<()> {
        let mut s = sig.to_vec();
        rv(call!(
            self,
            C_VerifyFinal(self.h, s.as_mut_ptr(), ulong(s.len()))
        ))
    }

    pub fn verify_once(&self, m: &Mech, k: CK_OBJECT_HANDLE, data: &[u8], sig: &[u8]) -> Rv<()> {
        self.verify_init(m, k)?;
        self.verify(data, sig)
    }

    pub fn digest_once(&self, m: &Mech, data: &[u8]) -> Rv<Vec<u8>> {
        let mut ck = m.ck();
        rv(call!(self, C_DigestInit(self.h, &mut ck)))?;
        let mut d = data.to_vec();
        out_big(0, |p, n| {
            call!(self, C_Digest(self.h, d.as_mut_ptr(), ulong(d.len()), p, n))
        })
    }

    // --- key management ---------------------------------------------------

    pub fn wrap(&self, m: &Mech, wrapping: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE) -> Rv<Vec<u8>> {
        let mut ck = m.ck();
        out_big(0, |p, n| {
            call!(self, C_WrapKey(self.h, &mut ck, wrapping, key, p, n))
        })
    }

    #[track_caller]
    pub fn wrap_protocol(
        &self,
        m: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        expect_len: usize,
    ) -> Protocol {
        let mut ck = m.ck();
        protocol(expect_len, |p, n| {
            call!(self, C_WrapKey(self.h, &mut ck, wrapping, key, p, n))
        })
    }

    pub fn unwrap(
        &self,
        m: &Mech,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        mut t: Tmpl,
    ) -> Rv<CK_OBJECT_HANDLE> {
        let mut ck = m.ck();
        let mut w = wrapped.to_vec();
        let (p, n) = t.as_mut();
        let mut o = CK_INVALID_HANDLE;
        rv(call!(
            self,
            C_UnwrapKey(
                self.h,
                &mut ck,
                unwrapping,
                w.as_mut_ptr(),
                ulong(w.len()),
                p,
                n,
                &mut o
            )
        ))?;
        Ok(o)
    }

    pub fn derive(&self, m: &Mech, base: CK_OBJECT_HANDLE, mut t: Tmpl) -> Rv<CK_OBJECT_HANDLE> {
        let mut ck = m.ck();
        let (p, n) = t.as_mut();
        let mut o = CK_INVALID_HANDLE;
        rv(call!(
            self,
            C_DeriveKey(self.h, &mut ck, base, p, n, &mut o)
        ))?;
        Ok(o)
    }

    // --- sessions -----------------------------------------------------------

    pub fn session_cancel(&self, flags: CK_FLAGS) -> Rv<()> {
        rv(call!(self, C_SessionCancel(self.h, flags)))
    }

    pub fn mechanism_info(&self, slot: CK_SLOT_ID, ty: CK_MECHANISM_TYPE) -> Rv<CK_MECHANISM_INFO> {
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        rv(call!(self, C_GetMechanismInfo(slot, ty, &mut info)))?;
        Ok(info)
    }

    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Rv<Vec<CK_MECHANISM_TYPE>> {
        let mut n: CK_ULONG = 0;
        rv(call!(
            self,
            C_GetMechanismList(slot, ptr::null_mut(), &mut n)
        ))?;
        let mut v = vec![0; usize_of(n)];
        rv(call!(
            self,
            C_GetMechanismList(slot, v.as_mut_ptr(), &mut n)
        ))?;
        v.truncate(usize_of(n));
        Ok(v)
    }

    pub fn login(&self, user: CK_USER_TYPE, pin: &str) -> Rv<()> {
        rv(login(self.f, self.h, user, pin))
    }

    pub fn logout(&self) -> Rv<()> {
        rv(call!(self, C_Logout(self.h)))
    }
}

/// `data` cut at the given part sizes, with whatever remains as a last part.
pub fn split<'a>(mut data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for &n in sizes {
        let n = n.min(data.len());
        let (a, b) = data.split_at(n);
        out.push(a);
        data = b;
    }
    if !data.is_empty() {
        out.push(data);
    }
    out
}

/// Unwrap a call's result or fail naming the CK_RV.
#[track_caller]
pub fn ok<T>(r: Rv<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {} ({e:#x})", super::raw::rv_name(e)),
    }
}

/// Assert a call failed with exactly `want`.
#[track_caller]
pub fn err<T: std::fmt::Debug>(r: Rv<T>, want: CK_RV, what: &str) {
    match r {
        Err(e) => assert!(
            e == want,
            "{what}: expected {} ({want:#x}), got {} ({e:#x})",
            super::raw::rv_name(want),
            super::raw::rv_name(e)
        ),
        Ok(v) => panic!(
            "{what}: expected {} ({want:#x}), got CKR_OK ({v:?})",
            super::raw::rv_name(want)
        ),
    }
}

/// C_OpenSession on `slot` (R/W).
pub fn open_rw(f: &'static CK_FUNCTION_LIST_3_0, slot: CK_SLOT_ID) -> Sess {
    let mut h: CK_SESSION_HANDLE = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    let r = call!(
        Sess { f, h: 0 },
        C_OpenSession(slot, flags, ptr::null_mut(), None, &mut h)
    );
    assert_eq!(r, CKR_OK, "C_OpenSession(slot {slot})");
    Sess { f, h }
}

/// Initialize the token in `slot` (SO PIN, `label`), set the user PIN and
/// return an R/W session logged in as the user.
pub fn user_session_on(f: &'static CK_FUNCTION_LIST_3_0, slot: CK_SLOT_ID, label: &str) -> Sess {
    let mut so = SO_PIN.as_bytes().to_vec();
    let mut l = padded32(label);
    let r = call!(
        Sess { f, h: 0 },
        C_InitToken(slot, so.as_mut_ptr(), ulong(so.len()), l.as_mut_ptr())
    );
    assert_eq!(r, CKR_OK, "C_InitToken(slot {slot})");
    let s = open_rw(f, slot);
    ok(s.login(CKU_SO, SO_PIN), "SO login");
    let mut up = USER_PIN.as_bytes().to_vec();
    ok(
        rv(call!(s, C_InitPIN(s.h, up.as_mut_ptr(), ulong(up.len())))),
        "C_InitPIN",
    );
    ok(s.logout(), "SO logout");
    ok(s.login(CKU_USER, USER_PIN), "user login");
    s
}

// --- templates ----------------------------------------------------------------

/// A session secret key of `key_type` holding `value`.
pub fn secret(key_type: CK_KEY_TYPE, value: &[u8]) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, false)
}

/// An AES key for encryption and decryption.
pub fn aes_crypt(value: &[u8]) -> Tmpl {
    secret(CKK_AES, value)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true)
}

/// What a derived or unwrapped generic secret should look like so its
/// value can be read back: extractable, not sensitive.
pub fn readable_secret(key_type: CK_KEY_TYPE, len: Option<CK_ULONG>) -> Tmpl {
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

/// Config text declaring slots 0 and 1: two tokens, two token files, each
/// with its own PINs and store key.
pub const TWO_SLOTS: &str = "[[slot]]\nid = 0\n[[slot]]\nid = 1\n";

/// A session key pair of mechanism `mech` (EC, Edwards or Montgomery) on
/// `params`; `public` and `private` add to the minimal templates.
pub fn ec_pair(
    s: &Sess,
    mech: CK_MECHANISM_TYPE,
    params: &[u8],
    public: impl FnOnce(Tmpl) -> Tmpl,
    private: impl FnOnce(Tmpl) -> Tmpl,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    ok(
        s.generate_pair(
            &Mech::new(mech),
            public(
                Tmpl::new()
                    .bytes(CKA_EC_PARAMS, params)
                    .bool(CKA_TOKEN, false),
            ),
            private(Tmpl::new().bool(CKA_TOKEN, false)),
        ),
        "C_GenerateKeyPair",
    )
}

/// The public key bytes of CKA_EC_POINT without the DER OCTET STRING
/// around them (a raw value is returned unchanged, for the 25519 curves
/// whose encoding PKCS#11 3.0 left open).
#[track_caller]
pub fn point_of(s: &Sess, pubk: CK_OBJECT_HANDLE) -> Vec<u8> {
    let der = s.attr_ok(pubk, CKA_EC_POINT);
    match der.as_slice() {
        [0x04, n, rest @ ..] if usize::from(*n) == rest.len() => rest.to_vec(),
        [0x04, 0x81, n, rest @ ..] if usize::from(*n) == rest.len() => rest.to_vec(),
        _ => der,
    }
}
