//! Wall-clock text: RFC 3339 UTC with milliseconds for `time` fields and
//! recordings, `HH:MM:SS.mmm` for `--timestamps`.
//!
//! The calendar arithmetic is `humantime`'s; this file only picks the
//! precision, keeps a clock set before 1970 from panicking, and caches the
//! current time's text, since records come in bursts within one
//! millisecond. Where the text goes is the renderers' business.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The length of [`rfc3339`]'s text: `2026-11-27T19:25:04.123Z`.
const RFC3339_LEN: usize = 24;

/// Where `HH:MM:SS.mmm` sits inside [`rfc3339`]'s text.
const CLOCK: std::ops::Range<usize> = 11..23;

/// Appends `t` as RFC 3339 UTC with milliseconds: `2026-11-27T19:25:04.123Z`.
pub fn rfc3339(t: SystemTime, out: &mut String) {
    // humantime panics before the epoch; such a clock reads as the epoch.
    let t = t.max(UNIX_EPOCH);
    let _ = write!(out, "{}", humantime::format_rfc3339_millis(t));
}

/// `HH:MM:SS.mmm` in UTC, for `--timestamps`.
pub fn clock(t: SystemTime, out: &mut String) {
    let mut full = String::with_capacity(RFC3339_LEN);
    rfc3339(t, &mut full);
    out.push_str(full.get(CLOCK).unwrap_or_default());
}

/// Calls `f` with the current time as [`rfc3339`] writes it. The text is
/// kept and reused until the clock moves to another millisecond.
pub fn with_now<T>(f: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static LAST: RefCell<(u128, String)> = const { RefCell::new((u128::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    LAST.with_borrow_mut(|(last_ms, text)| {
        if *last_ms != ms {
            text.clear();
            rfc3339(now, text);
            *last_ms = ms;
        }
        f(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339_utc_with_millis() {
        let mut s = String::new();
        rfc3339(
            UNIX_EPOCH + Duration::from_millis(1_795_807_504_123),
            &mut s,
        );
        assert_eq!(s, "2026-11-27T19:25:04.123Z");
        s.clear();
        rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400), &mut s);
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
        s.clear();
        rfc3339(UNIX_EPOCH - Duration::from_secs(1), &mut s);
        assert_eq!(s, "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_clock_has_milliseconds() {
        let mut s = String::new();
        clock(
            UNIX_EPOCH + Duration::from_millis(1_795_807_504_123),
            &mut s,
        );
        assert_eq!(s, "19:25:04.123");
    }

    #[test]
    fn now_is_the_current_time_in_full() {
        with_now(|s| {
            assert_eq!(s.len(), RFC3339_LEN, "{s}");
            assert!(s.ends_with('Z'));
        });
    }
}
