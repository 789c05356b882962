//! Review cf (configuration consistency): a negative number given to a
//! whole-number flag of `tcphub serve` is a usage error that names the
//! flag and its range — as for a value too large, as the seconds flags
//! already do, and as `python -m tcphub serve` says it ("must be from 0 to
//! 65535, got -1") — not clap's "unexpected argument '-1' found", which
//! reads the value as an unknown option.

mod support;

use support::*;

#[test]
fn review_cf_negative_whole_numbers_name_the_flag_and_its_range() {
    for (args, range) in [
        (&["--port", "-1"][..], "0..=65535"),
        (&["--max", "-1"], "from 1 to"),
        (&["--max-per-ip", "-5"], "from 1 to"),
        (&["--threads", "-1"], "from 1 to 4096"),
        (&["--busy-poll-us", "-1"], "from 0 to 1000000"),
        (
            &["--max-per-ip", "2", "--per-ip-v6-prefix", "-1"],
            "1..=128",
        ),
    ] {
        let mut all = vec!["serve", "--bind", "127.0.0.1"];
        all.extend_from_slice(args);
        let stderr = usage_error_of(&all);
        let flag = args[args.len() - 2];
        let value = args[args.len() - 1];
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag} <")),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(range), "{args:?}: {stderr}");
    }
}

#[test]
fn review_cf_busy_poll_says_its_range_for_any_bad_value() {
    // `python -m tcphub serve` says "must be from 0 to 1000000
    // microseconds" for these; clap's u64 parser said "invalid digit
    // found in string", naming no range.
    for value in ["nan", "1e3", "abc"] {
        let stderr = usage_error_of(&["serve", "--bind", "127.0.0.1", "--busy-poll-us", value]);
        assert!(
            stderr.contains(&format!(
                "invalid value '{value}' for '--busy-poll-us <MICROS>'"
            )) && stderr.contains("from 0 to 1000000"),
            "{value}: {stderr}"
        );
    }
}
