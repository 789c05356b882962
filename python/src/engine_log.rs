//! The core's own log lines — an accept that fails (out of descriptors),
//! connections refused at a full hub or per address, a callback that
//! panicked — written to stderr for `python -m tcphub serve`, as
//! `tcphub serve` (env_logger) writes them. Without a logger they went
//! nowhere: a hub out of descriptors stopped taking clients without a word.
//!
//! Written straight to stderr, one write per line, without the GIL: the
//! lines come from the event-loop threads, which must never wait for a
//! Python thread.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// Writes each record as `LEVEL message` (the core's messages begin with
/// `tcphub: `), the format of `python -m tcphub serve`'s own lines.
struct StderrLog;

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Python's names for the levels.
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let line = format!("{level} {}\n", record.args());
        // A stderr that cannot be written loses the line, nothing more.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLog = StderrLog;

/// Sends the core's log lines to stderr from now on: info and up, or with
/// `verbose` 1 debug, 2 or more trace too (private: for `python -m tcphub
/// serve`; a process has one logger, so a second call only sets the level).
#[pyfunction]
pub(crate) fn _log_engine_to_stderr(verbose: u8) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    });
}
