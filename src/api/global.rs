//! The process-wide library slot behind `C_Initialize`/`C_Finalize`, with
//! fork detection: a child process sees the parent's state as absent.
//!
//! Every access to the slot is inside the fork gate (`crate::forkgate`), so
//! a child never inherits the slot's lock held. A fork is detected by the
//! gate's generation (an atomic load), not by a getpid() per call.

use std::sync::{Arc, RwLock};

use cryptoki_sys::*;

use super::{InitArgs, Library};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::forkgate;

/// The library and the fork generation that initialized it. The lock is
/// held only to clone or swap the `Arc`, never across a call, and only
/// inside the fork gate.
static LIBRARY: RwLock<Option<(u64, Arc<Library>)>> = RwLock::new(None);

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
    {
        let current = LIBRARY.read().map_err(|_| Error::GeneralError)?;
        if matches!(&*current, Some((owner, _)) if *owner == generation) {
            return Err(Error::CryptokiAlreadyInitialized);
        }
    }
    warm_up();
    let library = Arc::new(Library::new(Config::from_env()?)?);
    let mut slot = LIBRARY.write().map_err(|_| Error::GeneralError)?;
    match slot.take() {
        Some((owner, lib)) if owner == generation => {
            *slot = Some((owner, lib));
            return Err(Error::CryptokiAlreadyInitialized);
        }
        // Inherited from a parent across fork(): its locks and database
        // handles may be mid-use in a thread that no longer exists, so it
        // is leaked rather than dropped.
        Some((_, inherited)) => std::mem::forget(inherited),
        None => {}
    }
    *slot = Some((generation, library));
    Ok(())
}

/// Builds the process-wide lazy tables now, inside the gate: one caught
/// half-built by a fork would block the child's first use forever.
fn warm_up() {
    use p256::elliptic_curve::group::Group as _;
    let _ = crate::mechanism::table();
    let _ = p256::ProjectivePoint::mul_by_generator(&p256::Scalar::ONE);
    let _ = p384::ProjectivePoint::mul_by_generator(&p384::Scalar::ONE);
    let _ = p521::ProjectivePoint::mul_by_generator(&p521::Scalar::ONE);
}

/// Tears the library down (CKR_CRYPTOKI_NOT_INITIALIZED if it is not).
pub fn finalize() -> Result<()> {
    let taken = {
        let _gate = forkgate::enter();
        let mut slot = LIBRARY.write().map_err(|_| Error::GeneralError)?;
        match slot.take() {
            Some((owner, lib)) if owner == forkgate::generation() => lib,
            Some(inherited) => {
                // A parent's library, seen in a child: left in place (and
                // never dropped) for C_Initialize to replace.
                *slot = Some(inherited);
                return Err(Error::CryptokiNotInitialized);
            }
            None => return Err(Error::CryptokiNotInitialized),
        }
    };
    // Dropped outside the slot's lock: closing the stores may take a
    // while. Sessions still running a call keep their own Arc; the
    // library is dropped when the last one returns.
    drop(taken);
    Ok(())
}

/// The initialized library, or CKR_CRYPTOKI_NOT_INITIALIZED (also in a
/// forked child that has not called C_Initialize itself).
pub fn library() -> Result<Arc<Library>> {
    let _gate = forkgate::enter();
    let slot = LIBRARY.read().map_err(|_| Error::GeneralError)?;
    match &*slot {
        Some((owner, lib)) if *owner == forkgate::generation() => Ok(lib.clone()),
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
