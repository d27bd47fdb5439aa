//! The performance targets: each with the figure that decides it, as a
//! Markdown table, the fan-out's last. The figures come from `scenarios`; this module owns the
//! thresholds.

use std::fmt::Write as _;
use std::time::Duration;

use crate::fanout::{Fanout, PHOENIX_JS_REFERENCE, PHOENIX_JS_REFERENCE_CLIENTS};
use crate::report::{Tool, count, fmt_dur, mib, target, target_skipped};
use crate::scenarios::Results;
use crate::{Plan, WEBSOCAT_REFERENCE_FPS};

/// Peak memory a 1M flood may reach.
const MEMORY_KIB: u64 = 8 * 1024;

/// Peak memory of 1,000 clients in one process.
const FANOUT_MEMORY_KIB: u64 = 40 * 1024;

/// The idle clients' CPU time, in percent of one core.
const IDLE_PERCENT: f64 = 2.0;

pub fn write(r: &Results, plan: &Plan, websocat_found: bool, out: &mut String) {
    head(out);
    against_websocat(r, plan, websocat_found, out);
    if let (Some(a), Some(b)) = (r.flood.cpu(Tool::PhxRepl), r.flood.cpu(Tool::Floor)) {
        let ratio = a.as_secs_f64() / b.as_secs_f64();
        target(
            out,
            "CPU per frame (human) ≤ 1.3× the floor's",
            &format!("{ratio:.2}×"),
            ratio <= 1.3,
        );
    }
    memory(r, plan, out);
    latency(r, plan, out);
    match &r.heartbeats {
        Ok(h) => target(
            out,
            "heartbeats on schedule during a flood",
            &h.summary(),
            h.on_schedule(),
        ),
        Err(e) => target(
            out,
            "heartbeats on schedule during a flood",
            &e.to_string(),
            false,
        ),
    }
    at_the_prompt(r, plan, out);
    server(r, plan, out);
    fanout(&r.fanout, out);
}

/// The targets table's head.
pub fn head(out: &mut String) {
    let _ = writeln!(out, "| target | measured | met |");
    let _ = writeln!(out, "|---|---|---|");
}

/// phx-repl's frames per second in the 1M flood against websocat's (or
/// the reference figure when websocat is not installed).
fn against_websocat(r: &Results, plan: &Plan, websocat_found: bool, out: &mut String) {
    let n = plan.flood;
    let ws_fps = r
        .flood
        .rate(Tool::Websocat)
        .unwrap_or(WEBSOCAT_REFERENCE_FPS);
    let ws_from = if websocat_found {
        "websocat"
    } else {
        "websocat reference"
    };
    let goals = [
        (Tool::PhxRepl, "human", 2.0),
        (Tool::PhxReplJson, "--json", 1.5),
    ];
    for (tool, output, goal) in goals {
        if let Some(fps) = r.flood.rate(tool) {
            target(
                out,
                &format!(
                    "{} flood, {output}: ≥ {goal}× websocat's frames/s",
                    count(n)
                ),
                &format!("{:.2}× {ws_from}", fps / ws_fps),
                fps / ws_fps >= goal,
            );
        }
    }
}

/// Peak memory: the 1M flood, bare and realistic, and no growth with a
/// ten times bigger flood.
fn memory(r: &Results, plan: &Plan, out: &mut String) {
    let n = plan.flood;
    if let (Some(small), Some(large)) =
        (r.flood.rss_kib(Tool::PhxRepl), r.big.rss_kib(Tool::PhxRepl))
    {
        target(
            out,
            &format!("peak memory of the {} flood < 8 MiB", count(n)),
            &mib(small),
            small < MEMORY_KIB,
        );
        // Page-granular noise aside (5%), the bigger flood must not need more.
        target(
            out,
            &format!(
                "peak memory flat: {} flood no higher than {}",
                count(plan.big_flood),
                count(n)
            ),
            &format!("{} vs {}", mib(large), mib(small)),
            large as f64 <= small as f64 * 1.05,
        );
    }
    let what = format!("peak memory of the {} realistic flood < 8 MiB", count(n));
    match r.realistic.as_ref().map(|s| s.rss_kib(Tool::PhxRepl)) {
        Ok(Some(kib)) => target(out, &what, &mib(kib), kib < MEMORY_KIB),
        Ok(None) => target(out, &what, "not measured: every run failed", false),
        Err(e) => target(out, &what, &format!("not measured: {e}"), false),
    }
}

/// Round trips against the floor's, and start-up.
fn latency(r: &Results, plan: &Plan, out: &mut String) {
    let rt = plan.round_trips;
    let s = &r.round_trips;
    if let (Some(a), Some(b)) = (s.wall(Tool::PhxRepl), s.wall(Tool::Floor)) {
        let ratio = a.as_secs_f64() / b.as_secs_f64();
        target(
            out,
            &format!("{} round trips ≤ 1.5× the floor's time", count(rt)),
            &format!(
                "{ratio:.2}× ({:.1} µs vs {:.1} µs each)",
                a.as_secs_f64() * 1e6 / rt as f64,
                b.as_secs_f64() * 1e6 / rt as f64
            ),
            ratio <= 1.5,
        );
    }
    if let Some(w) = r.join.wall(Tool::PhxRepl) {
        target(
            out,
            "piped join + exit < 5 ms",
            &fmt_dur(w),
            w < Duration::from_millis(5),
        );
    }
}

/// The flood at the prompt against the same lines written to the same
/// kind of pseudo-terminal by a plain program: what the terminal alone
/// costs is the floor, so the target is phx-repl's own share.
fn at_the_prompt(r: &Results, plan: &Plan, out: &mut String) {
    let p = &r.prompt;
    let (Some(wall), Some(floor)) = (
        p.at_prompt.wall(Tool::PhxRepl),
        p.at_prompt.wall(Tool::Floor),
    ) else {
        return;
    };
    let ratio = wall.as_secs_f64() / floor.as_secs_f64();
    let runs = p.at_prompt.runs(Tool::PhxRepl);
    target(
        out,
        &format!(
            "{} flood at the prompt ≤ 1.3× the pseudo-terminal floor, the typed line survives",
            count(plan.pty_flood)
        ),
        &format!(
            "{ratio:.2}× ({} vs {}); line kept in {} of {runs} runs; piped it takes {}",
            fmt_dur(wall),
            fmt_dur(floor),
            p.survived,
            p.piped.wall(Tool::PhxRepl).map_or("?".into(), fmt_dur)
        ),
        ratio <= 1.3 && runs > 0 && p.survived == runs,
    );
}

/// The drain against the floor: the server must feed faster than the
/// floor can read, or every flood row would measure the server.
fn server(r: &Results, plan: &Plan, out: &mut String) {
    let s = &r.flood;
    let (Some(drain), Some(floor)) = (s.wall(Tool::Drain), s.wall(Tool::Floor)) else {
        return;
    };
    let per_frame = s
        .get(Tool::Drain)
        .and_then(|row| row.server_cpu())
        .map(|c| c.as_secs_f64() * 1e9 / plan.flood as f64)
        .unwrap_or(f64::NAN);
    target(
        out,
        "the built-in server's flood is not the bottleneck",
        &format!(
            "drain {} vs floor {} ({per_frame:.0} ns server CPU per frame)",
            fmt_dur(drain),
            fmt_dur(floor)
        ),
        drain < floor,
    );
}

/// Fan-out: wall time against phoenix.js's (measured in this run with
/// `--js`, or the documented reference), peak memory, and the idle cost.
pub fn fanout(f: &Fanout, out: &mut String) {
    let n = count(f.clients as u64);
    let busy = &f.busy;
    let what = format!("{n} clients, join + 10 echoes: wall < ⅓ of phoenix.js's");
    let js = match busy.wall(Tool::PhoenixJs) {
        Some(w) => Some((w, "phoenix.js in this run")),
        None if f.clients == PHOENIX_JS_REFERENCE_CLIENTS => {
            Some((PHOENIX_JS_REFERENCE, "phoenix.js reference"))
        }
        None => None,
    };
    if let Some(wall) = busy.wall(Tool::Fanout) {
        let server = busy
            .get(Tool::Fanout)
            .and_then(|row| row.server_cpu())
            .map_or(String::new(), |c| format!("; server CPU {}", fmt_dur(c)));
        match js {
            Some((js, from)) => {
                let ratio = wall.as_secs_f64() / js.as_secs_f64();
                target(
                    out,
                    &what,
                    &format!(
                        "{ratio:.2}× ({} vs {} {from}){server}",
                        fmt_dur(wall),
                        fmt_dur(js)
                    ),
                    ratio < 1.0 / 3.0,
                );
            }
            None => target_skipped(
                out,
                &what,
                &format!(
                    "{}{server}; the reference is for {PHOENIX_JS_REFERENCE_CLIENTS} clients \
                     (run without --quick, or give --js)",
                    fmt_dur(wall)
                ),
            ),
        }
    }
    if let Some(kib) = busy.rss_kib(Tool::Fanout) {
        let js = busy
            .rss_kib(Tool::PhoenixJs)
            .map_or(String::new(), |k| format!(" (phoenix.js: {})", mib(k)));
        target(
            out,
            &format!("{n} clients: peak memory < 40 MiB"),
            &format!("{}{js}", mib(kib)),
            kib < FANOUT_MEMORY_KIB,
        );
    }
    let what = format!("{n} idle joined clients, 30 s heartbeats: < 2% of a core");
    match &f.idle {
        Ok(idle) => target(
            out,
            &what,
            &format!(
                "{:.2}% ({} CPU over {}; all joined after {}; peak {})",
                idle.percent_of_core(),
                fmt_dur(idle.cpu),
                fmt_dur(idle.window),
                fmt_dur(idle.joined_after),
                mib(idle.rss_kib)
            ),
            idle.percent_of_core() < IDLE_PERCENT,
        ),
        Err(e) => target(out, &what, &format!("not measured: {e}"), false),
    }
}
