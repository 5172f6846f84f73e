//! RFC 7468 PEM text for the `keyward` admin CLI's exports (public keys,
//! certificates). The SubjectPublicKeyInfo of a key object is built in
//! `object::spki` (it reads the object) from `Key::public_key_info`.

use base64ct::{Base64, Encoding};

/// Characters per line of PEM base64 text (RFC 7468 §2).
const PEM_LINE: usize = 64;

/// RFC 7468 text: `-----BEGIN {label}-----`, the base64 of `der` in
/// 64-column lines, `-----END {label}-----`, each line ending in "\n".
/// The label is the caller's constant ("PUBLIC KEY", "CERTIFICATE").
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / PEM_LINE + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        // Base64 is ASCII, so any byte index is a character boundary.
        let (line, tail) = rest.split_at_checked(PEM_LINE).unwrap_or((rest, ""));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines() {
        assert_eq!(pem("X", &[]), "-----BEGIN X-----\n-----END X-----\n");
        let text = pem("DATA", &[0xff; 48]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "/".repeat(64));
        let text = pem("DATA", &[0; 49]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[2], "AA==");
    }
}
