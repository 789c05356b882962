//! The engine's log lines, captured for the tests that count them. A
//! process has one logger, so such a test file installs this one (its
//! tests share it): [`capture_log`], then [`logged`] / [`logged_since`] /
//! [`log_lines_with`].

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use log::{Level, LevelFilter};

/// Every line so far: when, its level, its text.
static LINES: Mutex<Vec<(Instant, Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        lines().push((Instant::now(), record.level(), line));
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn lines() -> MutexGuard<'static, Vec<(Instant, Level, String)>> {
    LINES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Captures the lines at `max` and more severe from now on: the first call
/// in the process installs the logger; later ones change nothing.
pub fn capture_log(max: LevelFilter) {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(max);
    }
}

/// The lines so far containing `needle`, with their levels, in order.
pub fn log_lines_with(needle: &str) -> Vec<(Level, String)> {
    lines()
        .iter()
        .filter(|(_, _, line)| line.contains(needle))
        .map(|(_, level, line)| (*level, line.clone()))
        .collect()
}

/// The lines at `level` exactly containing `needle`.
pub fn logged(level: Level, needle: &str) -> Vec<String> {
    lines()
        .iter()
        .filter(|(_, l, line)| *l == level && line.contains(needle))
        .map(|(_, _, line)| line.clone())
        .collect()
}

/// The lines at `level` or more severe containing `needle`, written at or
/// after `since`.
pub fn logged_since(level: Level, needle: &str, since: Instant) -> Vec<String> {
    lines()
        .iter()
        .filter(|(at, l, line)| *at >= since && *l <= level && line.contains(needle))
        .map(|(_, _, line)| line.clone())
        .collect()
}
