//! A fuzzing harness for stable Rust: feeds the same target functions that
//! `cargo fuzz` runs with generated and mutated inputs for a bounded time.
//! It has no coverage feedback (that needs libFuzzer on nightly), so it makes
//! up for it with inputs shaped like each framing: valid frames, then
//! corrupted ones — flipped bits, stray `\n`/`\r`, headers at and around the
//! limit, truncations.
//!
//! ```text
//! cargo run --release --bin fuzz_stable -- [SECONDS] [--seed N] [--target NAME]
//! cargo run --release --bin fuzz_stable -- --replay FILE --target NAME
//! ```
//!
//! A failing input is written to `artifacts/<target>/crash-<seed>-<n>` and
//! the process exits with status 1.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tcphub_fuzz::targets;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("decode_lines", targets::lines),
    ("decode_length_prefixed", targets::length_prefixed),
    ("decode_raw", targets::raw),
    ("roundtrip", targets::roundtrip),
];

/// SplitMix64: small, fast, and reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// One input for `target`: a 3-byte header (limit, read sizes) and a body.
fn generate(rng: &mut Rng, target: &str, pool: &[Vec<u8>]) -> Vec<u8> {
    if !pool.is_empty() && rng.below(3) == 0 {
        let mut v = pool[rng.below(pool.len())].clone();
        mutate(rng, &mut v);
        return v;
    }
    let mut v = vec![rng.byte(), rng.byte(), rng.byte()];
    let max = match v[0] {
        255 => usize::MAX,
        254 => u32::MAX as usize,
        253 => 64 * 1024,
        b => b as usize % 48,
    };
    match rng.below(3) {
        0 => {
            // Plain noise.
            let n = rng.below(2048);
            v.extend((0..n).map(|_| rng.byte()));
        }
        _ => {
            // Frames shaped for the framing, lengths around the limit.
            for _ in 0..rng.below(24) {
                let len = match rng.below(4) {
                    0 => max.min(300),
                    1 => max.saturating_add(1).min(301),
                    2 => 0,
                    _ => rng.below(max.min(300) + 2),
                };
                match target {
                    "decode_length_prefixed" => {
                        v.extend_from_slice(&(len as u32).to_be_bytes());
                        v.extend((0..len).map(|_| b'a' + rng.below(26) as u8));
                    }
                    "roundtrip" => {
                        v.push(len.min(255) as u8);
                        v.extend((0..len.min(255)).map(|_| rng.byte()));
                    }
                    _ => {
                        v.extend((0..len).map(|_| b'a' + rng.below(26) as u8));
                        match rng.below(4) {
                            0 => v.extend_from_slice(b"\r\n"),
                            1 => v.push(b'\r'),
                            _ => v.push(b'\n'),
                        }
                    }
                }
            }
            if rng.below(2) == 0 {
                mutate(rng, &mut v);
            }
        }
    }
    v
}

/// Small random edits that keep most of the structure.
fn mutate(rng: &mut Rng, v: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        if v.len() <= 3 {
            v.push(rng.byte());
            continue;
        }
        let i = 3 + rng.below(v.len() - 3);
        match rng.below(7) {
            0 => v[i] ^= 1 << rng.below(8),
            1 => v.insert(i, b'\n'),
            2 => v.insert(i, b'\r'),
            3 => v.truncate(i),
            4 => v.splice(i..i, [0xFF, 0xFF, 0xFF, 0xFF]).for_each(drop),
            5 => v[1] = rng.byte(), // another way of cutting the same stream
            _ => {
                let j = 3 + rng.below(v.len() - 3);
                let (a, b) = (i.min(j), i.max(j));
                let piece = v[a..b].to_vec();
                v.splice(b..b, piece).for_each(drop);
            }
        }
    }
}

/// Inputs `cargo fuzz` saved for `target` (`corpus/<target>/`), if any.
fn corpus(dir: &Path, target: &str) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir.join("corpus").join(target)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .take(1000)
        .collect()
}

fn run_one(f: Target, input: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| f(input))).is_ok()
}

fn main() {
    let mut secs = 10u64;
    let mut seed = None;
    let mut only: Option<String> = None;
    let mut replay: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()),
            "--target" => only = args.next(),
            "--replay" => replay = args.next().map(PathBuf::from),
            s => secs = s.parse().unwrap_or_else(|_| panic!("unknown argument {s}")),
        }
    }
    let targets: Vec<(&str, Target)> = TARGETS
        .into_iter()
        .filter(|(n, _)| only.as_deref().is_none_or(|o| o == *n))
        .collect();
    assert!(!targets.is_empty(), "no target named {only:?}");

    if let Some(file) = replay {
        let input = std::fs::read(&file).expect("read the input to replay");
        for (_, f) in &targets {
            f(&input); // panics with the assertion message on failure
        }
        println!("replayed {}: ok", file.display());
        return;
    }

    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let per_target = Duration::from_secs(secs) / targets.len() as u32;
    println!(
        "fuzz_stable: seed {seed}, {secs} s over {} targets",
        targets.len()
    );
    // A panic inside a target is caught and reported below; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let mut total = 0u64;
    for (name, f) in &targets {
        let mut pool = corpus(dir, name);
        let seeded = pool.len();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < per_target {
            for _ in 0..256 {
                let input = generate(&mut rng, name, &pool);
                if !run_one(*f, &input) {
                    let _ = std::panic::take_hook();
                    let out = dir.join("artifacts").join(name);
                    std::fs::create_dir_all(&out).expect("create artifacts dir");
                    let path = out.join(format!("crash-{seed}-{n}"));
                    std::fs::write(&path, &input).expect("write the failing input");
                    eprintln!(
                        "{name}: FAILED on input {n} ({} bytes), saved to {}",
                        input.len(),
                        path.display()
                    );
                    eprintln!("replay: cargo run --release --bin fuzz_stable -- --replay {} --target {name}", path.display());
                    f(&input); // again, with the panic message shown
                    std::process::exit(1);
                }
                if pool.len() < 4096 && rng.below(64) == 0 {
                    pool.push(input);
                }
                n += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name:24} {n:>10} inputs in {secs:5.1} s ({:>8.0}/s), {seeded} from the corpus",
            n as f64 / secs
        );
        total += n;
    }
    println!("fuzz_stable: {total} inputs, 0 failures");
}
