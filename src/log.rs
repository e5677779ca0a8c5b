//! Messages for the person running the tool, on stderr (stdout carries the
//! report). Verbosity is process-wide because every stage logs. Every
//! message is scrubbed of registered secrets before it is written.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::secret::redact;

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// 0: errors only; 1: warnings and notes (the default); 2: debug detail.
pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

pub fn error(message: &str) {
    eprintln!("error: {}", redact(message));
}

pub fn warn(message: &str) {
    if level() >= 1 {
        eprintln!("warning: {}", redact(message));
    }
}

pub fn note(message: &str) {
    if level() >= 1 {
        eprintln!("{}", redact(message));
    }
}

pub fn debug(message: &str) {
    if level() >= 2 {
        eprintln!("debug: {}", redact(message));
    }
}
