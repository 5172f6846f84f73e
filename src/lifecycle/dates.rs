//! CK_DATE values (CKA_START_DATE / CKA_END_DATE: eight ASCII digits
//! YYYYMMDD, or empty for "no date") and today's date in UTC.

use time::{Date, Month, OffsetDateTime};

/// Today in UTC.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// A CK_DATE's canonical bytes; `None` for the empty date or a malformed
/// one (which the object rules already refuse on creation).
pub fn parse(value: &[u8]) -> Option<Date> {
    if value.len() != 8 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    let year: i32 = text.get(0..4)?.parse().ok()?;
    let month: u8 = text.get(4..6)?.parse().ok()?;
    let day: u8 = text.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// A date as a CK_DATE value.
pub fn encode(date: Date) -> Vec<u8> {
    format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
    .into_bytes()
}

/// A date as people read it ("2026-11-22").
pub fn show(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let d = parse(b"20261122").unwrap();
        assert_eq!(encode(d), b"20261122");
        assert_eq!(show(d), "2026-11-22");
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"20261322"), None);
        assert_eq!(parse(b"2026112"), None);
        assert_eq!(parse(b"2026-1-2"), None);
        assert!(parse(b"20240229").is_some());
        assert!(parse(b"20250229").is_none());
    }
}
