//! Review ac (the prose documents against the code): the names the
//! documents that describe the code as it is today (ARCHITECTURE.md,
//! README.md, RELIABILITY.md) give in backticks must keep naming something.
//!
//! - every repository path (`event_loop/accept.rs`, `python/src/dispatch.rs`,
//!   `scripts/test.sh`, …) exists, read from the repository root or from
//!   one of the source roots the documents abbreviate (`rust/src`,
//!   `python/src`, …);
//! - a path followed by a name (`` `framing/decoder.rs` `decode_while` ``)
//!   names something that file holds;
//! - a test named as `file::test` (`hostile::zero_length_frames_…`,
//!   `cli_client::send_to_…`, `test_limits.py::test_…`) is a test function
//!   of that test file (`file::prefix_*` one whose name starts so).
//!
//! It found a RELIABILITY.md row naming `cli::send_to_a_server_that_…`, a
//! test that lives in `cli/tests/cli_client.rs`. Milliseconds: no network.

use std::path::{Path, PathBuf};

/// The documents checked: they describe the code as it is now (the
/// changelog and the benchmarks' history name files as they were).
const DOCS: [&str; 3] = ["ARCHITECTURE.md", "README.md", "RELIABILITY.md"];

/// Where an abbreviated path may start (`server.rs` is `rust/src/server.rs`).
const ROOTS: [&str; 11] = [
    "",
    "rust/src",
    "rust",
    "python",
    "python/src",
    "python/tcphub",
    "cli/src",
    "ffi/src",
    "bench/src",
    "bench",
    "tests",
];

/// Test files a `file::test` name may point into.
const TEST_DIRS: [&str; 3] = ["rust/tests", "cli/tests", "tests/python"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The backticked spans of `text` outside fenced code blocks, with their
/// line numbers and the text that follows each span up to the next one.
fn spans(text: &str) -> Vec<(usize, String, String)> {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            prose.push('\n');
            continue;
        }
        if !fenced {
            prose.push_str(line);
        }
        prose.push('\n');
    }
    let parts: Vec<&str> = prose.split('`').collect();
    let mut out = Vec::new();
    let mut line = 1;
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && i + 1 < parts.len() {
            let after = parts.get(i + 1).copied().unwrap_or("");
            out.push((line, part.to_string(), after.to_string()));
        }
        line += part.matches('\n').count();
    }
    out
}

fn is_path(s: &str) -> bool {
    let exts = [
        ".rs", ".py", ".pyi", ".c", ".h", ".sh", ".md", ".toml", ".supp",
    ];
    let chars_ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    chars_ok
        && !s.starts_with('/')
        && (!s.starts_with('.') || s.contains('/')) // `.ci/run`, not `.pyi`
        && (exts.iter().any(|e| s.ends_with(e)) || (s.contains('/') && !s.contains("//")))
}

fn resolve(root: &Path, p: &str) -> Option<PathBuf> {
    ROOTS
        .iter()
        .map(|r| root.join(r).join(p.trim_end_matches('/')))
        .find(|c| c.exists())
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `word` occurs in `text` as a whole word.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let edge = |c: Option<char>| !matches!(c, Some(c) if c.is_ascii_alphanumeric() || c == '_');
        edge(before) && edge(after)
    })
}

/// The test file a `file::test` name points into, if `file` is one (and
/// not also a module of the crate, whose unit tests are `module::tests`).
fn test_file(root: &Path, file: &str) -> Option<PathBuf> {
    if root.join("rust/src").join(format!("{file}.rs")).exists() {
        return None;
    }
    let stem = file.trim_end_matches(".py");
    TEST_DIRS.iter().find_map(|d| {
        ["rs", "py"]
            .iter()
            .map(|ext| root.join(d).join(format!("{stem}.{ext}")))
            .find(|c| c.exists())
    })
}

fn defines_test(body: &str, name: &str, prefix: bool) -> bool {
    ["fn ", "def "].iter().any(|kw| {
        body.match_indices(&format!("{kw}{name}")).any(|(i, m)| {
            let next = body[i + m.len()..].chars().next();
            prefix || !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

#[test]
fn every_backticked_repository_path_and_test_name_in_the_docs_exists() {
    let root = repo();
    let mut wrong = Vec::new();
    for doc in DOCS {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let all = spans(&text);
        for (i, (line, span, after)) in all.iter().enumerate() {
            let (line, span) = (*line, span.trim());
            if is_path(span) {
                let Some(file) = resolve(&root, span) else {
                    wrong.push(format!("{doc}:{line}: no such path `{span}`"));
                    continue;
                };
                // `path` `name` (only whitespace between): the file holds it.
                let next = all.get(i + 1).map(|(_, n, _)| n.trim_end_matches("()"));
                if let Some(name) = next.filter(|n| after.trim().is_empty() && is_ident(n)) {
                    let last = name.rsplit("::").next().unwrap();
                    let body = std::fs::read_to_string(&file).unwrap_or_default();
                    if file.is_file() && !has_word(&body, last) {
                        wrong.push(format!("{doc}:{line}: `{span}` holds no `{name}`"));
                    }
                }
                continue;
            }
            // `file::test`, `file::prefix_*`, `file.py::test`
            let Some((file, test)) = span.split_once("::") else {
                continue;
            };
            if test.contains("::") || test == "*" || test.starts_with('{') {
                continue;
            }
            let (name, prefix) = match test.strip_suffix('*') {
                Some(p) => (p, true),
                None => (test, false),
            };
            if !is_ident(name) || !is_ident(file.trim_end_matches(".py")) {
                continue;
            }
            if let Some(tf) = test_file(&root, file) {
                let body = std::fs::read_to_string(&tf).unwrap();
                if !defines_test(&body, name, prefix) {
                    wrong.push(format!(
                        "{doc}:{line}: no test `{span}` in {}",
                        tf.display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "stale names in the docs:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_a_stale_path_and_a_stale_test_name() {
    let root = repo();
    assert!(resolve(&root, "event_loop/accept.rs").is_some());
    assert!(resolve(&root, "event_loop/no_such_file.rs").is_none());
    let cli = test_file(&root, "cli").expect("cli/tests/cli.rs");
    let body = std::fs::read_to_string(cli).unwrap();
    assert!(!defines_test(
        &body,
        "send_to_a_server_that_resets_at_once_never_says_it_closed",
        false
    ));
    let client = test_file(&root, "cli_client").unwrap();
    let body = std::fs::read_to_string(client).unwrap();
    assert!(defines_test(
        &body,
        "send_to_a_server_that_resets_at_once_never_says_it_closed",
        false
    ));
    assert!(test_file(&root, "gather").is_none()); // a module: `gather::tests`
    let spans = spans("a `x.rs` `f` b\n```\n`not.rs`\n```\n`y/z.rs`");
    let names: Vec<_> = spans.iter().map(|(l, s, _)| (*l, s.as_str())).collect();
    assert_eq!(names, [(1, "x.rs"), (1, "f"), (5, "y/z.rs")]);
}
