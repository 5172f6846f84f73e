//! The clear header of a backup file: magic, format version, KDF
//! parameters and the token facts `verify` prints. Its exact bytes are the
//! AAD of the sealed payload; parsing is strict because the file is
//! untrusted until the payload authenticates.

use super::{BResult, BackupError, BackupInfo, FORMAT_VERSION, MAGIC};
use crate::store::seal::{BACKUP_SALT_LEN, MAX_ITERATIONS};

/// Longest label or serial accepted in a header (the token's are 32 and
/// 16 bytes), so a damaged length cannot ask for a huge allocation.
const MAX_TEXT: usize = 64;

/// The clear file header. Its encoding is the AAD of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) iterations: u32,
    pub(super) salt: [u8; BACKUP_SALT_LEN],
    pub(super) info: BackupInfo,
}

pub(super) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(super) fn put_text(out: &mut Vec<u8>, s: &str) {
    put_u64(out, u64::try_from(s.len()).unwrap_or(u64::MAX));
    out.extend_from_slice(s.as_bytes());
}

impl Header {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(FORMAT_VERSION);
        put_u64(&mut out, u64::from(self.iterations));
        out.extend_from_slice(&self.salt);
        put_u64(&mut out, self.info.created);
        put_u64(&mut out, self.info.objects);
        put_u64(&mut out, self.info.bytes);
        put_text(&mut out, &self.info.label);
        put_text(&mut out, &self.info.serial);
        out
    }

    /// Splits a file into its header, the header bytes (the AAD) and the
    /// sealed payload. Anything malformed after a known magic and version
    /// counts as damage.
    pub(super) fn parse(file: &[u8]) -> BResult<(Header, &[u8], &[u8])> {
        let (magic, rest) = file
            .split_at_checked(MAGIC.len())
            .ok_or(BackupError::NotABackup)?;
        if magic != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let (&version, mut input) = rest.split_first().ok_or(BackupError::NotABackup)?;
        if version != FORMAT_VERSION {
            return Err(BackupError::UnsupportedVersion(version));
        }
        let iterations = u32::try_from(take_u64(&mut input)?)
            .ok()
            .filter(|i| (1..=MAX_ITERATIONS).contains(i))
            .ok_or(BackupError::WrongPassphraseOrDamaged)?;
        let salt = take(&mut input, BACKUP_SALT_LEN)?
            .try_into()
            .map_err(|_| BackupError::WrongPassphraseOrDamaged)?;
        let created = take_u64(&mut input)?;
        let objects = take_u64(&mut input)?;
        let bytes = take_u64(&mut input)?;
        let label = take_text(&mut input)?;
        let serial = take_text(&mut input)?;
        let header_len = file.len().saturating_sub(input.len());
        let header_bytes = file
            .get(..header_len)
            .ok_or(BackupError::WrongPassphraseOrDamaged)?;
        let info = BackupInfo {
            created,
            label,
            serial,
            objects,
            bytes,
        };
        let header = Header {
            iterations,
            salt,
            info,
        };
        Ok((header, header_bytes, input))
    }
}

pub(super) fn take<'a>(input: &mut &'a [u8], n: usize) -> BResult<&'a [u8]> {
    let (head, rest) = input
        .split_at_checked(n)
        .ok_or(BackupError::WrongPassphraseOrDamaged)?;
    *input = rest;
    Ok(head)
}

pub(super) fn take_u64(input: &mut &[u8]) -> BResult<u64> {
    let bytes: [u8; 8] = take(input, 8)?
        .try_into()
        .map_err(|_| BackupError::WrongPassphraseOrDamaged)?;
    Ok(u64::from_le_bytes(bytes))
}

pub(super) fn take_text(input: &mut &[u8]) -> BResult<String> {
    let len = usize::try_from(take_u64(input)?)
        .ok()
        .filter(|n| *n <= MAX_TEXT)
        .ok_or(BackupError::WrongPassphraseOrDamaged)?;
    let bytes = take(input, len)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| BackupError::WrongPassphraseOrDamaged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            iterations: 600_000,
            salt: [7; BACKUP_SALT_LEN],
            info: BackupInfo {
                created: 1_700_000_000,
                label: "label".into(),
                serial: "serial".into(),
                objects: 12,
                bytes: 4096,
            },
        }
    }

    #[test]
    fn encode_parse_round_trip() {
        let h = header();
        let mut file = h.encode();
        let len = file.len();
        assert_eq!(len, 8 + 1 + 8 + 16 + 8 * 3 + 8 + 5 + 8 + 6);
        assert_eq!(&file[..9], b"KWBACKUP\x01");
        assert_eq!(file[9..17], 600_000u64.to_le_bytes());
        file.extend_from_slice(b"payload");
        let (back, aad, rest) = Header::parse(&file).unwrap();
        assert_eq!(back, h);
        assert_eq!(aad, &file[..len]);
        assert_eq!(rest, b"payload");
    }

    #[test]
    fn bad_fields_are_damage() {
        let good = header().encode();
        let mut cases = Vec::new();
        for iterations in [0u64, u64::from(MAX_ITERATIONS) + 1, 1 << 40] {
            let mut f = good.clone();
            f[9..17].copy_from_slice(&iterations.to_le_bytes());
            cases.push(f);
        }
        let label_len_at = 9 + 8 + 16 + 24;
        let mut long = good.clone();
        long[label_len_at..label_len_at + 8].copy_from_slice(&65u64.to_le_bytes());
        cases.push(long);
        let mut not_utf8 = good.clone();
        not_utf8[label_len_at + 8] = 0xFF;
        cases.push(not_utf8);
        cases.push(good[..good.len() - 1].to_vec());
        for (i, f) in cases.iter().enumerate() {
            assert_eq!(
                Header::parse(f).unwrap_err(),
                BackupError::WrongPassphraseOrDamaged,
                "case {i}"
            );
        }
        let mut v2 = good.clone();
        v2[8] = 2;
        assert_eq!(
            Header::parse(&v2).unwrap_err(),
            BackupError::UnsupportedVersion(2)
        );
        assert_eq!(
            Header::parse(b"KWBACKU").unwrap_err(),
            BackupError::NotABackup
        );
        assert_eq!(
            Header::parse(b"SQLite format 3\0").unwrap_err(),
            BackupError::NotABackup
        );
    }
}
