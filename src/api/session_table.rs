//! The sessions table, in shards: a call looks its session up under one
//! shard's read lock, so threads working on different sessions touch
//! different locks (and cache lines) instead of one table-wide lock.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use cryptoki_sys::CK_SESSION_HANDLE;

use super::session::SessionRef;
use crate::error::{Error, Result};
use crate::idhash::IdMap;

/// A power of two, more than the cores of most hosts: two busy sessions
/// rarely share a shard.
const SHARDS: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Shard(RwLock<IdMap<CK_SESSION_HANDLE, SessionRef>>);

#[derive(Default)]
pub(super) struct SessionTable {
    shards: [Shard; SHARDS],
}

impl SessionTable {
    fn shard(&self, h: CK_SESSION_HANDLE) -> Result<&Shard> {
        // Handles come from one counter shared with objects, so their low
        // bits spread sessions over the shards.
        let i =
            usize::try_from(h % SHARDS as CK_SESSION_HANDLE).map_err(|_| Error::GeneralError)?;
        self.shards.get(i).ok_or(Error::GeneralError)
    }

    fn read(shard: &Shard) -> Result<RwLockReadGuard<'_, IdMap<CK_SESSION_HANDLE, SessionRef>>> {
        shard.0.read().map_err(|_| Error::GeneralError)
    }

    fn write(shard: &Shard) -> Result<RwLockWriteGuard<'_, IdMap<CK_SESSION_HANDLE, SessionRef>>> {
        shard.0.write().map_err(|_| Error::GeneralError)
    }

    pub fn get(&self, h: CK_SESSION_HANDLE) -> Result<Option<SessionRef>> {
        Ok(Self::read(self.shard(h)?)?.get(&h).cloned())
    }

    pub fn insert(&self, h: CK_SESSION_HANDLE, entry: SessionRef) -> Result<()> {
        Self::write(self.shard(h)?)?.insert(h, entry);
        Ok(())
    }

    pub fn remove(&self, h: CK_SESSION_HANDLE) -> Result<Option<SessionRef>> {
        Ok(Self::write(self.shard(h)?)?.remove(&h))
    }

    /// Removes and returns every session for which `pick` holds, one shard
    /// at a time (a session opened meanwhile in a shard already visited
    /// stays: it was opened after this call, in effect).
    pub fn remove_where(
        &self,
        pick: impl Fn(&SessionRef) -> bool,
    ) -> Result<Vec<(CK_SESSION_HANDLE, SessionRef)>> {
        let mut removed = Vec::new();
        for shard in &self.shards {
            let mut map = Self::write(shard)?;
            let picked: Vec<CK_SESSION_HANDLE> = map
                .iter()
                .filter(|(_, s)| pick(s))
                .map(|(h, _)| *h)
                .collect();
            removed.extend(
                picked
                    .into_iter()
                    .filter_map(|h| map.remove(&h).map(|e| (h, e))),
            );
        }
        Ok(removed)
    }

    /// Visits every session's table entry (its fixed facts), shard by shard.
    pub fn for_each(&self, mut f: impl FnMut(&SessionRef)) -> Result<()> {
        for shard in &self.shards {
            Self::read(shard)?.values().for_each(&mut f);
        }
        Ok(())
    }
}
