//! Registers the fork gate's handlers with `pthread_atfork`, once per
//! process, at the first `C_Initialize` (before the module holds any state
//! a child could inherit).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::forkgate;

static REGISTERED: AtomicBool = AtomicBool::new(false);

extern "C" fn prepare() {
    forkgate::prepare();
}

extern "C" fn parent() {
    forkgate::parent();
}

extern "C" fn child() {
    forkgate::child();
}

/// Registers the handlers unless done already. A plain flag, not a
/// `Once`: a `Once` caught mid-call by a fork would block the child's
/// C_Initialize forever. Must not run inside the gate: glibc holds its
/// atfork lock while our prepare handler waits for the gate to empty.
pub fn register() {
    if REGISTERED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: the three handlers are plain functions without arguments
    // that touch only atomics and thread-locals. glibc's pthread_atfork
    // records this shared object (__dso_handle) and drops the handlers at
    // dlclose, so they never outlive the code they point to.
    let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    if rc != 0 {
        // Only ENOMEM is possible: try again at the next C_Initialize.
        REGISTERED.store(false, Ordering::SeqCst);
    } else {
        // From now on a fork moves the generation in the child, so state
        // tagged with it may check it instead of calling getpid().
        forkgate::arm();
    }
}
