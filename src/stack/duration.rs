//! Go/Compose duration strings (`1m30s`, `500ms`, `1.5s`, `2h`, `10us`).

use std::time::Duration;

/// Parses a Go-style duration as Compose accepts it. Negative durations are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Some(rest) = text.strip_prefix('-') {
        if parse_duration(rest).is_ok() {
            return Err(format!("negative duration `{s}`"));
        }
        return Err(invalid(s));
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid(s));
        }
        let value: f64 = number.parse().map_err(|_| invalid(s))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per_unit: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration `{s}` (e.g. `10s`)")),
            other => return Err(format!("unknown unit `{other}` in duration `{s}`")),
        };
        total_nanos += value * nanos_per_unit;
    }
    // Go caps durations at ~292 years; anything near that is certainly a typo.
    if !total_nanos.is_finite() || total_nanos > 9.2e18 {
        return Err(format!("duration `{s}` is too large"));
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Renders a duration back in Go syntax (`1m30s`, `500ms`), for `novadev config`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if !nanos.is_multiple_of(1_000_000_000) {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}us", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn invalid(s: &str) -> String {
    format!("invalid duration `{s}` (expected e.g. `30s`, `1m30s`, `500ms`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(
            parse_duration("1h2m3s4ms"),
            Ok(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn rejects_negative_and_malformed_durations() {
        assert!(parse_duration("-5s").is_err_and(|e| e.contains("negative")));
        assert!(parse_duration("10").is_err_and(|e| e.contains("missing unit")));
        assert!(parse_duration("10d").is_err_and(|e| e.contains("unknown unit")));
        for bad in ["", "s", "1..2s", ".s", "abc", "1s-", "99999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1m30s", "500ms", "2h", "10us", "0s", "1h1s"] {
            let d = parse_duration(s).expect("parses");
            assert_eq!(format_duration(d), s);
        }
    }
}
