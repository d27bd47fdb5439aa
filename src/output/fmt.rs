//! Durations in words (`1.9 ms`, `12m05s`) and the sentences both
//! renderers say the same way: a human line shows them, an NDJSON `error`
//! record carries them as its `message`.
//!
//! Numbers for JSON fields are `output::encode`'s; layout and colour are
//! the renderers'.

use std::time::Duration;

use crate::core::session::Expired;
use crate::output::safe::{clean, excerpt};

/// Milliseconds with microsecond precision.
pub fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

pub fn fmt_latency(d: Duration) -> String {
    let m = ms(d);
    if m < 1.0 {
        format!("{} µs", d.as_micros())
    } else if m < 10.0 {
        format!("{m:.1} ms")
    } else if m < 1000.0 {
        format!("{m:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `45 s`, `12m05s`, `3h02m`: how long something has been up.
pub fn fmt_uptime(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// `10 ms`, `1 s`, `2.5 s`: a delay, as short as it reads well.
pub fn fmt_latency_short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

pub fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() < 0.01 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// What a request that timed out is reported as.
pub fn timeout_message(e: &Expired) -> String {
    format!(
        "no reply to {} on {} (ref {}) within {}",
        clean(&e.event),
        clean(&e.topic),
        clean(&e.ref_),
        fmt_secs(e.after)
    )
}

/// What a push that timed out is told: the handler may not reply at all.
pub const CAST_HINT: &str =
    "if its handle_in returns {:noreply, socket}, use `cast` instead of `push`";

/// [`timeout_message`], with [`CAST_HINT`] after it when `hint`.
pub fn timeout_text(e: &Expired, hint: bool) -> String {
    let mut msg = timeout_message(e);
    if hint {
        msg.push_str("; ");
        msg.push_str(CAST_HINT);
    }
    msg
}

/// What a frame that does not decode is reported as.
pub fn undecodable_message(error: &str, text: &str) -> String {
    let shown = excerpt(text, 200);
    format!("received a frame that is not a V2 Phoenix frame ({error}): {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_in_a_fitting_unit() {
        assert_eq!(fmt_latency(Duration::from_micros(43)), "43 µs");
        assert_eq!(fmt_latency(Duration::from_micros(1900)), "1.9 ms");
        assert_eq!(fmt_latency(Duration::from_millis(25)), "25 ms");
        assert_eq!(fmt_latency(Duration::from_millis(2500)), "2.50 s");
    }
}
