//! The row-store seam: the bytes-only interface every storage backend
//! (SQLite, PostgreSQL) implements. Transaction bodies above it — object
//! rows, PIN records, the audit chain, PIN attempts, master-key rotation —
//! are written once against [`Tx`]: statements in the SQL subset both
//! engines share, values that are only integers, byte strings and text.
//! No crypto happens below this seam and no key crosses it unsealed.
//!
//! Statements use numbered placeholders `?1`, `?2` … (a backend whose
//! engine numbers them differently rewrites them once per statement, and
//! caches the prepared statement). Where the engines differ in syntax, a
//! body asks [`Tx::dialect`].

use super::schema::{TxError, TxResult};
use crate::error::Error;

/// One parameter or column value.
#[derive(Clone, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Blob(Vec<u8>),
    Text(String),
}

impl std::fmt::Debug for Val {
    /// Never the bytes: a value may be a sealed blob or a lookup tag.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Null => f.write_str("Null"),
            Val::Int(_) => f.write_str("Int(..)"),
            Val::Blob(b) => write!(f, "Blob({} bytes)", b.len()),
            Val::Text(_) => f.write_str("Text(..)"),
        }
    }
}

/// The SQL flavour of a backend, for the few statements whose syntax
/// differs between engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One open transaction of a backend. Every method runs one statement in
/// it; a failure leaves the transaction to be rolled back by its owner.
pub trait Tx {
    /// Runs a statement that returns no rows; the number of rows changed.
    fn exec(&self, sql: &str, args: &[Val]) -> TxResult<usize>;
    /// Runs a query; every row it returns.
    fn query(&self, sql: &str, args: &[Val]) -> TxResult<Vec<Row>>;
    fn dialect(&self) -> Dialect;

    /// The first row of a query, if any.
    fn query_opt(&self, sql: &str, args: &[Val]) -> TxResult<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Whether a query returns any row.
    fn exists(&self, sql: &str, args: &[Val]) -> TxResult<bool> {
        Ok(!self.query(sql, args)?.is_empty())
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Val>);

impl Row {
    /// Column `i` as `T`. A missing column or a value of another type is a
    /// store that does not hold what this version wrote: DEVICE_ERROR.
    pub fn get<T: FromVal>(&self, i: usize) -> TxResult<T> {
        let v = self.0.get(i).ok_or_else(|| bad_column(i, "missing"))?;
        T::from_val(v).ok_or_else(|| bad_column(i, "of an unexpected type"))
    }
}

fn bad_column(i: usize, what: &str) -> TxError {
    TxError::Ck(Error::DeviceError.because(&format_args!("stored column {i} is {what}")))
}

/// A Rust type a column value converts to.
pub trait FromVal: Sized {
    fn from_val(v: &Val) -> Option<Self>;
}

impl FromVal for i64 {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromVal for bool {
    fn from_val(v: &Val) -> Option<Self> {
        i64::from_val(v).map(|i| i != 0)
    }
}

impl FromVal for Vec<u8> {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl FromVal for String {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            v => T::from_val(v).map(Some),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<&i64> for Val {
    fn from(v: &i64) -> Self {
        Val::Int(*v)
    }
}

impl From<u32> for Val {
    fn from(v: u32) -> Self {
        Val::Int(i64::from(v))
    }
}

impl From<u8> for Val {
    fn from(v: u8) -> Self {
        Val::Int(i64::from(v))
    }
}

impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(i64::from(v))
    }
}

impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Val::Blob(v.to_vec())
    }
}

impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Blob(v)
    }
}

impl From<&Vec<u8>> for Val {
    fn from(v: &Vec<u8>) -> Self {
        Val::Blob(v.clone())
    }
}

impl<const N: usize> From<[u8; N]> for Val {
    fn from(v: [u8; N]) -> Self {
        Val::Blob(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Val {
    fn from(v: &[u8; N]) -> Self {
        Val::Blob(v.to_vec())
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}

impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}

impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

impl<T: Clone + Into<Val>> From<&Option<T>> for Val {
    fn from(v: &Option<T>) -> Self {
        v.clone().map_or(Val::Null, Into::into)
    }
}

/// The parameters of one statement: `vals![a, b]` is `&[Val::from(a),
/// Val::from(b)]`.
#[macro_export]
#[doc(hidden)]
macro_rules! vals {
    () => { &[] as &[$crate::store::rows::Val] };
    ($($x:expr),+ $(,)?) => { &[$($crate::store::rows::Val::from($x)),+] };
}
pub use crate::vals;

/// Rewrites `?N` placeholders as `$N` (PostgreSQL's numbering), and a
/// bare `?` as the next number. Statements here hold no `?` or `$` in
/// string literals, so a plain scan is exact.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        out.push('$');
        if chars.peek().is_some_and(char::is_ascii_digit) {
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                out.push(d);
            }
        } else {
            next += 1;
            out.push_str(&next.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?2)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $2)"
        );
        assert_eq!(
            numbered_placeholders("x IN (?, ?) AND id > ?"),
            "x IN ($1, $2) AND id > $3"
        );
        assert_eq!(numbered_placeholders("no params"), "no params");
    }

    #[test]
    fn values_convert_both_ways_and_debug_hides_bytes() {
        let row = Row(vec![
            Val::from(7i64),
            Val::from(vec![1u8, 2]),
            Val::Null,
            Val::from("t"),
        ]);
        assert_eq!(row.get::<i64>(0).ok(), Some(7));
        assert_eq!(row.get::<Vec<u8>>(1).ok(), Some(vec![1, 2]));
        assert_eq!(row.get::<Option<Vec<u8>>>(2).ok(), Some(None));
        assert_eq!(row.get::<String>(3).ok(), Some("t".to_string()));
        assert!(row.get::<i64>(1).is_err());
        assert!(row.get::<i64>(9).is_err());
        assert_eq!(format!("{:?}", Val::from(vec![9u8; 3])), "Blob(3 bytes)");
        let none: Option<i64> = None;
        assert_eq!(Val::from(none), Val::Null);
    }
}
