//! Helpers shared by the unit tests.

/// Bytes from hex, ignoring whitespace (test vectors are copied as printed).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex test vector"))
        .collect()
}
