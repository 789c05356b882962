//! Review of gathered sends and lanes under concurrency (`gather.rs`,
//! `shared/local.rs`, the lanes between loops), in one test binary: per
//! sender order across every send kind and the gathered / one-by-one paths
//! (2, 4 and 20 loops, 20 being above `GATHER_MAX_LOOPS`), no loss or
//! duplication when clients leave, are kicked or the server stops with
//! runs in lanes, and bounded memory with a slow reader. Messages carry
//! sequence numbers; every check is of exact order and completeness. No
//! defect was found; these pin the guarantees ARCHITECTURE.md argues.

#[path = "../support/mod.rs"]
mod support;

mod backpressure;
mod busy;
mod cut_counts;
mod departures;
mod drop;
mod kick;
mod late_joiners;
mod many_runs;
mod order;
mod ping_pong;
mod raw_empty;
mod stop;
mod worker;
