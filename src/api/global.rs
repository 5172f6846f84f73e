//! The process-wide library slot behind `C_Initialize`/`C_Finalize`, with
//! fork detection: a child process sees the parent's state as absent.
//!
//! Every access to the slot is inside the fork gate (`crate::forkgate`), so
//! a child never inherits the slot's lock held. A fork is detected by the
//! gate's generation (an atomic load), not by a getpid() per call.

use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwapOption, Guard};

use cryptoki_sys::*;

use super::{InitArgs, Library};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::forkgate;

/// The library and the fork generation that initialized it.
struct Instance {
    owner: u64,
    library: Library,
}

/// The current instance. Every C_* call loads it (`library()`) with no
/// lock and no reference-count change shared with other threads (arc-swap
/// keeps a per-thread record of the load instead), so calls on different
/// threads do not contend here; C_Finalize swaps it out and the last call
/// still running drops it.
static LIBRARY: ArcSwapOption<Instance> = ArcSwapOption::const_empty();

/// Serializes C_Initialize and C_Finalize (check and swap), inside the
/// fork gate only, so a fork never copies it held.
static WRITERS: Mutex<()> = Mutex::new(());

fn writers() -> Result<std::sync::MutexGuard<'static, ()>> {
    WRITERS.lock().map_err(|_| Error::GeneralError)
}

/// The library for the length of one call (see [`library`]).
pub struct Current(Guard<Option<Arc<Instance>>>);

impl std::ops::Deref for Current {
    type Target = Library;
    fn deref(&self) -> &Library {
        match &*self.0 {
            Some(instance) => &instance.library,
            // `library()` makes a `Current` only from a loaded `Some`, and
            // a guard never changes what it loaded.
            None => unreachable!("Current holds an instance"),
        }
    }
}

/// Checks `C_Initialize`'s arguments as PKCS#11 3.0 §5.4 requires: we
/// always use OS locking, so application callbacks are accepted only
/// together with CKF_OS_LOCKING_OK, and we never create threads.
pub fn check_init_args(args: &InitArgs) -> Result<()> {
    if args.reserved_non_null || args.partial_mutex_callbacks {
        return Err(Error::ArgumentsBad);
    }
    if args.has_mutex_callbacks && args.flags & CKF_OS_LOCKING_OK == 0 {
        return Err(Error::CantLock);
    }
    Ok(())
}

/// Sets up the library (CKR_CRYPTOKI_ALREADY_INITIALIZED if it is).
///
/// The whole set-up runs inside the fork gate: it opens SQLite and reads
/// the environment, and a fork must not copy either mid-way.
pub fn initialize(args: InitArgs) -> Result<()> {
    check_init_args(&args)?;
    let _gate = forkgate::enter();
    let generation = forkgate::generation();
    if matches!(&*LIBRARY.load(), Some(i) if i.owner == generation) {
        return Err(Error::CryptokiAlreadyInitialized);
    }
    warm_up();
    let instance = Arc::new(Instance {
        owner: generation,
        library: Library::new(Config::from_env()?)?,
    });
    let lost = {
        let _writers = writers()?;
        if matches!(&*LIBRARY.load(), Some(i) if i.owner == generation) {
            // Another thread's C_Initialize won meanwhile.
            Some(instance)
        } else {
            // One inherited from a parent across fork(): its locks and
            // database handles may be mid-use in a thread that no longer
            // exists, so it is leaked rather than dropped.
            if let Some(inherited) = LIBRARY.swap(Some(instance)) {
                std::mem::forget(inherited);
            }
            None
        }
    };
    match lost {
        Some(unused) => {
            drop(unused);
            Err(Error::CryptokiAlreadyInitialized)
        }
        None => Ok(()),
    }
}

/// Builds the process-wide lazy tables now, inside the gate: one caught
/// half-built by a fork would block the child's first use forever.
fn warm_up() {
    let _ = crate::mechanism::table();
    crate::mechanism::Curve::warm_up_all();
}

/// Tears the library down (CKR_CRYPTOKI_NOT_INITIALIZED if it is not).
pub fn finalize() -> Result<()> {
    let taken = {
        let _gate = forkgate::enter();
        let _writers = writers()?;
        match &*LIBRARY.load() {
            Some(i) if i.owner == forkgate::generation() => {}
            // A parent's library, seen in a child: left in place (and
            // never dropped) for C_Initialize to replace.
            _ => return Err(Error::CryptokiNotInitialized),
        }
        LIBRARY.swap(None)
    };
    // Dropped outside the gate: closing the stores may take a while.
    // Calls still running keep their load; the library is dropped when
    // the last one returns.
    drop(taken);
    Ok(())
}

/// The initialized library, or CKR_CRYPTOKI_NOT_INITIALIZED (also in a
/// forked child that has not called C_Initialize itself).
///
/// Outside the fork gate: the load takes no lock (a fork in the middle of
/// it leaves the child nothing held), and the child tells a parent's
/// library by its generation.
pub fn library() -> Result<Current> {
    let current = LIBRARY.load();
    match &*current {
        Some(i) if i.owner == forkgate::generation() => Ok(Current(current)),
        _ => Err(Error::CryptokiNotInitialized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_args_rules() {
        let ok = InitArgs::default();
        assert_eq!(check_init_args(&ok), Ok(()));
        let reserved = InitArgs {
            reserved_non_null: true,
            ..ok
        };
        assert_eq!(check_init_args(&reserved), Err(Error::ArgumentsBad));
        let partial = InitArgs {
            partial_mutex_callbacks: true,
            ..ok
        };
        assert_eq!(check_init_args(&partial), Err(Error::ArgumentsBad));
        let callbacks = InitArgs {
            has_mutex_callbacks: true,
            ..ok
        };
        assert_eq!(check_init_args(&callbacks), Err(Error::CantLock));
        let nss = InitArgs {
            has_mutex_callbacks: true,
            flags: CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS,
            ..ok
        };
        assert_eq!(check_init_args(&nss), Ok(()));
    }
}
