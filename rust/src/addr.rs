//! IP addresses as people write them: [`parse_ip`], which the C and Python
//! bindings use for `send_to`, so every spelling of a client's address that
//! tcphub itself prints (`[::1]:8001` in the chat hub, `str(client)` in
//! Python) or that the system hands out (`fe80::1%eth0`) finds the client;
//! and a client's server as its caller named it (`describe_target`,
//! `empty_host`), for its errors.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// `addr` as tcphub reports addresses: an IPv4-mapped IPv6 address
/// (`[::ffff:127.0.0.1]:80`, what a dual-stack socket sees of an IPv4
/// peer) as the IPv4 address it stands for (`127.0.0.1:80`). The server
/// reports its clients this way, and a client its own and its server's
/// address, so both ends of one connection name it alike.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Parses an IP address written as `127.0.0.1`, `::1` or
/// `::ffff:127.0.0.1`, an IPv6 address in brackets (`[::1]`, as it appears
/// in `[::1]:8001`), or an IPv6 address with a zone (`fe80::1%2`,
/// `[fe80::1%eth0]`). `None` for anything else (a name, a port, a bracketed
/// IPv4 address, an empty zone).
///
/// The zone is dropped: clients are reported and found by address and
/// port alone ([`ServerHandle::send_to`](crate::ServerHandle::send_to)
/// ignores a zone, and an IPv4-mapped address finds the IPv4 client).
///
/// # Examples
///
/// ```
/// use std::net::IpAddr;
/// let v6: IpAddr = "::1".parse()?;
/// assert_eq!(tcphub::parse_ip("[::1]"), Some(v6));
/// assert_eq!(tcphub::parse_ip("::1%1"), Some(v6));
/// assert_eq!(tcphub::parse_ip("127.0.0.1"), Some("127.0.0.1".parse()?));
/// assert_eq!(tcphub::parse_ip("localhost"), None);
/// assert_eq!(tcphub::parse_ip("[::1]:8001"), None);
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let (inner, bracketed) = match text.strip_prefix('[') {
        Some(rest) => (rest.strip_suffix(']')?, true),
        None => (text, false),
    };
    let (addr, zone) = match inner.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (inner, None),
    };
    if let Some(zone) = zone {
        let valid = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if zone.is_empty() || !zone.chars().all(valid) {
            return None;
        }
    }
    if bracketed || zone.is_some() {
        // Brackets and zones belong to IPv6 only.
        return addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    addr.parse().ok()
}

/// [`parse_ip`] for an address to listen on ([`TcpServer::bind`](crate::TcpServer::bind)):
/// the same forms, but no zone — a server binds an address alone, and
/// dropping the zone would listen on another interface than the one named.
/// The CLI's `--bind`, C's `tcphub_server_set_bind_ip` and Python's
/// `bind=` take exactly these.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::parse_bind_ip("[::1]"), Some("::1".parse().unwrap()));
/// assert_eq!(tcphub::parse_bind_ip("0.0.0.0"), Some("0.0.0.0".parse().unwrap()));
/// assert_eq!(tcphub::parse_bind_ip("::1%1"), None);
/// assert_eq!(tcphub::parse_bind_ip("localhost"), None);
/// ```
pub fn parse_bind_ip(text: &str) -> Option<IpAddr> {
    parse_ip(text).filter(|_| !text.contains('%'))
}

/// A server's host as a client's name lookup takes it: an IPv6 address in
/// brackets, as tcphub prints addresses (`[::1]:8001`), without them
/// (`[::1]` → `::1`, `[fe80::1%eth0]` → `fe80::1%eth0`, zone kept: it
/// picks the interface to connect through); anything else unchanged — a
/// name or an unbracketed address is looked up as it is, and bracketed text
/// that is not an IPv6 address (`[localhost]`) is left to fail the lookup.
/// The C and Python clients pass their `host` through it.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::unbracket_host("[::1]"), "::1");
/// assert_eq!(tcphub::unbracket_host("[fe80::1%eth0]"), "fe80::1%eth0");
/// assert_eq!(tcphub::unbracket_host("localhost"), "localhost");
/// assert_eq!(tcphub::unbracket_host("[localhost]"), "[localhost]");
/// assert_eq!(tcphub::unbracket_host("[127.0.0.1]"), "[127.0.0.1]");
/// ```
pub fn unbracket_host(text: &str) -> &str {
    text.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .filter(|_| matches!(parse_ip(text), Some(IpAddr::V6(_))))
        .unwrap_or(text)
}

/// A client's `host` as the C and Python bindings take it, apart from its
/// port: [`unbracket_host`]'s result, or why `text` is refused, in words
/// for the caller — an empty host, or a host with a port written into it
/// (`"127.0.0.1:8001"`, `"[::1]:8001"`, `"localhost:8001"`: looked up as
/// it is, it failed only as "cannot resolve the server address
/// 127.0.0.1:8001:8001", which reads as an unreachable server), or a host
/// in numbers and dots that is no IPv4 address (`"127.0.0.010"`, which
/// the system's resolver reads as 127.0.0.8). An IPv6 address (two colons
/// or more) is no host with a port.
///
/// # Errors
///
/// The reason, as a sentence, for an empty host, a host with a port and
/// numbers and dots that are no IPv4 address.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::client_host("[::1]"), Ok("::1"));
/// assert_eq!(tcphub::client_host("::1"), Ok("::1"));
/// assert_eq!(tcphub::client_host("localhost"), Ok("localhost"));
/// let why = tcphub::client_host("127.0.0.1:8001").unwrap_err();
/// assert_eq!(
///     why,
///     "the host \"127.0.0.1:8001\" includes a port: pass the host alone \
///      (\"127.0.0.1\") and the port as the port argument"
/// );
/// assert!(tcphub::client_host("").is_err());
/// assert!(tcphub::client_host("127.0.0.010").is_err()); // not 127.0.0.8
/// ```
pub fn client_host(text: &str) -> Result<&str, String> {
    if text.is_empty() {
        return Err("the host is empty: give the server's name or IP address".into());
    }
    if let Some(alone) = host_before_port(text) {
        return Err(format!(
            "the host \"{text}\" includes a port: pass the host alone (\"{alone}\") \
             and the port as the port argument"
        ));
    }
    if let Some(why) = numeric_host(text) {
        return Err(why);
    }
    Ok(unbracket_host(text))
}

/// Why a server's `host` written in numbers and dots alone (`127.0.0.010`,
/// `127.1`, `0x7f.0.0.1`, `2130706433`, `256.1.1.1`) is refused when it is
/// no IPv4 address as [`parse_ip`] reads them: no name is written so, and
/// the system's resolver reads it as `inet_aton` does — a leading zero as
/// octal (`127.0.0.010` is 127.0.0.8), missing parts as zeros — so the
/// client would connect to another address than `send_to` takes for it.
/// The reason names what is wrong ([`not_ipv4`]). `None` for anything else.
pub(crate) fn numeric_host(host: &str) -> Option<String> {
    let number = |part: &str| match hex_digits(part) {
        // ("0x" alone is no number to `inet_aton`: "0x", "0x.1" are names.)
        Some(hex) => !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()),
    };
    let parts = host.split('.').count();
    let numeric = (1..=4).contains(&parts) && host.split('.').all(number);
    (numeric && parse_ip(host).is_none()).then(|| {
        format!(
            "the host \"{host}\" is no IPv4 address: {}; write it as four numbers \
             from 0 to 255 without leading zeros",
            not_ipv4(host)
        )
    })
}

/// The digits of a part written in hex (`0x7f`, `0X7F`), `None` for another.
fn hex_digits(part: &str) -> Option<&str> {
    part.strip_prefix("0x").or(part.strip_prefix("0X"))
}

/// What keeps `host`, numbers and dots that [`parse_ip`] refused (see
/// [`numeric_host`]), from being an IPv4 address: its count of parts, or
/// its first part that is hex, has a leading zero (octal to the resolver
/// when it is an octal number) or is over 255.
fn not_ipv4(host: &str) -> String {
    let parts = host.split('.').count();
    if parts != 4 {
        let s = if parts == 1 { "" } else { "s" };
        return format!("it has {parts} part{s}, not four");
    }
    for part in host.split('.') {
        if hex_digits(part).is_some() {
            return format!("\"{part}\" is hexadecimal");
        }
        if part.len() > 1 && part.starts_with('0') {
            return match u32::from_str_radix(part, 8) {
                Ok(n) => format!(
                    "\"{part}\" has a leading zero, which the system's resolver \
                     reads as octal ({n})"
                ),
                Err(_) => format!("\"{part}\" has a leading zero"),
            };
        }
        if part.parse::<u8>().is_err() {
            return format!("{part} is over 255");
        }
    }
    "a part is no number from 0 to 255".into() // (not reached: `parse_ip` takes the rest)
}

/// The host part of `text` when `text` is a host followed by `:` and a
/// port number (`[v6]:port`, `name:port`, `ipv4:port`); `None` for
/// anything else, IPv6 addresses (two colons or more) included.
fn host_before_port(text: &str) -> Option<&str> {
    let (alone, port) = match text.strip_prefix('[') {
        Some(rest) => rest.split_once("]:")?,
        None => text.split_once(':')?,
    };
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    (digits && !alone.is_empty()).then_some(alone)
}

/// [`parse_ip`] for an address that picks a connected client (the C and
/// Python bindings' `send_to`), with the reason when `text` is not one, in
/// words for the caller: a host name is said to be one, since clients are
/// found by the address they connected from and no name is resolved.
///
/// # Errors
///
/// The reason, as a sentence naming `text`, when it is no IP address.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::parse_client_ip("::1"), Ok("::1".parse().unwrap()));
/// let why = tcphub::parse_client_ip("localhost").unwrap_err();
/// assert!(why.contains("got the host name 'localhost'"), "{why}");
/// let why = tcphub::parse_client_ip("127.0.0.300").unwrap_err();
/// assert!(why.contains("which is not an IP address"), "{why}");
/// ```
pub fn parse_client_ip(text: &str) -> Result<IpAddr, String> {
    const WANT: &str = "send_to wants the client's IP address (e.g. '127.0.0.1' or '::1')";
    if let Some(ip) = parse_ip(text) {
        return Ok(ip);
    }
    let host_name = text.chars().any(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    Err(if host_name {
        format!("{WANT}, got the host name '{text}' (host names are not resolved)")
    } else {
        format!("{WANT}, got '{text}', which is not an IP address")
    })
}

/// How the caller named the server, for [`Error::Resolve`](crate::Error::Resolve): `"host:port"`
/// strings as they are, `("host", port)` pairs as `host:port` — an IPv6
/// host (two colons or more) in brackets, `[fe80::1%eth9]:80`, as tcphub
/// prints addresses, not `fe80::1%eth9:80`, whose port reads as the
/// address's last group — anything else as its `Debug` form.
pub(crate) fn describe_target(addr: &impl std::fmt::Debug) -> String {
    let text = format!("{addr:?}");
    if let Some(s) = unquote(&text) {
        return s;
    }
    match host_and_port(&text) {
        Some((host, port)) if host.matches(':').count() >= 2 && !host.starts_with('[') => {
            format!("[{host}]:{port}")
        }
        Some((host, port)) => format!("{host}:{port}"),
        None => text,
    }
}

/// The host and port of a `("host", port)` pair's `Debug` form (a `&str` or
/// `String` host).
fn host_and_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text
        .strip_prefix('(')?
        .strip_suffix(')')?
        .rsplit_once(", ")?;
    Some((unquote(host)?, port.parse().ok()?))
}

/// The text inside the quotes of a string's `Debug` form.
fn unquote(s: &str) -> Option<String> {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map(str::to_owned)
}

/// Whether `addr` names the server with an empty host: `("", port)` (a
/// `&str` or `String` host), `":port"` or `""`. Read from its `Debug` form,
/// as [`describe_target`] does; an address such as `"::1"` or `("::1", 80)`
/// is not empty.
pub(crate) fn empty_host(addr: &impl std::fmt::Debug) -> bool {
    let text = format!("{addr:?}");
    if text.starts_with("(\"\", ") {
        return true;
    }
    unquote(&text).is_some_and(|s| s.is_empty() || s.starts_with(':') && !s[1..].contains(':'))
}

/// A `("[v6]", port)` pair (a `&str` or `String` host in brackets, as
/// tcphub prints addresses) as the host without them and the port, read
/// from its `Debug` form as [`empty_host`] does. std looks such a host up
/// as a name and fails ("failed to lookup address information"), while
/// `"[::1]:8001"` and `("::1", 8001)` both connect; `None` for anything
/// else, including brackets around what is no IPv6 address.
pub(crate) fn bracketed_pair(addr: &impl std::fmt::Debug) -> Option<(String, u16)> {
    let (host, port) = host_and_port(&format!("{addr:?}"))?;
    let inner = unbracket_host(&host);
    if inner.len() == host.len() {
        return None; // no brackets, or no IPv6 address in them
    }
    Some((inner.to_string(), port))
}

/// The host name and port of a server named by name — a `"name:port"`
/// string or a `("name", port)` pair (a `&str` or `String` host), read
/// from its `Debug` form as [`empty_host`] does — for a reconnecting client
/// to look up again (`client_loop::lookup`). `None` for an IP address,
/// however written, and for anything else (a `SocketAddr`, a list): what
/// it names cannot change.
pub(crate) fn lookup_name(addr: &impl std::fmt::Debug) -> Option<(String, u16)> {
    let text = format!("{addr:?}");
    let (host, port) = match unquote(&text) {
        Some(s) => {
            let (host, port) = s.rsplit_once(':')?;
            (host.to_string(), port.parse().ok()?)
        }
        None => host_and_port(&text)?,
    };
    // The name itself, not its `Debug` spelling (`"a\u{301}"` for `"á"`
    // written with a combining accent, `\"` for a quote): looked up as it
    // is spelt there, it would be another name.
    let host = unescape(&host)?;
    let name = !host.is_empty() && !host.contains(':') && parse_ip(&host).is_none();
    name.then_some((host, port))
}

/// The text a string's `Debug` form (inside its quotes) stands for, its
/// escapes undone: `\t`, `\r`, `\n`, `\0`, `\\`, `\"`, `\'` and
/// `\u{…}`; `None` for any other escape, which `Debug` does not write.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            't' => '\t',
            'r' => '\r',
            'n' => '\n',
            '0' => '\0',
            c @ ('\\' | '"' | '\'') => c,
            'u' => {
                let rest = chars.as_str();
                let (hex, after) = rest.strip_prefix('{')?.split_once('}')?;
                chars = after.chars();
                char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
            }
            _ => return None,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{bracketed_pair, describe_target, empty_host, lookup_name, parse_ip};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_spelling_of_an_address_parses_and_nothing_else_does() {
        for (text, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
            ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
            ("fe80::1%2", "fe80::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("[fe80::1%enp0s3.100]", "fe80::1"),
        ] {
            assert_eq!(parse_ip(text), Some(ip(want)), "{text}");
        }
        for bad in [
            "",
            "localhost",
            "[127.0.0.1]",
            "127.0.0.1%1",
            "[::1",
            "::1]",
            "[::1]:80",
            "::1%",
            "::1%a b",
            "127.0.0.300",
            " ::1",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad:?}");
        }
    }

    /// Review mt: `send_to` given a host name says so (names are not
    /// resolved), for names with dots and hyphens too; anything else that
    /// is no address is told it is none.
    #[test]
    fn review_mt_a_host_name_is_told_from_what_is_no_address() {
        use super::parse_client_ip;
        for name in ["localhost", "db-1.example.com", "my-host", "example.com"] {
            let why = parse_client_ip(name).unwrap_err();
            assert!(
                why.contains(&format!("got the host name '{name}'")),
                "{why}"
            );
        }
        for junk in [
            "a b",
            "x_y",
            "host:80",
            "1.2.3.4:80",
            "-",
            "...",
            "127.0.0.300",
        ] {
            let why = parse_client_ip(junk).unwrap_err();
            assert!(why.contains("which is not an IP address"), "{junk}: {why}");
        }
    }

    #[test]
    fn a_host_with_a_port_is_told_from_an_ipv6_address() {
        use super::client_host;
        for (host, alone) in [
            ("127.0.0.1:8001", "127.0.0.1"),
            ("[::1]:8001", "::1"),
            ("localhost:8001", "localhost"),
            ("[fe80::1%eth0]:80", "fe80::1%eth0"),
            ("example.com:0", "example.com"),
        ] {
            let why = client_host(host).unwrap_err();
            assert!(why.contains(&format!("(\"{alone}\")")), "{host}: {why}");
        }
        for (host, want) in [
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
            ("fe80::1%eth0", "fe80::1%eth0"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("2001:db8::8001", "2001:db8::8001"),
            ("localhost", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("::", "::"),
            // Not a host and a port: left to the lookup, which fails.
            ("localhost:", "localhost:"),
            (":8001", ":8001"),
            ("[::1]:", "[::1]:"),
            ("[::1]8001", "[::1]8001"),
        ] {
            assert_eq!(client_host(host), Ok(want), "{host}");
        }
        assert!(client_host("").unwrap_err().contains("empty"));
        for numeric in [
            "127.0.0.010",
            "127.000.000.001",
            "127.1",
            "0x7f.0.0.1",
            "2130706433",
        ] {
            let why = client_host(numeric).unwrap_err();
            assert!(why.contains("no IPv4 address"), "{numeric}: {why}");
        }
        for fine in [
            "127.0.0.1",
            "10.0.0.255",
            "1e100.net",
            "0x7f.example",
            "1.2.3.4.5",
            "a.1",
        ] {
            assert!(client_host(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn targets_are_named_as_typed() {
        assert_eq!(describe_target(&"nowhere.invalid:80"), "nowhere.invalid:80");
        assert_eq!(describe_target(&String::from("a:1")), "a:1");
        assert_eq!(
            describe_target(&("nowhere.invalid", 80u16)),
            "nowhere.invalid:80"
        );
        let ip: std::net::SocketAddr = "127.0.0.1:5".parse().unwrap();
        assert_eq!(describe_target(&ip), "127.0.0.1:5");
        // An IPv6 host in brackets, as tcphub prints addresses.
        assert_eq!(
            describe_target(&("fe80::1%eth9", 80u16)),
            "[fe80::1%eth9]:80"
        );
        assert_eq!(describe_target(&("[::1]", 80u16)), "[::1]:80");
        assert_eq!(describe_target(&"[::1%eth9]:80"), "[::1%eth9]:80");
        assert_eq!(describe_target(&("localhost:", 80u16)), "localhost::80");
    }

    #[test]
    fn a_bracketed_ipv6_host_in_a_pair_is_taken_without_its_brackets() {
        assert_eq!(bracketed_pair(&("[::1]", 80u16)), Some(("::1".into(), 80)));
        assert_eq!(
            bracketed_pair(&(String::from("[fe80::1%eth0]"), 9u16)),
            Some(("fe80::1%eth0".into(), 9))
        );
        for pair in [
            ("::1", 80u16),
            ("[localhost]", 80),
            ("[127.0.0.1]", 80),
            ("localhost", 80),
        ] {
            assert_eq!(bracketed_pair(&pair), None, "{pair:?}");
        }
        assert_eq!(bracketed_pair(&"[::1]:80"), None);
    }

    #[test]
    fn empty_hosts_are_told_from_addresses() {
        assert!(empty_host(&("", 80u16)));
        assert!(empty_host(&(String::new(), 80u16)));
        assert!(empty_host(&":80"));
        assert!(empty_host(&""));
        assert!(empty_host(&":"));
        for named in ["::1", "[::1]:80", "a:1", "localhost:0"] {
            assert!(!empty_host(&named), "{named}");
        }
        assert!(!empty_host(&("::1", 80u16)));
        assert!(!empty_host(&(" ", 80u16)));
        let ip: std::net::SocketAddr = "127.0.0.1:5".parse().unwrap();
        assert!(!empty_host(&ip));
        assert!(!empty_host(&(
            "127.0.0.1".parse::<std::net::IpAddr>().unwrap(),
            5u16
        )));
    }

    #[test]
    fn only_names_are_looked_up_again() {
        assert_eq!(lookup_name(&"localhost:80"), Some(("localhost".into(), 80)));
        assert_eq!(
            lookup_name(&(String::from("db.example"), 5u16)),
            Some(("db.example".into(), 5))
        );
        assert_eq!(lookup_name(&("h", 1u16)), Some(("h".into(), 1)));
        // Characters `Debug` escapes are the name's own.
        for odd in [
            "e\u{301}.test",
            "a\"b\\c",
            "tab\there",
            "\u{200b}zw",
            "cr\rlf\nnul\0", // (review mt: each escape `Debug` writes)
        ] {
            assert_eq!(lookup_name(&format!("{odd}:7")), Some((odd.into(), 7)));
            assert_eq!(lookup_name(&(odd, 7u16)), Some((odd.into(), 7)));
        }
        let ip: std::net::SocketAddr = "127.0.0.1:5".parse().unwrap();
        for not_a_name in [
            format!("{:?}", "127.0.0.1:80"),
            format!("{:?}", "[::1]:80"),
            format!("{:?}", ("::1", 80u16)),
            format!("{:?}", ("[::1]", 80u16)),
            format!("{:?}", ("fe80::1%eth0", 80u16)),
            format!("{:?}", "localhost"),
            format!("{:?}", "localhost:port"),
            format!("{ip:?}"),
            format!("{:?}", [ip]),
            format!("{:?}", (std::net::Ipv4Addr::LOCALHOST, 80u16)),
        ] {
            struct Raw(String);
            impl std::fmt::Debug for Raw {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(&self.0)
                }
            }
            assert_eq!(lookup_name(&Raw(not_a_name.clone())), None, "{not_a_name}");
        }
    }
}
