//! Key derivation by AES encryption (PKCS#11 3.0, "Key derivation by
//! data encryption"): CKM_AES_ECB_ENCRYPT_DATA encrypts the caller's data
//! under the base key in ECB mode, CKM_AES_CBC_ENCRYPT_DATA in CBC mode
//! with the caller's IV, and the ciphertext is the new key's value.
//!
//! The encryption is the AES family's own C_Encrypt operation (aes.rs),
//! so it runs on whichever provider serves AES. Rules, and the codes
//! chosen where the spec leaves a choice:
//! - the data is whole blocks (no padding is defined): otherwise
//!   CKR_MECHANISM_PARAM_INVALID (params.rs);
//! - the base key is an AES secret key with CKA_DERIVE (checked by the
//!   caller), else CKR_KEY_TYPE_INCONSISTENT;
//! - the new key takes the leading CKA_VALUE_LEN bytes of the ciphertext;
//!   without a length it takes all of it. Data shorter than the key asked
//!   for is CKR_MECHANISM_PARAM_INVALID (the parameter cannot make that
//!   key; SoftHSMv2 answers the same, and python-pkcs11's suite expects
//!   it).

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::aes::aes_key;
use super::cipher::encrypt_init;
use super::keys::Key;
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// AES key sizes in bytes, as for the cipher mechanisms.
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_AES_ECB_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
    row(CKM_AES_CBC_ENCRYPT_DATA, 16, 32, CKF_DERIVE),
];

/// The derived key value: `len` leading bytes of the ciphertext (all of
/// it for None).
pub(super) fn derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let Params::EncryptData { iv, data } = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let cipher = match (mech.mech, iv) {
        (CKM_AES_ECB_ENCRYPT_DATA, None) => Mechanism {
            mech: CKM_AES_ECB,
            params: Params::None,
        },
        (CKM_AES_CBC_ENCRYPT_DATA, Some(iv)) => Mechanism {
            mech: CKM_AES_CBC,
            params: Params::Iv(iv.to_vec()),
        },
        _ => return Err(Error::MechanismParamInvalid),
    };
    aes_key(base)?;
    let wanted = len.unwrap_or(data.len());
    if wanted == 0 {
        return Err(Error::TemplateInconsistent);
    }
    if wanted > data.len() {
        return Err(Error::MechanismParamInvalid);
    }
    // The base key as the cipher operation takes it; the copy's value
    // zeroizes with it when the operation ends.
    let mut op = encrypt_init(&cipher, Arc::new(base.clone()))?;
    let mut value = Zeroizing::new(op.update(data)?);
    value.extend_from_slice(&op.finish()?);
    if value.len() != data.len() {
        return Err(Error::GeneralError);
    }
    value.truncate(wanted);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn mech(ty: CK_MECHANISM_TYPE, iv: Option<[u8; 16]>, data: &[u8]) -> Mechanism {
        Mechanism {
            mech: ty,
            params: Params::EncryptData {
                iv,
                data: Zeroizing::new(data.to_vec()),
            },
        }
    }

    /// SP 800-38A F.1.1 and F.2.1 (AES-128 ECB and CBC, first block): the
    /// derived value is the mode's ciphertext.
    #[test]
    fn values_are_the_ciphertext() {
        let key = Key::secret(CKK_AES, &unhex("2b7e151628aed2a6abf7158809cf4f3c")).unwrap();
        let block = unhex("6bc1bee22e409f96e93d7e117393172a");
        let ecb = derive(&mech(CKM_AES_ECB_ENCRYPT_DATA, None, &block), &key, None).unwrap();
        assert_eq!(&ecb[..], &unhex("3ad77bb40d7a3660a89ecaf32466ef97")[..]);
        let iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap();
        let cbc = derive(
            &mech(CKM_AES_CBC_ENCRYPT_DATA, Some(iv), &block),
            &key,
            Some(8),
        )
        .unwrap();
        assert_eq!(&cbc[..], &unhex("7649abac8119b246")[..]);
    }

    #[test]
    fn refusals() {
        let aes = Key::secret(CKK_AES, &[1; 16]).unwrap();
        let generic = Key::secret(CKK_GENERIC_SECRET, &[1; 16]).unwrap();
        let m = mech(CKM_AES_ECB_ENCRYPT_DATA, None, &[0; 32]);
        assert_eq!(
            derive(&m, &generic, None).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        assert_eq!(
            derive(&m, &aes, Some(33)).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(derive(&m, &aes, Some(32)).unwrap().len(), 32);
        let wrong = mech(CKM_AES_ECB_ENCRYPT_DATA, Some([0; 16]), &[0; 16]);
        assert_eq!(
            derive(&wrong, &aes, None).unwrap_err(),
            Error::MechanismParamInvalid
        );
        for bad in [&[][..], &[0u8; 15][..], &[0u8; 17][..]] {
            assert_eq!(
                Mechanism::parse(CKM_AES_ECB_ENCRYPT_DATA, Some(bad)).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
    }
}
