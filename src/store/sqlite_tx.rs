//! SQLite's side of the row-store seam ([`super::rows::Tx`]): statements
//! run through rusqlite's per-connection statement cache, values map one
//! to one onto SQLite's storage classes.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Transaction, params_from_iter};

use super::rows::{Dialect, Row, Tx, Val};
use super::schema::TxResult;

fn to_sql(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Int(i) => Value::Integer(*i),
        Val::Blob(b) => Value::Blob(b.clone()),
        Val::Text(t) => Value::Text(t.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Val {
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        // No column holds a REAL; one that does is foreign, and every
        // typed read of it fails.
        ValueRef::Real(_) => Val::Null,
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Blob(b.to_vec()),
    }
}

impl Tx for Connection {
    fn exec(&self, sql: &str, args: &[Val]) -> TxResult<usize> {
        let mut stmt = self.prepare_cached(sql)?;
        Ok(stmt.execute(params_from_iter(args.iter().map(to_sql)))?)
    }

    fn query(&self, sql: &str, args: &[Val]) -> TxResult<Vec<Row>> {
        let mut stmt = self.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(args.iter().map(to_sql)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(from_sql(r.get_ref(i)?));
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

impl Tx for Transaction<'_> {
    fn exec(&self, sql: &str, args: &[Val]) -> TxResult<usize> {
        (**self).exec(sql, args)
    }

    fn query(&self, sql: &str, args: &[Val]) -> TxResult<Vec<Row>> {
        (**self).query(sql, args)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}
