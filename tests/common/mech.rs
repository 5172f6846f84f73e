//! Mechanisms for raw C-ABI calls: a `CK_MECHANISM` that owns its
//! parameter structure (GCM, CTR, OAEP, ECDH, HKDF, PBKDF2 …) and every
//! buffer the structure points into, plus the DER encodings the EC and
//! 25519 tests pass as attributes or parameters.

#![allow(dead_code)]

use std::any::Any;
use std::ffi::c_void;
use std::ptr;

use cryptoki_sys::*;

pub fn ulong(n: usize) -> CK_ULONG {
    CK_ULONG::try_from(n).expect("length fits CK_ULONG")
}

pub fn usize_of(n: CK_ULONG) -> usize {
    usize::try_from(n).expect("length fits usize")
}

/// A mechanism together with its parameter structure and every buffer the
/// structure points into, so the pointers stay valid while it lives.
pub struct Mech {
    ty: CK_MECHANISM_TYPE,
    ptr: *mut c_void,
    len: CK_ULONG,
    _param: Option<Box<dyn Any>>,
    _bufs: Vec<Vec<u8>>,
}

/// Where CK_HKDF_PARAMS takes its salt from.
#[derive(Clone, Copy, Debug)]
pub enum Salt<'a> {
    Null,
    Data(&'a [u8]),
    Key(CK_OBJECT_HANDLE),
}

impl Mech {
    /// A mechanism without a parameter (NULL, 0).
    pub fn new(ty: CK_MECHANISM_TYPE) -> Self {
        Mech {
            ty,
            ptr: ptr::null_mut(),
            len: 0,
            _param: None,
            _bufs: Vec::new(),
        }
    }

    /// A flat byte parameter (an IV, a CK_ULONG …).
    pub fn bytes(ty: CK_MECHANISM_TYPE, param: &[u8]) -> Self {
        let mut v = param.to_vec();
        let ptr = v.as_mut_ptr().cast::<c_void>();
        Mech {
            ty,
            ptr,
            len: ulong(v.len()),
            _param: Some(Box::new(v)),
            _bufs: Vec::new(),
        }
    }

    /// A CK_ULONG parameter (CK_MAC_GENERAL_PARAMS …).
    pub fn ulong(ty: CK_MECHANISM_TYPE, v: CK_ULONG) -> Self {
        Self::bytes(ty, &v.to_ne_bytes())
    }

    fn with<T: 'static>(ty: CK_MECHANISM_TYPE, param: T, bufs: Vec<Vec<u8>>) -> Self {
        let mut b = Box::new(param);
        let ptr = (&mut *b as *mut T).cast::<c_void>();
        Mech {
            ty,
            ptr,
            len: ulong(std::mem::size_of::<T>()),
            _param: Some(b),
            _bufs: bufs,
        }
    }

    /// CK_AES_CTR_PARAMS.
    pub fn ctr(counter_bits: CK_ULONG, cb: [u8; 16]) -> Self {
        Self::with(
            CKM_AES_CTR,
            CK_AES_CTR_PARAMS {
                ulCounterBits: counter_bits,
                cb,
            },
            Vec::new(),
        )
    }

    /// CK_GCM_PARAMS for CKM_AES_GCM.
    pub fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Self {
        let mut bufs = Vec::new();
        let (piv, niv) = keep(&mut bufs, iv);
        let (paad, naad) = keep(&mut bufs, aad);
        Self::with(
            CKM_AES_GCM,
            CK_GCM_PARAMS {
                pIv: piv,
                ulIvLen: niv,
                ulIvBits: niv * 8,
                pAAD: paad,
                ulAADLen: naad,
                ulTagBits: tag_bits,
            },
            bufs,
        )
    }

    /// CK_SALSA20_CHACHA20_POLY1305_PARAMS for CKM_CHACHA20_POLY1305
    /// (`nonce_bits` is ulNonceLen, in bits per the spec).
    pub fn chacha20_poly1305(nonce: &[u8], nonce_bits: CK_ULONG, aad: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (pn, _) = keep(&mut bufs, nonce);
        let (paad, naad) = keep(&mut bufs, aad);
        Self::with(
            CKM_CHACHA20_POLY1305,
            CK_SALSA20_CHACHA20_POLY1305_PARAMS {
                pNonce: pn,
                ulNonceLen: nonce_bits,
                pAAD: paad,
                ulAADLen: naad,
            },
            bufs,
        )
    }

    /// CK_CHACHA20_PARAMS for CKM_CHACHA20 (lengths in bits, given apart
    /// from the buffers so a test can make them disagree).
    pub fn chacha20(
        counter: &[u8],
        counter_bits: CK_ULONG,
        nonce: &[u8],
        nonce_bits: CK_ULONG,
    ) -> Self {
        let mut bufs = Vec::new();
        let (pc, _) = keep(&mut bufs, counter);
        let (pn, _) = keep(&mut bufs, nonce);
        Self::with(
            CKM_CHACHA20,
            CK_CHACHA20_PARAMS {
                pBlockCounter: pc,
                blockCounterBits: counter_bits,
                pNonce: pn,
                ulNonceBits: nonce_bits,
            },
            bufs,
        )
    }

    /// CK_SALSA20_PARAMS for CKM_SALSA20 (the counter is 8 bytes).
    pub fn salsa20(counter: &[u8], nonce: &[u8], nonce_bits: CK_ULONG) -> Self {
        let mut bufs = Vec::new();
        let (pc, _) = keep(&mut bufs, counter);
        let (pn, _) = keep(&mut bufs, nonce);
        Self::with(
            CKM_SALSA20,
            CK_SALSA20_PARAMS {
                pBlockCounter: pc,
                pNonce: pn,
                ulNonceBits: nonce_bits,
            },
            bufs,
        )
    }

    /// CK_CCM_PARAMS for CKM_AES_CCM.
    pub fn ccm(data_len: usize, nonce: &[u8], aad: &[u8], mac_len: CK_ULONG) -> Self {
        let mut bufs = Vec::new();
        let (pn, nn) = keep(&mut bufs, nonce);
        let (paad, naad) = keep(&mut bufs, aad);
        Self::with(
            CKM_AES_CCM,
            CK_CCM_PARAMS {
                ulDataLen: ulong(data_len),
                pNonce: pn,
                ulNonceLen: nn,
                pAAD: paad,
                ulAADLen: naad,
                ulMACLen: mac_len,
            },
            bufs,
        )
    }

    /// CK_RSA_PKCS_OAEP_PARAMS with CKZ_DATA_SPECIFIED and `label`.
    pub fn oaep(hash: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE, label: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (p, n) = keep(&mut bufs, label);
        Self::with(
            CKM_RSA_PKCS_OAEP,
            CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: hash,
                mgf,
                source: CKZ_DATA_SPECIFIED,
                pSourceData: p.cast(),
                ulSourceDataLen: n,
            },
            bufs,
        )
    }

    /// CK_ECDH1_DERIVE_PARAMS for CKM_ECDH1_DERIVE / COFACTOR_DERIVE.
    pub fn ecdh(ty: CK_MECHANISM_TYPE, kdf: CK_EC_KDF_TYPE, shared: &[u8], public: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (ps, ns) = keep(&mut bufs, shared);
        let (pp, np) = keep(&mut bufs, public);
        Self::with(
            ty,
            CK_ECDH1_DERIVE_PARAMS {
                kdf,
                ulSharedDataLen: ns,
                pSharedData: ps,
                ulPublicDataLen: np,
                pPublicData: pp,
            },
            bufs,
        )
    }

    /// CK_EDDSA_PARAMS for CKM_EDDSA (Ed25519ph when `prehash`).
    pub fn eddsa(prehash: bool, context: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (p, n) = keep(&mut bufs, context);
        Self::with(
            CKM_EDDSA,
            CK_EDDSA_PARAMS {
                phFlag: CK_BBOOL::from(prehash),
                ulContextDataLen: n,
                pContextData: p,
            },
            bufs,
        )
    }

    /// CK_SIGN_ADDITIONAL_CONTEXT (CKM_ML_DSA): hedge variant and context.
    pub fn sign_context(ty: CK_MECHANISM_TYPE, hedge: CK_ULONG, context: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (p, n) = keep(&mut bufs, context);
        Self::with(
            ty,
            CK_SIGN_ADDITIONAL_CONTEXT {
                hedgeVariant: hedge,
                pContext: p,
                ulContextLen: n,
            },
            bufs,
        )
    }

    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT (CKM_HASH_ML_DSA).
    pub fn hash_sign_context(hedge: CK_ULONG, context: &[u8], hash: CK_MECHANISM_TYPE) -> Self {
        let mut bufs = Vec::new();
        let (p, n) = keep(&mut bufs, context);
        Self::with(
            CKM_HASH_ML_DSA,
            CK_HASH_SIGN_ADDITIONAL_CONTEXT {
                hedgeVariant: hedge,
                pContext: p,
                ulContextLen: n,
                hash,
            },
            bufs,
        )
    }

    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT for another mechanism than
    /// CKM_HASH_ML_DSA (CKM_HASH_SLH_DSA).
    pub fn hash_sign_context_for(
        ty: CK_MECHANISM_TYPE,
        hedge: CK_ULONG,
        context: &[u8],
        hash: CK_MECHANISM_TYPE,
    ) -> Self {
        let mut m = Self::hash_sign_context(hedge, context, hash);
        m.ty = ty;
        m
    }

    /// CK_KEY_DERIVATION_STRING_DATA (CKM_AES_ECB_ENCRYPT_DATA …).
    pub fn string_data(ty: CK_MECHANISM_TYPE, data: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (p, n) = keep(&mut bufs, data);
        Self::with(
            ty,
            CK_KEY_DERIVATION_STRING_DATA { pData: p, ulLen: n },
            bufs,
        )
    }

    /// CK_AES_CBC_ENCRYPT_DATA_PARAMS for CKM_AES_CBC_ENCRYPT_DATA.
    pub fn aes_cbc_encrypt_data(iv: [u8; 16], data: &[u8]) -> Self {
        let mut bufs = Vec::new();
        let (p, n) = keep(&mut bufs, data);
        Self::with(
            CKM_AES_CBC_ENCRYPT_DATA,
            CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                iv,
                pData: p,
                length: n,
            },
            bufs,
        )
    }

    /// CK_HKDF_PARAMS for CKM_HKDF_DERIVE / CKM_HKDF_DATA.
    pub fn hkdf(
        ty: CK_MECHANISM_TYPE,
        prf: CK_MECHANISM_TYPE,
        extract: bool,
        expand: bool,
        salt: Salt,
        info: &[u8],
    ) -> Self {
        let mut bufs = Vec::new();
        let (salt_type, salt_data, salt_key) = match salt {
            Salt::Null => (CKF_HKDF_SALT_NULL, &[][..], CK_INVALID_HANDLE),
            Salt::Data(d) => (CKF_HKDF_SALT_DATA, d, CK_INVALID_HANDLE),
            Salt::Key(k) => (CKF_HKDF_SALT_KEY, &[][..], k),
        };
        let (ps, ns) = keep(&mut bufs, salt_data);
        let (pi, ni) = keep(&mut bufs, info);
        Self::with(
            ty,
            CK_HKDF_PARAMS {
                bExtract: CK_BBOOL::from(extract),
                bExpand: CK_BBOOL::from(expand),
                prfHashMechanism: prf,
                ulSaltType: salt_type,
                pSalt: ps,
                ulSaltLen: ns,
                hSaltKey: salt_key,
                pInfo: pi,
                ulInfoLen: ni,
            },
            bufs,
        )
    }

    /// CK_PKCS5_PBKD2_PARAMS2 (3.0: password length by value) with a
    /// specified salt.
    pub fn pbkdf2(
        password: &[u8],
        salt: &[u8],
        iterations: CK_ULONG,
        prf: CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE,
    ) -> Self {
        let mut bufs = Vec::new();
        let (ps, ns) = keep(&mut bufs, salt);
        let (pp, np) = keep(&mut bufs, password);
        Self::with(
            CKM_PKCS5_PBKD2,
            CK_PKCS5_PBKD2_PARAMS2 {
                saltSource: CKZ_SALT_SPECIFIED,
                pSaltSourceData: ps.cast(),
                ulSaltSourceDataLen: ns,
                iterations,
                prf,
                pPrfData: ptr::null_mut(),
                ulPrfDataLen: 0,
                pPassword: pp,
                ulPasswordLen: np,
            },
            bufs,
        )
    }

    pub fn ty(&self) -> CK_MECHANISM_TYPE {
        self.ty
    }

    /// The C structure; valid while `self` lives.
    pub fn ck(&self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: self.ptr,
            ulParameterLen: self.len,
        }
    }
}

/// Copy `data` into a buffer owned by `bufs`: (pointer, length), NULL for
/// empty data. The heap block does not move when `bufs` grows.
fn keep(bufs: &mut Vec<Vec<u8>>, data: &[u8]) -> (*mut u8, CK_ULONG) {
    if data.is_empty() {
        return (ptr::null_mut(), 0);
    }
    let mut v = data.to_vec();
    let p = v.as_mut_ptr();
    bufs.push(v);
    (p, ulong(data.len()))
}

/// Wrap a byte string as a DER OCTET STRING (short or 0x81 long form).
pub fn der_octets(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    if v.len() < 0x80 {
        out.push(u8::try_from(v.len()).expect("short"));
    } else {
        out.push(0x81);
        out.push(u8::try_from(v.len()).expect("at most 255 bytes"));
    }
    out.extend_from_slice(v);
    out
}

/// DER PrintableString of a curve name (the CKA_EC_PARAMS name form).
pub fn printable(name: &str) -> Vec<u8> {
    let mut out = vec![0x13, u8::try_from(name.len()).expect("short name")];
    out.extend_from_slice(name.as_bytes());
    out
}

/// DER OID of secp521r1.
pub const P521_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// DER OID 1.3.101.112 (id-Ed25519).
pub const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER OID 1.3.101.110 (id-X25519).
pub const X25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
