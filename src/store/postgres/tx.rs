//! PostgreSQL's side of the row-store seam ([`Tx`]): one open transaction
//! on one connection, statements prepared once per connection (after
//! `?N` → `$N`), values converted to whatever type the server inferred
//! for each parameter, and rows decoded by column type.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};

use super::conn::pg_error;
use crate::error::Error;
use crate::store::rows::{Dialect, Row, Tx, Val, numbered_placeholders};
use crate::store::schema::{TxError, TxResult};

/// Prepared statements kept per connection, at most: the bodies' texts are
/// fixed, but a statement with a variable `IN (…)` list makes a new text
/// per length. Past it the cache starts again.
const STATEMENT_CACHE: usize = 512;

/// One connection of this process, and its prepared statements.
pub(super) struct Conn {
    pub(super) client: Client,
    stmts: HashMap<String, Statement>,
    /// Between BEGIN and a COMMIT or ROLLBACK that succeeded. Still set at
    /// the start of a call, it means the last one ended inside its
    /// transaction (a body panicked, or ROLLBACK failed): the connection
    /// is closed rather than reused, which makes the server roll back,
    /// and the next BEGIN never lands inside that old transaction.
    pub(super) in_tx: bool,
}

impl Conn {
    pub(super) fn new(client: Client) -> Conn {
        Conn {
            client,
            stmts: HashMap::new(),
            in_tx: false,
        }
    }

    /// The prepared statement for `sql` (in `?N` form), preparing it once.
    fn statement(&mut self, sql: &str) -> TxResult<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self
            .client
            .prepare(&numbered_placeholders(sql))
            .map_err(|e| fail(&e))?;
        if self.stmts.len() >= STATEMENT_CACHE {
            self.stmts.clear();
        }
        self.stmts.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// A transaction opened by `PgBackend::run` on `conn` (BEGIN already sent;
/// COMMIT or ROLLBACK is the owner's).
pub(super) struct PgTx<'a> {
    conn: RefCell<&'a mut Conn>,
}

impl<'a> PgTx<'a> {
    pub(super) fn new(conn: &'a mut Conn) -> PgTx<'a> {
        PgTx {
            conn: RefCell::new(conn),
        }
    }
}

fn fail(e: &postgres::Error) -> TxError {
    TxError::Ck(pg_error(e))
}

impl Tx for PgTx<'_> {
    fn exec(&self, sql: &str, args: &[Val]) -> TxResult<usize> {
        let mut conn = self.conn.borrow_mut();
        let stmt = conn.statement(sql)?;
        let params: Vec<PgVal<'_>> = args.iter().map(PgVal).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let n = conn.client.execute(&stmt, &refs).map_err(|e| fail(&e))?;
        usize::try_from(n).map_err(|_| TxError::Ck(Error::DeviceError))
    }

    fn query(&self, sql: &str, args: &[Val]) -> TxResult<Vec<Row>> {
        let mut conn = self.conn.borrow_mut();
        let stmt = conn.statement(sql)?;
        let params: Vec<PgVal<'_>> = args.iter().map(PgVal).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = conn.client.query(&stmt, &refs).map_err(|e| fail(&e))?;
        rows.iter().map(decode_row).collect()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// A row's columns as [`Val`]s, by the type the server reports. A column
/// of any other type is a statement this seam does not support.
fn decode_row(row: &postgres::Row) -> TxResult<Row> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i).map(|v| v.map(Val::Int))
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|x| Val::Int(i64::from(x))))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|x| Val::Int(i64::from(x))))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|x| Val::Int(i64::from(x))))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Val::Blob))
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(i)
                .map(|v| v.map(Val::Text))
        } else {
            return Err(TxError::Ck(Error::DeviceError.because(&format_args!(
                "PostgreSQL column {} has type {ty}, which the row store does not read",
                col.name()
            ))));
        };
        out.push(v.map_err(|e| fail(&e))?.unwrap_or(Val::Null));
    }
    Ok(Row(out))
}

/// A parameter as whatever type the server inferred for its placeholder.
#[derive(Debug)]
struct PgVal<'a>(&'a Val);

type BoxError = Box<dyn StdError + Sync + Send>;

fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("a {what} value for a parameter of type {ty}").into()
}

impl ToSql for PgVal<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else {
                    Err(mismatch("integer", ty))
                }
            }
            Val::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            Val::Blob(_) => Err(mismatch("byte string", ty)),
            Val::Text(t) if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) => {
                t.as_str().to_sql(ty, out)
            }
            Val::Text(_) => Err(mismatch("text", ty)),
        }
    }

    /// Every type: the value decides in `to_sql` (a `Val` is typed per
    /// value, not per Rust type).
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
