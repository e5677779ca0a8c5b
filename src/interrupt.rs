//! Ctrl-C and SIGTERM (what CI sends when a job is cancelled), counted
//! from the first instruction of `main`, so a signal that comes while the
//! database is being created is never the default "die at once": the
//! commands decide what a signal means and when they look at it.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Signals received so far.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// Counts every SIGINT and SIGTERM from now on, and makes sure both can
/// reach the process: a parent may have started it with them blocked
/// (the mask is inherited), and a signal that is handled must arrive.
#[cfg(unix)]
pub fn install() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action only adds to an atomic counter, which is
        // async-signal-safe; it allocates, locks and prints nothing.
        unsafe {
            signal_hook_registry::register(signal, || {
                RECEIVED.fetch_add(1, Ordering::SeqCst);
            })
        }?;
    }
    // SAFETY: plain libc calls on a sigset_t this function owns.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    Ok(())
}

/// Elsewhere only Ctrl-C is known, and only once the runtime listens.
#[cfg(not(unix))]
pub fn install() -> std::io::Result<()> {
    Ok(())
}

/// How many signals have come so far.
pub fn count() -> usize {
    RECEIVED.load(Ordering::SeqCst)
}

/// Resolves once `n` signals have come in all (at once if they already
/// have).
#[cfg(unix)]
pub async fn received(n: usize) {
    use tokio::signal::unix::{SignalKind, signal};
    // The listeners exist before the count is read, so a signal between
    // the two still wakes them.
    let listeners = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    let (Ok(mut term), Ok(mut int)) = listeners else {
        return std::future::pending().await;
    };
    while count() < n {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// Resolves once `n` Ctrl-Cs have come since it was first awaited.
#[cfg(not(unix))]
pub async fn received(n: usize) {
    while count() < n {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        RECEIVED.fetch_add(1, Ordering::SeqCst);
    }
}
