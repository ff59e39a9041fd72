//! How a time limit reads in a message ("did not finish within 2.4s"). `{:.0?}` on a
//! `Duration`, whole seconds or `as_secs()` turn a 2.4 s limit into "2s" — a limit the doctor
//! never had; this keeps the tenths under a minute, where they matter.

use std::time::Duration;

/// `250ms`, `2.4s`, `10s`, `1m30s`, `1h02m`: no more than a twentieth of a second off under a
/// minute, never shown as a smaller unit's zero (`0s` only for no time at all).
pub fn time_limit(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    if d < Duration::from_secs(1) {
        // Whole milliseconds, rounded up: a 0.4 ms limit is not "0ms".
        return format!("{}ms", d.as_micros().div_ceil(1000));
    }
    let tenths = (d.as_millis() + 50) / 100;
    if tenths < 600 {
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        };
    }
    let secs = (d.as_millis() + 500) / 1000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, s) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_keeps_its_tenths_under_a_minute() {
        let ms = Duration::from_millis;
        for (d, want) in [
            (ms(2400), "2.4s"),
            (ms(2000), "2s"),
            (ms(2950), "3s"),
            (ms(2949), "2.9s"),
            (ms(8000), "8s"),
            (ms(10_500), "10.5s"),
            (ms(59_940), "59.9s"),
            (ms(250), "250ms"),
            (Duration::from_micros(400), "1ms"),
            (Duration::ZERO, "0s"),
            (ms(59_960), "1m"),
            (ms(90_400), "1m30s"),
            (ms(65_000), "1m05s"),
            (Duration::from_secs(3720), "1h02m"),
        ] {
            assert_eq!(time_limit(d), want, "{d:?}");
        }
    }

    #[test]
    fn no_limit_reads_as_a_whole_second_below_it() {
        // The bug this exists for: 2.4 s shown as "2s".
        for tenths in 10..600u64 {
            let d = Duration::from_millis(tenths * 100);
            let shown = time_limit(d);
            let secs: f64 = shown.trim_end_matches('s').parse().unwrap();
            assert!((secs - d.as_secs_f64()).abs() < 0.051, "{d:?} → {shown}");
        }
    }
}
