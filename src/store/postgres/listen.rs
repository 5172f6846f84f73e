//! Change detection without a query per use: a thread on its own
//! connection LISTENs on the token's channel and moves a counter on every
//! notification, so [`ListenState::stamp`] is a couple of atomic loads.
//!
//! The failure rule (issue 14): while the listener is connected the stamp
//! is the counter. When it loses its connection the stamp keeps its last
//! value for `offline_grace` (cached keys keep working for that bounded
//! time), then answers None ("read the row") until the listener is back;
//! on reconnecting it moves the counter, since notifications were missed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;

use super::conn::ConnSpec;

/// How long the listener waits for a notification before it looks at its
/// stop flag and its connection again.
const POLL: Duration = Duration::from_millis(250);
/// Reconnection back-off: from the first to the last.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Shared between the listener thread, the backend's stamp() and its
/// writers (who bump the counter after their own commit, so their own
/// process sees its writes at once).
pub(super) struct ListenState {
    counter: AtomicU64,
    /// Set once the listener first connected.
    connected_once: AtomicBool,
    /// 0 while connected; otherwise when the connection was lost, in
    /// milliseconds since [`epoch`] plus one.
    offline_since: AtomicU64,
    grace: Duration,
    stop: AtomicBool,
}

/// A process-wide time origin for `offline_since`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

impl ListenState {
    pub(super) fn new(grace: Duration) -> ListenState {
        ListenState {
            counter: AtomicU64::new(2),
            connected_once: AtomicBool::new(false),
            offline_since: AtomicU64::new(0),
            grace,
            stop: AtomicBool::new(false),
        }
    }

    /// The counter while the listener is connected, or within the grace
    /// after it lost its connection; None otherwise. The clock is read
    /// only while offline.
    pub(super) fn stamp(&self) -> Option<u64> {
        if !self.connected_once.load(Ordering::Acquire) {
            return None;
        }
        let since = self.offline_since.load(Ordering::Acquire);
        if since != 0 {
            let grace = u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX);
            if now_ms().saturating_sub(since) >= grace {
                return None;
            }
        }
        Some(self.counter.load(Ordering::Acquire))
    }

    /// Something committed (or may have, unseen): every stamp taken before
    /// is stale. By 2, so the counter stays even.
    pub(super) fn bump(&self) {
        self.counter.fetch_add(2, Ordering::AcqRel);
    }

    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn online(&self) {
        // Missed notifications first, then "connected": a reader that sees
        // the stamp valid sees the moved counter.
        self.bump();
        self.offline_since.store(0, Ordering::Release);
        self.connected_once.store(true, Ordering::Release);
    }

    fn offline(&self) {
        let _ =
            self.offline_since
                .compare_exchange(0, now_ms(), Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Starts the listener thread of this process. It holds the connection
/// spec and the state, nothing of the backend, and ends soon after
/// [`ListenState::stop`].
pub(super) fn spawn(spec: Arc<ConnSpec>, channel: String, state: Arc<ListenState>) -> bool {
    std::thread::Builder::new()
        .name("keyward-pg-listen".into())
        .spawn(move || run(&spec, &channel, &state))
        .is_ok()
}

fn run(spec: &ConnSpec, channel: &str, state: &ListenState) {
    let mut backoff = BACKOFF_FIRST;
    while !state.stopped() {
        if let Ok(mut client) = spec.connect()
            && client.batch_execute(&format!("LISTEN {channel}")).is_ok()
        {
            state.online();
            backoff = BACKOFF_FIRST;
            listen(&mut client, state);
            if state.stopped() {
                return;
            }
        }
        state.offline();
        // Sleep in small steps so a dropped backend's thread ends soon.
        let until = Instant::now() + backoff;
        while Instant::now() < until && !state.stopped() {
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Bumps the counter per notification until the connection fails or the
/// state is stopped.
fn listen(client: &mut postgres::Client, state: &ListenState) {
    while !state.stopped() {
        let next = client.notifications().timeout_iter(POLL).next();
        match next {
            Ok(Some(_)) => state.bump(),
            Err(_) => return,
            Ok(None) => {
                if client.is_closed() {
                    return;
                }
            }
        }
    }
}
