//! Small helpers shared by the emulated services: ids, time formats, encodings.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// Sets the version-4 and variant bits and formats the 8-4-4-4-12 GUID.
fn version4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random version-4 GUID, the shape of every Azure request/trace/correlation id.
pub fn guid() -> String {
    version4(rand::rng().random())
}

/// A GUID derived from a string, so that generated ids stay stable across lab restarts.
pub fn stable_guid(seed: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    version4(b)
}

/// Random URL-safe characters (token ids `uti`, `aio`, chat completion ids...).
pub fn random_chars(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn utc(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Entra's timestamp: `2023-02-20 07:21:29Z`.
pub fn entra_timestamp(unix: i64) -> String {
    let t = utc(unix);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// ARM's timestamps: `2024-10-14T20:25:32.1725180Z` (7 fractional digits).
pub fn arm_timestamp(unix: i64) -> String {
    let t = utc(unix);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        (unix.unsigned_abs() * 7_919) % 10_000_000
    )
}

/// ISO 8601 with 7 fractional digits as in AADSTS700082 ("issued on 2021-10-05T11:50:24.4394320Z").
pub fn entra_iso(unix: i64) -> String {
    arm_timestamp(unix)
}

/// `20261124T170203Z`, as in ARM's `x-ms-routing-request-id`.
pub fn compact_utc(unix: i64) -> String {
    let t = utc(unix);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The `Date` header.
pub fn http_date(unix: i64) -> String {
    utc(unix)
        .format(&Rfc2822)
        .map(|s| s.replace("+0000", "GMT"))
        .unwrap_or_default()
}

/// ARM's AuthenticationToken expiry format: `4/23/2020 5:37:23 PM` (UTC).
pub fn arm_expiry_time(unix: i64) -> String {
    let t = utc(unix);
    let (h12, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        t.month() as u8,
        t.day(),
        t.year(),
        h12,
        t.minute(),
        t.second(),
        ampm
    )
}

/// Local wall-clock time without zone, as `az account get-access-token` prints `expiresOn`
/// (`%Y-%m-%d %H:%M:%S.%f`).
pub fn local_naive(unix: i64) -> String {
    let offset = local_offset_seconds(unix);
    let t = utc(unix + offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.000000",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn local_offset_seconds(unix: i64) -> i64 {
    // `time` refuses local offsets in multi-threaded programs; libc's localtime_r is what
    // Python's datetime.fromtimestamp (and so az) uses anyway.
    let t: libc::time_t = unix as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() { 0 } else { tm.tm_gmtoff }
}

/// Percent-decoded `key=value` pairs of a query string or form body; never fails.
pub fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Write to stdout; a closed pipe (`… | head`) is not an error worth a panic.
pub fn print_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Single-quote a value for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_look_like_guids() {
        assert!(crate::scenario::is_guid(&guid()));
        assert!(crate::scenario::is_guid(&stable_guid("x")));
        assert_eq!(stable_guid("x"), stable_guid("x"));
    }

    #[test]
    fn time_formats() {
        assert_eq!(entra_timestamp(1_676_877_689), "2023-02-20 07:21:29Z");
        assert_eq!(arm_expiry_time(1_587_663_443), "4/23/2020 5:37:23 PM");
        assert_eq!(http_date(1_709_941_388), "Fri, 08 Mar 2024 23:43:08 GMT");
        assert!(arm_timestamp(0).starts_with("1970-01-01T00:00:00."));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
