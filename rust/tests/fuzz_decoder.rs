//! Fuzz (unit level, seeded; `TCPHUB_FUZZ_SEEDS=20000` for a longer run):
//! the public `Decoder` fed seeded random byte streams split at random
//! points, against a byte-at-a-time reference
//! decoder written here: same messages, the error in the same chunk, no
//! panic, and no allocation past what `max_len` / the bytes that arrived
//! allow (a header announcing 4 GiB must not allocate it).
//!
//! One #[test] only, so the counting allocator sees this thread alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tcphub::{Decoder, FrameError, Framing};

struct Counting;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LARGEST.fetch_max(n, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: Counting = Counting;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a whole stream decodes to: the messages, then either the error
/// (with the index of the byte at which the stream became invalid) or the
/// end (with what `finish` must say).
#[derive(Debug, PartialEq)]
enum End {
    Error { at: usize },
    Eof(Result<Option<Vec<u8>>, usize>),
}

fn reference(f: Framing, s: &[u8]) -> (Vec<Vec<u8>>, End) {
    let mut out = Vec::new();
    match f {
        Framing::Raw => unreachable!(),
        Framing::Lines { max_len } => {
            let mut cur: Vec<u8> = Vec::new();
            for (i, &b) in s.iter().enumerate() {
                if b == b'\n' {
                    let mut line = std::mem::take(&mut cur);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > max_len {
                        return (out, End::Error { at: i });
                    }
                    out.push(line);
                } else {
                    cur.push(b);
                    // Can it still become a line of at most max_len?
                    let ok = cur.len() <= max_len
                        || (cur.len() as u128 == max_len as u128 + 1 && b == b'\r');
                    if !ok {
                        return (out, End::Error { at: i });
                    }
                }
            }
            let fin = if cur.is_empty() {
                Ok(None)
            } else {
                if cur.last() == Some(&b'\r') {
                    cur.pop();
                }
                Ok(Some(cur))
            };
            (out, End::Eof(fin))
        }
        Framing::LengthPrefixed { max_len } => {
            let mut at = 0;
            loop {
                if s.len() - at < 4 {
                    let held = s.len() - at;
                    return (out, End::Eof(if held == 0 { Ok(None) } else { Err(held) }));
                }
                let len = u32::from_be_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]]) as usize;
                if len > max_len {
                    return (out, End::Error { at: at + 3 });
                }
                if s.len() - at - 4 < len {
                    return (out, End::Eof(Err(s.len() - at)));
                }
                out.push(s[at + 4..at + 4 + len].to_vec());
                at += 4 + len;
            }
        }
    }
}

fn gen_stream(rng: &mut Rng, f: Framing) -> Vec<u8> {
    let target = [0, 1, 7, 64, 300, 2000, 20_000][rng.below(7)];
    let mut s = Vec::new();
    let max = f.max_len().unwrap_or(1000).min(1 << 20);
    // A third of the streams are clean: well-formed frames within the limit.
    let clean = rng.below(3) == 0;
    while s.len() < target {
        if clean {
            let len = rng.below(max.min(3000) + 1);
            match f {
                Framing::Lines { .. } => {
                    s.extend((0..len).map(|_| [b'a', b'\r', 0xff][rng.below(3)]));
                    if len == max && s.last() == Some(&b'\r') {
                        s.push(b'\r'); // the strip takes one: len stays max
                    }
                    s.push(b'\n');
                }
                Framing::LengthPrefixed { .. } => {
                    s.extend_from_slice(&(len as u32).to_be_bytes());
                    s.extend((0..len).map(|_| rng.next() as u8));
                }
                Framing::Raw => s.extend((0..len).map(|_| rng.next() as u8)),
            }
            continue;
        }
        match rng.below(6) {
            // plain garbage
            0 => {
                let n = rng.below(64);
                s.extend((0..n).map(|_| rng.next() as u8));
            }
            // small alphabet stressing \r, \n, boundaries
            1 => {
                let n = rng.below(64);
                s.extend((0..n).map(|_| [b'\n', b'\r', b'a', 0][rng.below(4)]));
            }
            // a well-formed frame near the limit
            _ => {
                let len = match rng.below(4) {
                    0 => rng.below(4),
                    1 => max.saturating_sub(rng.below(3)),
                    2 => max + rng.below(3),
                    _ => rng.below(max.min(5000) + 1),
                };
                let len = len.min(1 << 16);
                match f {
                    Framing::Lines { .. } => {
                        s.extend((0..len).map(|_| b'a' + rng.below(26) as u8));
                        if rng.below(3) == 0 {
                            s.push(b'\r');
                        }
                        s.push(b'\n');
                    }
                    Framing::LengthPrefixed { .. } => {
                        if rng.below(8) == 0 {
                            // a huge announced length
                            s.extend_from_slice(&(u32::MAX - rng.below(3) as u32).to_be_bytes());
                        } else {
                            s.extend_from_slice(&(len as u32).to_be_bytes());
                        }
                        s.extend((0..len).map(|_| rng.next() as u8));
                    }
                    Framing::Raw => s.extend((0..len).map(|_| rng.next() as u8)),
                }
            }
        }
    }
    s
}

fn split(rng: &mut Rng, s: &[u8]) -> Vec<(usize, usize)> {
    let mut cuts = Vec::new();
    let mode = rng.below(4);
    let mut at = 0;
    while at < s.len() {
        let n = match mode {
            0 => 1,
            1 => 1 + rng.below(8),
            2 => 1 + rng.below(4096),
            _ => 1 + rng.below(s.len()),
        };
        let end = (at + n).min(s.len());
        cuts.push((at, end));
        at = end;
    }
    if rng.below(4) == 0 {
        // empty chunks too
        let p = rng.below(cuts.len() + 1);
        let at = cuts.get(p).map_or(s.len(), |c| c.0);
        cuts.insert(p, (at, at));
    }
    cuts
}

#[test]
fn decoders_match_a_reference_on_random_split_streams() {
    let seeds: u64 = std::env::var("TCPHUB_FUZZ_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    let (mut bytes, mut msgs_total, mut errors) = (0usize, 0usize, 0usize);
    for seed in 0..seeds {
        let mut rng = Rng(seed);
        let framing = match rng.below(8) {
            0 => Framing::Raw,
            1 => Framing::Lines {
                max_len: 1 + rng.below(8),
            },
            2 => Framing::Lines {
                max_len: 1 + rng.below(3000),
            },
            3 => Framing::Lines {
                max_len: usize::MAX,
            },
            4 => Framing::LengthPrefixed {
                max_len: 1 + rng.below(8),
            },
            5 => Framing::LengthPrefixed {
                max_len: 1 + rng.below(3000),
            },
            6 => Framing::LengthPrefixed {
                max_len: u32::MAX as usize,
            },
            _ => Framing::LengthPrefixed {
                max_len: usize::MAX,
            },
        };
        let s = gen_stream(&mut rng, framing);
        let chunks = split(&mut rng, &s);
        bytes += s.len();
        let mut d = Decoder::new(framing);
        let mut got: Vec<Vec<u8>> = Vec::with_capacity(s.len() + 1);
        LARGEST.store(0, Ordering::Relaxed);
        let mut err_chunk = None;
        for (k, &(a, b)) in chunks.iter().enumerate() {
            let r = d.decode(&s[a..b], |m| got.push(m.to_vec()));
            match r {
                Ok(()) => {}
                Err(FrameError::TooLarge { max }) => {
                    assert_eq!(Some(max), framing.max_len(), "seed {seed}");
                    err_chunk = Some(k);
                    break;
                }
            }
            // Held bytes are bounded by the limit (plus a header / a '\r').
            if let Some(max) = framing.max_len() {
                assert!(
                    d.buffered() as u128 <= max as u128 + 4,
                    "seed {seed}: {framing:?} buffers {}",
                    d.buffered()
                );
            }
        }
        let fin = if err_chunk.is_none() {
            Some(d.finish())
        } else {
            None
        };
        let largest = LARGEST.load(Ordering::Relaxed);
        // Largest single allocation: the stream itself / message copies
        // (<= s.len()) or the decoder's partial frame, bounded by the limit
        // and by what arrived (doubling, plus a 64 KiB first reserve).
        let bound = s.len().max(
            framing
                .max_len()
                .unwrap_or(0)
                .saturating_add(5)
                .min(2 * s.len() + 65_536 + 8),
        ) + 64;
        assert!(
            largest <= bound.max(4096),
            "seed {seed}: {framing:?} allocated {largest} bytes for a {}-byte stream",
            s.len()
        );
        if framing == Framing::Raw {
            let joined: Vec<u8> = got.concat();
            assert_eq!(joined, s, "seed {seed}");
            assert!(got.iter().all(|m| !m.is_empty()), "seed {seed}");
            assert_eq!(fin, Some(Ok(None)), "seed {seed}");
            continue;
        }
        let (want, end) = reference(framing, &s);
        msgs_total += want.len();
        match end {
            End::Error { at } => {
                errors += 1;
                let k = err_chunk.unwrap_or_else(|| {
                    panic!("seed {seed}: {framing:?} no error, reference fails at byte {at}")
                });
                let (a, b) = chunks[k];
                assert!(
                    a <= at && at < b,
                    "seed {seed}: {framing:?} error in chunk {a}..{b}, reference at {at}"
                );
                // Every message before the bad frame was handed out, no more.
                assert_eq!(got, want, "seed {seed}: {framing:?}");
            }
            End::Eof(f) => {
                assert!(
                    err_chunk.is_none(),
                    "seed {seed}: {framing:?} spurious error"
                );
                assert_eq!(got, want, "seed {seed}: {framing:?}");
                assert_eq!(fin, Some(f), "seed {seed}: {framing:?} finish");
            }
        }
    }
    eprintln!("{seeds} seeds, {bytes} bytes, {msgs_total} messages, {errors} refused streams");
}
