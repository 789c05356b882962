//! Review dp (dependency and build hygiene): every script that builds or
//! tests the project does it with the committed `Cargo.lock`.
//!
//! - each `cargo build|test|run|rustc|check|clippy|doc|bench|package|publish`
//!   command in `scripts/*.sh` passes `--locked` (or `--frozen`): without
//!   it a stale lock is silently rewritten and the build uses versions
//!   nobody tested;
//! - each `pip install` of the repository (maturin as the PEP 517 backend,
//!   which runs cargo) sets `MATURIN_PEP517_ARGS` with `--locked`
//!   (`[tool.maturin] locked = true` cannot do it: the sdist keeps the whole
//!   workspace's lock for a trimmed workspace, which `--locked` refuses).
//!
//! It found `scripts/test-c.sh` (the ffi build and test), `install-c.sh`,
//! `soak.sh`, `fuzz.sh`'s stable harness, and `pip install .` in
//! `test-python.sh` and `bench.sh` without it. Milliseconds: no build.

use std::path::{Path, PathBuf};

const CARGO_BUILDS: [&str; 10] = [
    "build", "test", "run", "rustc", "check", "clippy", "doc", "bench", "package", "publish",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The script's commands: comments dropped, `\`-continued lines joined,
/// with the line number each starts on.
fn commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        if cur.is_empty() {
            start = i + 1;
        }
        match code.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(code);
                out.push((start, std::mem::take(&mut cur)));
            }
        }
    }
    out
}

/// `cmd` without its double-quoted strings that hold a space (messages
/// such as `section "pip install . ..."`); `"$ROOT"` stays.
fn unquoted(cmd: &str) -> String {
    let mut out = String::new();
    let mut parts = cmd.split('"');
    out.push_str(parts.next().unwrap_or(""));
    let rest: Vec<&str> = parts.collect();
    for pair in rest.chunks(2) {
        if !pair[0].contains(' ') {
            out.push('"');
            out.push_str(pair[0]);
            out.push('"');
        }
        out.push_str(pair.get(1).copied().unwrap_or(""));
    }
    out
}

/// The cargo subcommand of a `cargo ...` invocation in `cmd`, if it builds.
fn cargo_build_subcommand(cmd: &str) -> Option<String> {
    let cmd = unquoted(cmd);
    let words: Vec<&str> = cmd.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if *w != "cargo" {
            continue;
        }
        // `cargo +nightly fuzz run`: cargo-fuzz, which has no --locked.
        let mut rest = words[i + 1..].iter().skip_while(|w| w.starts_with('+'));
        let sub = rest.next()?;
        if CARGO_BUILDS.contains(sub) && rest.next() != Some(&"--version") {
            return Some((*sub).to_owned());
        }
    }
    None
}

fn installs_the_repo(cmd: &str) -> bool {
    let cmd = unquoted(cmd);
    let words: Vec<&str> = cmd.split_whitespace().collect();
    words.windows(2).any(|w| w == ["pip", "install"])
        && words
            .iter()
            .any(|w| matches!(*w, "." | "\"$ROOT\"" | "$ROOT"))
}

#[test]
fn review_dp_scripts_build_with_the_committed_lock() {
    let dir = repo().join("scripts");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no scripts in {}", dir.display());
    let mut bad = Vec::new();
    let mut builds = 0;
    for path in &scripts {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let pep517_locked = text
            .lines()
            .any(|l| l.contains("MATURIN_PEP517_ARGS") && l.contains("--locked"));
        for (line, cmd) in commands(&text) {
            if let Some(sub) = cargo_build_subcommand(&cmd) {
                builds += 1;
                if !cmd.contains("--locked") && !cmd.contains("--frozen") {
                    bad.push(format!(
                        "{name}:{line}: cargo {sub} without --locked: {cmd}"
                    ));
                }
            }
            if installs_the_repo(&cmd) {
                builds += 1;
                if !pep517_locked {
                    bad.push(format!(
                        "{name}:{line}: pip install of the repository without \
                         MATURIN_PEP517_ARGS=--locked: {cmd}"
                    ));
                }
            }
        }
    }
    assert!(
        builds >= 5,
        "found only {builds} build commands: parser broken?"
    );
    assert!(
        bad.is_empty(),
        "builds that may rewrite Cargo.lock:\n{}",
        bad.join("\n")
    );
}
