//! Opening a token whose rows live in a shared PostgreSQL store (see
//! `config_store.rs`): the password is read here, handed to the backend
//! and dropped (zeroized) once the connection is made.

use super::db::TokenDb;
use crate::config_store::SharedStore;
use crate::error::{Error, Result};

impl TokenDb {
    /// Connects to the slot's PostgreSQL store and creates or checks its
    /// schema. An unreachable server or a refused login is
    /// [`Error::DeviceError`] with the server's words as the cause.
    #[cfg(feature = "postgres")]
    pub fn open_shared(store: &SharedStore) -> Result<TokenDb> {
        let password = store
            .password()
            .map_err(|e| Error::DeviceError.because(&e))?;
        let target = super::postgres::PgTarget {
            url: store.url.clone(),
            password,
            schema: store.schema.clone(),
            offline_grace: store.offline_grace,
        };
        let backend = super::postgres::PgBackend::open(&target)?;
        Ok(TokenDb::with_backend(Box::new(backend)))
    }

    /// Without the `postgres` feature no config can name a shared store
    /// (the config check refuses it); kept total for the types.
    #[cfg(not(feature = "postgres"))]
    pub fn open_shared(store: &SharedStore) -> Result<TokenDb> {
        Err(Error::DeviceError.because(&format_args!(
            "{}: this build has no PostgreSQL store",
            store.schema
        )))
    }
}
