//! The fork gate: makes sure no thread is inside a section holding a lock a
//! forked child could need (SQLite's global and VFS mutexes, our connection
//! mutex, the library slot) at the moment `fork()` copies the process.
//!
//! A child inherits every lock in the state it had at the fork, but only
//! the forking thread: a lock held by any other thread stays held forever
//! in the child. Fork-safe libraries therefore stop their threads at the
//! door of such sections while a fork is under way (pthread_atfork prepare)
//! and open it again afterwards (parent/child handlers). The handlers are
//! registered by `ffi::atfork`; this module is the safe, testable core.
//!
//! Rules for gated code (write them down where a gate is entered):
//! - it takes no lock that a thread outside the gate may hold (only the
//!   library slot and a token's connection mutex, both taken only inside
//!   the gate), otherwise a thread waiting at the door while holding that
//!   lock and a thread inside waiting for it would stall the fork;
//! - it never calls application code, fork() or pthread_atfork(), and it
//!   never blocks without a bound (SQLite's busy timeout is bounded).
//!   (One known exception, harmless: `keyward master-key rotate` reports
//!   progress from inside its transaction; the CLI never registers the
//!   atfork handlers, which only `C_Initialize` does.)
//!
//! A thread already inside enters again without waiting (a thread-local
//! depth), so nested gated calls never wait for their own fork.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many counters the threads inside are spread over. A thread always
/// uses the same one, so threads on different cores rarely write the same
/// cache line on their way in and out (every C_* call passes the gate).
const STRIPES: usize = 32;

#[repr(align(128))]
struct Stripe(AtomicU64);

/// The gate's state: threads inside (outermost entries only), counted in
/// stripes, and forks under way (two threads may fork at once).
pub struct Gate {
    inside: [Stripe; STRIPES],
    pending: AtomicU64,
    /// Bumped in every child: state made under an older generation belongs
    /// to an ancestor process. An atomic load replaces a getpid() per call.
    generation: AtomicU64,
}

/// The process's gate, driven by the pthread_atfork handlers.
static GATE: Gate = Gate::new();

/// A safety valve, never reached while the rules above hold: a prepare
/// that waits longer than any gated section can last (SQLite's busy timeout
/// is 10 s per attempt) lets the fork go on rather than hang the parent.
const PREPARE_LIMIT: Duration = Duration::from_secs(60);

thread_local! {
    /// How deep this thread is inside the gate. One per thread, not per
    /// gate: the process has one gate (tests use their own on their own
    /// threads).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// This thread's stripe, given round-robin at its first entry.
    static STRIPE: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
    };
}

/// Proof of being inside the gate; leaving is dropping it.
#[must_use = "the gate is left when the guard is dropped"]
pub struct Guard<'a> {
    gate: &'a Gate,
    // Not Send: the depth it undoes is this thread's.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Enters the process's gate, waiting while a fork is under way (unless
/// this thread is inside already).
pub fn enter() -> Guard<'static> {
    GATE.enter()
}

/// pthread_atfork prepare: close the door and wait until every other
/// thread has left.
pub fn prepare() {
    GATE.prepare();
}

/// pthread_atfork parent: this fork is done.
pub fn parent() {
    GATE.parent();
}

/// pthread_atfork child (see [`Gate::child`]).
pub fn child() {
    GATE.child();
}

/// The current fork generation of the process.
pub fn generation() -> u64 {
    GATE.generation.load(Ordering::SeqCst)
}

/// Set once the handlers above are registered with pthread_atfork (by
/// `ffi::atfork`), for good: registrations outlive forks. Until then a fork
/// does not move [`generation`], and only the pid tells a child apart.
static ARMED: AtomicBool = AtomicBool::new(false);

/// Records that every later fork runs [`child`] (call it only after a
/// successful pthread_atfork registration of these handlers).
pub fn arm() {
    ARMED.store(true, Ordering::SeqCst);
}

/// Whether every fork from now on moves [`generation`] in the child.
pub fn armed() -> bool {
    ARMED.load(Ordering::SeqCst)
}

impl Gate {
    pub const fn new() -> Gate {
        Gate {
            inside: [const { Stripe(AtomicU64::new(0)) }; STRIPES],
            pending: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    fn stripe(&self) -> &AtomicU64 {
        // STRIPE is always below STRIPES; a fallback stripe is what the
        // types need (any fixed stripe would be correct).
        let [first, ..] = &self.inside;
        &self.inside.get(STRIPE.with(|s| *s)).unwrap_or(first).0
    }

    /// Threads inside, over all stripes.
    fn inside_now(&self) -> u64 {
        self.inside
            .iter()
            .map(|s| s.0.load(Ordering::SeqCst))
            .fold(0, u64::wrapping_add)
    }

    pub fn enter(&self) -> Guard<'_> {
        let depth = DEPTH.with(Cell::get);
        if depth == 0 {
            let stripe = self.stripe();
            let mut spins = 0u32;
            // Announce first, then look at the door (both SeqCst, as
            // `prepare` closes the door first, then counts): a fork closing
            // it at the same moment either sees us inside and waits, or we
            // see it closed and step back out until it is over.
            loop {
                stripe.fetch_add(1, Ordering::SeqCst);
                if self.pending.load(Ordering::SeqCst) == 0 {
                    break;
                }
                stripe.fetch_sub(1, Ordering::SeqCst);
                while self.pending.load(Ordering::SeqCst) != 0 {
                    pause(&mut spins);
                }
            }
        }
        DEPTH.with(|d| d.set(depth.saturating_add(1)));
        Guard {
            gate: self,
            _not_send: std::marker::PhantomData,
        }
    }

    pub fn prepare(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let own = own_share();
        let start = Instant::now();
        let mut spins = 0u32;
        while self.inside_now() > own {
            if start.elapsed() > PREPARE_LIMIT {
                break;
            }
            pause(&mut spins);
        }
    }

    pub fn parent(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }

    /// Only the forking thread exists in the child, so nobody else is
    /// inside and no other fork is pending; everything made before belongs
    /// to the parent. Only atomics: this runs in the child of a fork.
    pub fn child(&self) {
        for stripe in &self.inside {
            stripe.0.store(0, Ordering::SeqCst);
        }
        self.stripe().store(own_share(), Ordering::SeqCst);
        self.pending.store(0, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let depth = DEPTH.with(Cell::get).saturating_sub(1);
        DEPTH.with(|d| d.set(depth));
        if depth == 0 {
            self.gate.stripe().fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// What this thread itself counts inside the gate (0 or 1).
fn own_share() -> u64 {
    u64::from(DEPTH.with(Cell::get) > 0)
}

/// Short waits first (a fork or a gated section usually lasts
/// microseconds), then sleeps so a waiting thread does not steal a core.
fn pause(spins: &mut u32) {
    *spins = spins.saturating_add(1);
    if *spins < 64 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Barrier};

    fn inside(g: &Gate) -> u64 {
        g.inside_now()
    }

    fn pending(g: &Gate) -> u64 {
        g.pending.load(Ordering::SeqCst)
    }

    // A gate of its own (not the process's, which other tests use), on
    // threads that enter no other gate.
    #[test]
    fn gate_blocks_entry_during_fork_and_nests() {
        let gate: &'static Gate = Box::leak(Box::new(Gate::new()));
        std::thread::spawn(move || {
            // Nested entry never waits, even with a fork pending.
            let outer = gate.enter();
            gate.pending.fetch_add(1, Ordering::SeqCst);
            let inner = gate.enter();
            assert_eq!(inside(gate), 1);
            drop(inner);
            gate.parent();
            drop(outer);
            assert_eq!(inside(gate), 0);
        })
        .join()
        .unwrap();

        // A thread inside holds prepare() until it leaves.
        let entered = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let worker = {
            let (entered, release) = (entered.clone(), release.clone());
            std::thread::spawn(move || {
                let g = gate.enter();
                entered.wait();
                release.wait();
                drop(g);
            })
        };
        entered.wait();
        let prepared = Arc::new(AtomicBool::new(false));
        let forker = {
            let prepared = prepared.clone();
            std::thread::spawn(move || {
                gate.prepare();
                prepared.store(true, Ordering::SeqCst);
            })
        };
        while pending(gate) == 0 {
            std::thread::yield_now();
        }
        assert!(!prepared.load(Ordering::SeqCst));
        release.wait();
        worker.join().unwrap();
        forker.join().unwrap();
        assert!(prepared.load(Ordering::SeqCst));

        // A thread at the door waits until the fork is over.
        let done = Arc::new(AtomicBool::new(false));
        let late = {
            let done = done.clone();
            std::thread::spawn(move || {
                let _g = gate.enter();
                done.store(true, Ordering::SeqCst);
            })
        };
        for _ in 0..100 {
            std::thread::yield_now();
        }
        assert!(!done.load(Ordering::SeqCst));
        gate.parent();
        late.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
        assert_eq!((inside(gate), pending(gate)), (0, 0));

        // Two forks at once: the door stays closed until both are over.
        gate.prepare();
        gate.prepare();
        gate.parent();
        assert_eq!(pending(gate), 1);
        gate.parent();
        assert_eq!(pending(gate), 0);

        // The child handler reopens the door and moves the generation.
        std::thread::spawn(move || {
            let before = gate.generation.load(Ordering::SeqCst);
            gate.prepare();
            gate.child();
            assert_eq!((inside(gate), pending(gate)), (0, 0));
            assert_eq!(gate.generation.load(Ordering::SeqCst), before + 1);
        })
        .join()
        .unwrap();
    }
}
