//! CK_TOKEN_INFO for a token, read fresh from its database so PIN counters
//! and initialization done by another process show up at once.

use cryptoki_sys::*;

use super::Token;
use crate::error::Result;

/// Copies `text` into a space-padded fixed field (the spec forbids NULs).
pub fn padded<const N: usize>(text: &[u8]) -> [u8; N] {
    let mut out = [b' '; N];
    for (dst, src) in out.iter_mut().zip(text.iter()) {
        *dst = if *src == 0 { b' ' } else { *src };
    }
    out
}

pub const MANUFACTURER: &[u8] = b"Keyward";
pub const MODEL: &[u8] = b"Keyward soft HSM";

/// How many wrong PINs in a row each role may still enter before its PIN
/// locks (what the COUNT_LOW/FINAL_TRY/LOCKED flags only hint at), for
/// monitoring: `keyward doctor` and `keyward metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinTries {
    pub so_left: u32,
    pub user_left: u32,
    /// The failures in a row that lock a PIN.
    pub max: u32,
}

impl Token {
    /// The tries left of both PINs, read fresh from the store; `None` for
    /// a token that was never initialized.
    pub fn pin_tries(&self) -> Result<Option<PinTries>> {
        let max = self.policy.max_failures;
        Ok(self.db.meta()?.map(|meta| PinTries {
            so_left: max.saturating_sub(meta.so_failures),
            user_left: max.saturating_sub(meta.user_failures),
            max,
        }))
    }

    pub fn info(&self, sessions: u64, rw_sessions: u64) -> Result<CK_TOKEN_INFO> {
        let meta = self.db.meta()?;
        let mut flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_RESTORE_KEY_NOT_NEEDED;
        if self.protected_path() {
            // C_Login takes a NULL PIN: the slot's user_pin_file holds it.
            flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
        }
        let mut label = padded::<32>(b"");
        let mut serial = padded::<16>(format!("KW-SLOT-{}", self.slot_id).as_bytes());
        if let Some(meta) = &meta {
            if meta.so_pin.is_some() {
                flags |= CKF_TOKEN_INITIALIZED;
                label = padded::<32>(&meta.label);
                serial = padded::<16>(&meta.serial);
            }
            if meta.user_pin.is_some() {
                flags |= CKF_USER_PIN_INITIALIZED;
            }
            flags |= pin_flags(
                meta.user_failures,
                self.policy.max_failures,
                [
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                ],
            );
            flags |= pin_flags(
                meta.so_failures,
                self.policy.max_failures,
                [
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                ],
            );
        }
        Ok(CK_TOKEN_INFO {
            label,
            manufacturerID: padded::<32>(MANUFACTURER),
            model: padded::<16>(MODEL),
            serialNumber: serial,
            flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: sessions,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: rw_sessions,
            ulMaxPinLen: self.policy.max_len as CK_ULONG,
            ulMinPinLen: self.policy.min_len as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 1 },
            firmwareVersion: CK_VERSION { major: 0, minor: 1 },
            utcTime: padded::<16>(b""),
        })
    }
}

/// COUNT_LOW after any failure, FINAL_TRY when one try is left (it
/// replaces COUNT_LOW, as the spec's flag descriptions imply), LOCKED once
/// the limit is reached.
fn pin_flags(failures: u32, max: u32, [low, final_try, locked]: [CK_FLAGS; 3]) -> CK_FLAGS {
    if failures == 0 {
        0
    } else if failures >= max {
        locked
    } else if failures + 1 == max {
        final_try
    } else {
        low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_flags_follow_the_counter() {
        let f = [1, 2, 4];
        assert_eq!(pin_flags(0, 3, f), 0);
        assert_eq!(pin_flags(1, 3, f), 1);
        assert_eq!(pin_flags(2, 3, f), 2);
        assert_eq!(pin_flags(3, 3, f), 4);
        assert_eq!(pin_flags(9, 3, f), 4);
        assert_eq!(pin_flags(1, 1, f), 4);
    }

    #[test]
    fn padding_replaces_nul_and_truncates() {
        assert_eq!(&padded::<4>(b"ab"), b"ab  ");
        assert_eq!(&padded::<2>(b"abc"), b"ab");
        assert_eq!(&padded::<3>(b"a\0b"), b"a b");
    }
}
