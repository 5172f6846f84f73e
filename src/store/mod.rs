//! The encrypted token store: the attribute codec, crypto at rest (master
//! key, PIN wrapping, object sealing, lookup tags, backup files), the
//! per-token SQLite database, its encrypted backups and master-key
//! rotation. The on-disk formats are specified in `docs/FORMAT.md`.

pub mod audit;
pub mod auditor;
pub mod backend;
pub mod backup;
pub mod codec;
pub mod db;
mod durability;
pub mod migrate;
mod object_write;
pub mod pin_attempts;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod quorum;
pub mod rekey;
pub mod rows;
pub mod schema;
pub mod seal;
pub mod seal_quorum;
pub mod seal_shares;
mod shared;
/// The token database's old name: most of the crate still says `store::sqlite::TokenDb`.
pub use db as sqlite;
mod sqlite_backend;
mod sqlite_tx;

pub use backup::{BackupError, BackupInfo};
pub use codec::{AttrMap, decode_attrs, encode_attrs, encode_attrs_secret};
pub use db::{ObjectRow, Role, RowFilter, TokenDb, TokenMeta};
pub use seal::{
    MasterKey, PinRecord, lookup_tag, public_digest, seal_object, unseal_object, unwrap_master_key,
    wrap_master_key,
};
