//! The printable text file of one custodian's share of a split backup:
//! which backup it belongs to, its index, the split, whether a passphrase
//! protects it, its bytes in hex grouped for reading aloud or retyping,
//! and a checksum over all of that, so a damaged share or one of another
//! backup is named before any recombination (docs/FORMAT.md, "Backup
//! shares").

use zeroize::Zeroizing;

use crate::store::seal_shares::{self, BACKUP_ID_LEN, CHECKSUM_LEN, SHARE_SALT_LEN};

/// The title line every share file starts with.
pub const TITLE: &str = "keyward backup share v1";
/// Hex digits per group and groups per `data` line.
const GROUP: usize = 4;
const GROUPS_PER_LINE: usize = 8;

/// How a share's bytes are kept in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// The share bytes as they are.
    None,
    /// Sealed under PBKDF2-HMAC-SHA256 of the custodian's passphrase.
    Passphrase {
        iterations: u32,
        salt: [u8; SHARE_SALT_LEN],
    },
}

/// One share file's fields.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareFile {
    pub id: [u8; BACKUP_ID_LEN],
    pub index: u8,
    pub count: u8,
    pub threshold: u8,
    pub protection: Protection,
    /// The share bytes, or their sealed form when protected.
    pub data: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareFile")
            .field("id", &hex(&self.id))
            .field("index", &self.index)
            .field("count", &self.count)
            .field("threshold", &self.threshold)
            .field("protection", &self.protection)
            .finish_non_exhaustive()
    }
}

/// Why a share file's text was refused before any crypto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextProblem {
    /// Not a share file at all (no title line).
    NotAShare,
    /// Line `n` (1-based) cannot be read: why.
    Line(usize, &'static str),
    /// A field is missing.
    Missing(&'static str),
    /// Everything parsed but the checksum does not match.
    Checksum,
}

impl std::fmt::Display for TextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextProblem::NotAShare => {
                write!(f, "is not a Keyward backup share (no {TITLE:?} line)")
            }
            TextProblem::Line(n, why) => write!(f, "is damaged: line {n} {why}"),
            TextProblem::Missing(what) => write!(f, "is damaged: it has no {what} line"),
            TextProblem::Checksum => {
                f.write_str("is damaged: its checksum does not match its content")
            }
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Hex in groups of four digits.
fn grouped(bytes: &[u8]) -> Vec<String> {
    let digits = hex(bytes);
    let groups: Vec<&str> = digits
        .as_bytes()
        .chunks(GROUP)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups
        .chunks(GROUPS_PER_LINE)
        .map(|line| line.join(" "))
        .collect()
}

impl ShareFile {
    /// The lines the checksum covers, in their canonical form.
    fn body(&self) -> String {
        let mut out = format!(
            "{TITLE}\nbackup {}\nshare {} of {}, threshold {}\n",
            hex(&self.id),
            self.index,
            self.count,
            self.threshold
        );
        match &self.protection {
            Protection::None => out.push_str("protection none\n"),
            Protection::Passphrase { iterations, salt } => out.push_str(&format!(
                "protection passphrase pbkdf2-sha256 iterations {iterations} salt {}\n",
                hex(salt)
            )),
        }
        for line in grouped(&self.data) {
            out.push_str("data ");
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The file's text.
    pub fn encode(&self) -> String {
        let sum = seal_shares::checksum(self.body().as_bytes());
        let mut out = self.body();
        out.push_str("checksum ");
        out.push_str(&grouped(&sum).join(" "));
        out.push('\n');
        out
    }

    /// Reads a share file's text leniently (blank lines, spacing and hex
    /// case do not matter), then checks its checksum over the canonical
    /// form of what was read.
    pub fn parse(text: &str) -> Result<ShareFile, TextProblem> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty());
        match lines.next() {
            Some((_, l)) if l == TITLE => {}
            _ => return Err(TextProblem::NotAShare),
        }
        let mut id = None;
        let mut split = None;
        let mut protection = None;
        let mut data = Zeroizing::new(String::new());
        let mut sum = None;
        for (n, line) in lines {
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let rest = rest.trim();
            match word {
                "backup" => {
                    let bytes = unhex(rest).ok_or(TextProblem::Line(n, "is not hex"))?;
                    id = Some(
                        <[u8; BACKUP_ID_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
                            TextProblem::Line(n, "has a backup id of the wrong length")
                        })?,
                    );
                }
                "share" => {
                    split = Some(
                        parse_split(rest)
                            .ok_or(TextProblem::Line(n, "is not \"share I of N, threshold M\""))?,
                    )
                }
                "protection" => {
                    protection = Some(
                        parse_protection(rest)
                            .ok_or(TextProblem::Line(n, "names no known protection"))?,
                    )
                }
                "data" => {
                    data.push_str(rest);
                    data.push(' ');
                }
                "checksum" => {
                    let bytes = unhex(rest).ok_or(TextProblem::Line(n, "is not hex"))?;
                    sum = Some(
                        <[u8; CHECKSUM_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
                            TextProblem::Line(n, "has a checksum of the wrong length")
                        })?,
                    );
                }
                _ => return Err(TextProblem::Line(n, "is not a share field")),
            }
        }
        let id = id.ok_or(TextProblem::Missing("backup"))?;
        let (index, count, threshold) = split.ok_or(TextProblem::Missing("share"))?;
        let protection = protection.ok_or(TextProblem::Missing("protection"))?;
        let sum = sum.ok_or(TextProblem::Missing("checksum"))?;
        if data.trim().is_empty() {
            return Err(TextProblem::Missing("data"));
        }
        let data = Zeroizing::new(unhex(&data).ok_or(TextProblem::Checksum)?);
        let file = ShareFile {
            id,
            index,
            count,
            threshold,
            protection,
            data,
        };
        if seal_shares::checksum(file.body().as_bytes()) != sum {
            return Err(TextProblem::Checksum);
        }
        Ok(file)
    }

    /// What a protected share's seal authenticates: its backup, index
    /// and split, so a sealed share cannot be moved to another file.
    pub fn aad(&self) -> Vec<u8> {
        let mut aad = b"keyward-share-v1".to_vec();
        aad.extend_from_slice(&self.id);
        aad.extend_from_slice(&[self.index, self.count, self.threshold]);
        aad
    }
}

fn parse_split(rest: &str) -> Option<(u8, u8, u8)> {
    let (index, rest) = rest.split_once(" of ")?;
    let (count, threshold) = rest.split_once(", threshold ")?;
    Some((
        index.trim().parse().ok()?,
        count.trim().parse().ok()?,
        threshold.trim().parse().ok()?,
    ))
}

fn parse_protection(rest: &str) -> Option<Protection> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        ["none"] => Some(Protection::None),
        ["passphrase", "pbkdf2-sha256", "iterations", n, "salt", salt] => {
            let salt = unhex(salt)?.try_into().ok()?;
            Some(Protection::Passphrase {
                iterations: n.parse().ok()?,
                salt,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(protection: Protection) -> ShareFile {
        ShareFile {
            id: [0xab; BACKUP_ID_LEN],
            index: 2,
            count: 5,
            threshold: 3,
            protection,
            data: Zeroizing::new((0u8..33).collect()),
        }
    }

    #[test]
    fn round_trip_and_golden_text() {
        let f = sample(Protection::None);
        let text = f.encode();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], TITLE);
        assert_eq!(lines[1], "backup abababababababababababababababab");
        assert_eq!(lines[2], "share 2 of 5, threshold 3");
        assert_eq!(lines[3], "protection none");
        assert_eq!(lines[4], "data 0001 0203 0405 0607 0809 0a0b 0c0d 0e0f");
        assert_eq!(lines[6], "data 20");
        assert!(lines[7].starts_with("checksum "));
        assert_eq!(lines.len(), 8);
        assert_eq!(ShareFile::parse(&text).unwrap(), f);
        // Spacing, case and blank lines do not matter.
        let loose: Vec<String> = text
            .lines()
            .map(|l| match l.strip_prefix("data ") {
                Some(hex) => format!("  data   {}  ", hex.to_uppercase()),
                None => l.to_string(),
            })
            .collect();
        let loose = format!("\n{}\n", loose.join("\n\n"));
        assert_eq!(ShareFile::parse(&loose).unwrap(), f);
        let p = sample(Protection::Passphrase {
            iterations: 1000,
            salt: [1; SHARE_SALT_LEN],
        });
        assert_eq!(ShareFile::parse(&p.encode()).unwrap(), p);
    }

    #[test]
    fn every_changed_character_is_caught() {
        let text = sample(Protection::None).encode();
        let start = TITLE.len() + 1;
        for (i, c) in text.char_indices().skip(start) {
            if c == '\n' || c == ' ' {
                continue;
            }
            let replacement = if c == '0' { '1' } else { '0' };
            let mut bad = text.clone();
            bad.replace_range(i..i + 1, &replacement.to_string());
            assert!(ShareFile::parse(&bad).is_err(), "char {i} {c:?}");
        }
        assert_eq!(
            ShareFile::parse("hello").unwrap_err(),
            TextProblem::NotAShare
        );
        let no_sum: String = text.lines().take(7).map(|l| format!("{l}\n")).collect();
        assert_eq!(
            ShareFile::parse(&no_sum).unwrap_err(),
            TextProblem::Missing("checksum")
        );
    }
}
