//! The LiveView diff scenario: what one diff costs the client when a page
//! holds a long comprehension and one entry of it changes (issue #17
//! "Speed"). In process, no server: the frames are built here in the shapes
//! real LiveView sends (docs/PROTOCOL.md §10 "The rendered tree").
//!
//! - LiveView 1.1: a keyed comprehension of [`ENTRIES`] entries; each diff
//!   names one entry (`{"0":{"k":{"4711":{"1":"…"},"kc":10000}}}`), so it
//!   should cost what it changes. Timed per diff: *apply* (parse the JSON
//!   and merge it) and *apply + readable change* (also the printable change
//!   lines the client shows).
//! - LiveView 0.20: the same page and change, but a `d` comprehension, whose
//!   diff resends every row; there the cost is what the server sends.
//!
//! Figures are printed, not asserted: a timing assertion would flake on a
//! loaded machine.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use phx_repl::core::live::Rendered;
use serde_json::Value;

/// Entries in the comprehension.
const ENTRIES: usize = 10_000;
/// Diffs timed in the 1.1 scenario.
const KEYED_DIFFS: usize = 5_000;
/// Diffs timed in the 0.20 scenario (each carries every row).
const D_DIFFS: usize = 40;

/// The row statics: `<li id="item-ID">TEXT</li>`.
const ROW: &str = r#"["\n  <li id=\"item-","\">","</li>"]"#;
const PAGE: &str = r#"["<h1>Items</h1>\n<ul>","\n</ul>"]"#;

fn text(i: usize, version: usize) -> String {
    format!("item {i} v{version}")
}

fn join_v11() -> String {
    let mut k = String::new();
    for i in 0..ENTRIES {
        let _ = write!(k, r#""{i}":{{"0":"{i}","1":"{}"}},"#, text(i, 0));
    }
    format!(r#"{{"0":{{"k":{{{k}"kc":{ENTRIES}}},"s":0}},"p":{{"0":{ROW},"1":{PAGE}}},"s":1}}"#)
}

fn join_v020() -> String {
    format!(r#"{{"0":{{"d":[{}],"s":{ROW}}},"s":{PAGE}}}"#, d_rows(&[]))
}

/// Every row at the versions given (all 0 when `versions` is empty).
fn d_rows(versions: &[usize]) -> String {
    let rows: Vec<String> = (0..ENTRIES)
        .map(|i| {
            format!(
                r#"["{i}","{}"]"#,
                text(i, versions.get(i).copied().unwrap_or(0))
            )
        })
        .collect();
    rows.join(",")
}

/// Which entry the n-th diff changes: spread over the list.
fn position(n: usize) -> usize {
    (n * 7919) % ENTRIES
}

struct Timing {
    per_diff: Vec<Duration>,
    bytes: usize,
}

impl Timing {
    fn median(&self) -> Duration {
        let mut v = self.per_diff.clone();
        v.sort();
        v[v.len() / 2]
    }

    fn p99(&self) -> Duration {
        let mut v = self.per_diff.clone();
        v.sort();
        v[(v.len() * 99 / 100).min(v.len() - 1)]
    }
}

/// Parses and merges each diff into `r`, and with `readable` formats the
/// change lines too; checks each diff changed exactly one entry.
fn run(r: &mut Rendered, diffs: &[String], readable: bool) -> Timing {
    let mut per_diff = Vec::with_capacity(diffs.len());
    let mut lines = 0usize;
    for d in diffs {
        let t = Instant::now();
        let v: Value = serde_json::from_str(d).expect("diff JSON");
        let update = r.merge(&v).expect("diff merges");
        if readable {
            lines += update
                .changes
                .iter()
                .map(|c| c.to_string().len())
                .sum::<usize>();
        }
        per_diff.push(t.elapsed());
        assert_eq!(update.changes.len(), 1, "one entry changed");
    }
    std::hint::black_box(lines);
    Timing {
        per_diff,
        bytes: diffs.iter().map(String::len).sum::<usize>() / diffs.len().max(1),
    }
}

fn keyed_diffs(round: usize) -> Vec<String> {
    (0..KEYED_DIFFS)
        .map(|n| {
            let i = position(n);
            let t = text(i, round * KEYED_DIFFS + n + 1);
            format!(r#"{{"0":{{"k":{{"{i}":{{"1":"{t}"}},"kc":{ENTRIES}}}}}}}"#)
        })
        .collect()
}

/// 0.20 diffs: each resends every row as the server's state then is, one
/// row newer than in the diff before.
fn d_diffs(round: usize, versions: &mut Vec<usize>) -> Vec<String> {
    versions.resize(ENTRIES, 0);
    (0..D_DIFFS)
        .map(|n| {
            versions[position(n)] = round * D_DIFFS + n + 1;
            format!(r#"{{"0":{{"d":[{}]}}}}"#, d_rows(versions))
        })
        .collect()
}

fn joined(json: &str) -> Rendered {
    let v: Value = serde_json::from_str(json).expect("join JSON");
    Rendered::join(&v).expect("join tree").0
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Runs the scenarios and returns their Markdown table.
pub fn report() -> String {
    let mut r11 = joined(&join_v11());
    let k_apply = run(&mut r11, &keyed_diffs(0), false);
    let k_read = run(&mut r11, &keyed_diffs(1), true);
    let mut r20 = joined(&join_v020());
    let mut versions = Vec::new();
    let d_apply = run(&mut r20, &d_diffs(0, &mut versions), false);
    let d_read = run(&mut r20, &d_diffs(1, &mut versions), true);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "LiveView diffs: one entry of {ENTRIES} changed in place, per diff (median, p99)\n"
    );
    let _ = writeln!(
        out,
        "| format | diff size | apply | apply + readable change |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (label, apply, read) in [
        ("1.1 keyed `k`", &k_apply, &k_read),
        ("0.20 `d` (every row resent)", &d_apply, &d_read),
    ] {
        let _ = writeln!(
            out,
            "| {label} | {} B | {} ({}) | {} ({}) |",
            apply.bytes,
            us(apply.median()),
            us(apply.p99()),
            us(read.median()),
            us(read.p99())
        );
    }
    let _ = writeln!(
        out,
        "\ntarget: a 1.1 keyed diff applies and reads well under 1 ms: {}",
        if k_read.median() < Duration::from_micros(1000) {
            "met"
        } else {
            "NOT met"
        }
    );
    out
}
