//! A request/response service whose answers come from a pool of worker
//! threads, not from the event loops: each line is a job, each answer a
//! line. Clients may end their sending side after their requests (as
//! `nc -N` does): the server holds them open for the answers
//! (`hold_for_replies`) and closes each once its last job is answered. At
//! most `MAX_JOBS` jobs wait for a worker: at that bound the server pauses
//! its input (`pause_input`: TCP slows the clients down) until the workers
//! have caught up to half of it. On Ctrl-C or SIGTERM it shuts down in two phases: it stops taking jobs
//! (`stop_input`), lets the workers answer the ones taken, then stops.
//!
//! ```text
//! cargo run --release --example worker_pool_server -- 8003
//! printf 'sleep 300\nhello\n' | nc -N 127.0.0.1 8003
//! # -> "hello -> HELLO", then "sleep 300 -> slept 300 ms", then the end
//! ```
//!
//! A job `sleep MS` sleeps that long (at most 10 s); any other line is
//! answered in upper case.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tcphub::{ClientId, DisconnectReason, Framing, ServerHandle, TcpServer};

const WORKERS: usize = 4;

/// Jobs waiting for a worker at most: then the input pauses.
const MAX_JOBS: usize = 64;

/// How long a client that finished sending is held for its answers.
const HOLD: Duration = Duration::from_secs(60);

/// A job: the client that sent it, and the line.
type Job = (ClientId, Vec<u8>);

/// Per client with jobs: how many are unanswered, and whether it has
/// finished sending (then it is closed once that count is 0).
type Pending = Arc<Mutex<HashMap<ClientId, (usize, bool)>>>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker_pool_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().len() > 2 {
        return Err("usage: worker_pool_server [PORT]".into());
    }
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p
            .parse()
            .map_err(|_| format!("{p:?} is not a port (0-65535)"))?,
        None => 8003,
    };
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let (jobs_tx, jobs) = crossbeam_channel::unbounded::<Job>();
    // Taken out (and dropped) at the shutdown, so the workers see the end.
    let jobs_tx = Arc::new(Mutex::new(Some(jobs_tx)));
    let pending = Pending::default();
    let (p1, p2, tx) = (pending.clone(), pending.clone(), jobs_tx.clone());
    let server = TcpServer::new(port, 1000)
        .framing(Framing::lines())
        .hold_for_replies(HOLD)
        .on_message(move |srv, c, job| submit(srv, &tx, &p1, c.id, job))
        .on_disconnect(move |srv, c, why| ended(srv, &p2, c.id, why))
        .start()?;
    eprintln!("worker pool server listening on {}", server.local_addr());
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (srv, jobs, pending) = (server.clone(), jobs.clone(), pending.clone());
            let gate = jobs_tx.clone();
            std::thread::spawn(move || work(&srv, &jobs, &gate, &pending))
        })
        .collect();
    if let Some(sig) = signals.forever().next() {
        eprintln!("signal {sig}: taking no more jobs, answering the ones taken");
    }
    server.stop_input();
    drop(jobs_tx.lock().unwrap().take());
    for w in workers {
        let _ = w.join();
    }
    eprintln!("every job answered: stopping");
    server.stop();
    Ok(())
}

/// Queues client `id`'s job for the workers (on an event loop: no
/// waiting); at `MAX_JOBS` waiting, pauses the input. (Decided under the
/// `jobs` lock, as the workers' resume is: checked and acted on apart, a
/// pause could land after the workers' last look at an emptied queue, and
/// nobody would resume.)
fn submit(
    srv: &ServerHandle,
    jobs: &Mutex<Option<Sender<Job>>>,
    pending: &Pending,
    id: ClientId,
    job: &[u8],
) {
    if let Some(tx) = jobs.lock().unwrap().as_ref() {
        pending.lock().unwrap().entry(id).or_default().0 += 1;
        let _ = tx.send((id, job.to_vec()));
        if tx.len() >= MAX_JOBS {
            srv.pause_input(); // backpressure: TCP holds the rest
        }
    }
}

/// Client `id` left or finished sending: close it once its jobs are
/// answered (it is held for them meanwhile).
fn ended(srv: &ServerHandle, pending: &Pending, id: ClientId, why: &DisconnectReason) {
    let mut pending = pending.lock().unwrap();
    match pending.get_mut(&id) {
        Some(entry) if entry.0 > 0 && *why == DisconnectReason::ClosedByPeer => entry.1 = true,
        _ => {
            // Everything answered (or it is gone for good): let it go now.
            pending.remove(&id);
            let _ = srv.disconnect(id);
        }
    }
}

/// A worker: runs jobs until the queue is closed and empty; resumes the
/// input once the jobs waiting are down to half of `MAX_JOBS` (under the
/// lock `submit` pauses it under).
fn work(
    srv: &ServerHandle,
    jobs: &Receiver<Job>,
    gate: &Mutex<Option<Sender<Job>>>,
    pending: &Pending,
) {
    for (id, job) in jobs {
        {
            let _gate = gate.lock().unwrap();
            if jobs.len() <= MAX_JOBS / 2 && srv.input_paused() {
                srv.resume_input(); // caught up: read the clients again
            }
        }
        let answer = run_job(&job);
        // It may have left meanwhile: then there is nobody to answer.
        let _ = srv.send(id, &[&job[..], b" -> ", &answer[..]].concat());
        let mut pending = pending.lock().unwrap();
        if let Some(entry) = pending.get_mut(&id) {
            entry.0 -= 1;
            if entry.0 == 0 && entry.1 {
                pending.remove(&id);
                let _ = srv.disconnect(id); // answered: closed once written
            }
        }
    }
}

/// The work: `sleep MS`, or the line in upper case.
fn run_job(job: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(job);
    match text
        .strip_prefix("sleep ")
        .map(|ms| ms.trim().parse::<u64>())
    {
        Some(Ok(ms)) => {
            let ms = ms.min(10_000);
            std::thread::sleep(Duration::from_millis(ms));
            format!("slept {ms} ms").into_bytes()
        }
        Some(Err(_)) => b"error: say sleep MS".to_vec(),
        None => job.to_ascii_uppercase(),
    }
}
