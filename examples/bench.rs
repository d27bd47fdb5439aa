//! The benchmark behind the README's Performance section.
//!
//! ```text
//! cargo run --profile dist --example bench              # the full run, a few minutes
//! cargo run --profile dist --example bench -- --quick   # one pass, smaller floods
//! cargo run --profile dist --example bench -- --fanout  # only --clients 1000
//! cargo run --profile dist --example bench -- --live    # only the LiveView diff costs
//! cargo run --profile dist --example bench -- --js /tmp/jsref/fan.mjs
//!                                       # also runs the phoenix.js reference
//! ```
//!
//! What it measures is the `dist` build: it runs `cargo build --profile
//! dist` (fat LTO, one codegen unit, what `cargo install --path .
//! --profile dist` installs) and runs `target/dist/phx-repl`. Run the harness
//! with the same profile, since its floor clients are this executable. It
//! starts the built-in server (`phx-repl
//! serve`, its own process) and runs each scenario several times,
//! alternating phx-repl with a floor client and, when `websocat` is on
//! PATH, with websocat. The floor is this same executable run as `bench
//! floor …`: a raw tungstenite client that parses the five-element envelope
//! and writes one line per frame, the least any Phoenix-aware client does.
//! The floods run twice over: with the server's bare counter frames and
//! with *realistic* frames of about 60 bytes, `{"i":i,"body":"hello
//! world"}`, asked for by joining `flood:N` with `{"body":"hello world"}`.
//!
//! Every figure is a whole-process measurement of a child: wall time from
//! spawn to exit, CPU time (user + system) and peak resident memory from the
//! child's `wait4` rusage. The server's CPU time comes from
//! `/proc/PID/stat` before and after. Medians are printed as a Markdown
//! table, then each performance target with the figure that decides it.
//!
//! This file owns the command line, the plan (how big, how often) and the
//! frames the floods ask for; the parts live beside it in `bench/`:
//! measuring a child and the server (`measure`), the scenarios and their
//! order (`scenarios`), the pseudo-terminal (`pty`), heartbeats
//! (`heartbeat`), the floor client (`floor`), many clients in one process
//! (`fanout`), the results table
//! (`report`) and the targets (`targets`). They are reached by `#[path]`
//! so the example keeps its name and the path the README and tests cite.

#[path = "bench/error.rs"]
mod error;
#[path = "bench/fanout.rs"]
mod fanout;
#[path = "bench/floor.rs"]
mod floor;
#[path = "bench/heartbeat.rs"]
mod heartbeat;
#[path = "bench/live.rs"]
mod live;
#[path = "bench/measure.rs"]
mod measure;
#[path = "bench/pty.rs"]
mod pty;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/scenarios.rs"]
mod scenarios;
#[path = "bench/targets.rs"]
mod targets;

use std::fmt::Write as _;
use std::process::ExitCode;

use error::BenchError;
use measure::Env;

/// The figures websocat reached in the reference measurement, used for the
/// websocat-relative targets when websocat is not installed.
const WEBSOCAT_REFERENCE_FPS: f64 = 1.25e6;

const JOIN_FRAME: &str = r#"["1","1","room:lobby","phx_join",{}]"#;

/// The join payload that makes the built-in server's flood realistic.
const BODY_JOIN: &str = r#"{"body":"hello world"}"#;

/// What every realistic push must carry beside its counter.
const BODY_FIELD: &str = r#""body":"hello world""#;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (who, result) = match args.first().map(String::as_str) {
        Some("pty-floor") => ("pty-floor", pty::floor_writer(&args[1..])),
        Some("floor") => ("floor", floor::run(&args[1..])),
        _ => ("bench", bench(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{who}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How big and how often.
struct Plan {
    runs: usize,
    join_runs: usize,
    big_runs: usize,
    flood: u64,
    big_flood: u64,
    round_trips: u64,
    heartbeat_flood: u64,
    pty_flood: u64,
    /// Clients of the fan-out scenarios.
    fan_clients: usize,
    fan_runs: usize,
    /// How long the idle clients' CPU time is read: one heartbeat interval.
    idle_window: std::time::Duration,
    /// The phoenix.js reference script (BENCHMARKS.md), run with node.
    js: Option<std::path::PathBuf>,
    /// `--fanout`: only the fan-out scenarios.
    fanout_only: bool,
    /// `--live`: only the LiveView diff scenario (in process, seconds).
    live_only: bool,
}

impl Plan {
    fn from_args(args: &[String]) -> Result<Plan, BenchError> {
        let mut plan = Plan {
            runs: 5,
            join_runs: 24,
            big_runs: 3,
            flood: 1_000_000,
            big_flood: 10_000_000,
            round_trips: 10_000,
            heartbeat_flood: 3_000_000,
            pty_flood: 100_000,
            fan_clients: 1000,
            fan_runs: 5,
            idle_window: std::time::Duration::from_secs(30),
            js: None,
            fanout_only: false,
            live_only: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => {
                    plan.runs = 1;
                    plan.join_runs = 6;
                    plan.big_runs = 1;
                    plan.big_flood = 2_000_000;
                    plan.heartbeat_flood = 1_000_000;
                    plan.fan_clients = 200;
                    plan.fan_runs = 1;
                }
                "--fanout" => plan.fanout_only = true,
                "--live" => plan.live_only = true,
                "--js" => {
                    plan.js = Some(it.next().ok_or(BenchError::JsWithoutFile)?.into());
                }
                "--runs" => {
                    plan.runs = it
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or(BenchError::RunsNotPositive)?;
                }
                other => return Err(BenchError::UnknownArgument(other.to_owned())),
            }
        }
        Ok(plan)
    }
}

/// The frames a flood asks the built-in server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frames {
    /// `{"i":i}`: the least a push can carry.
    Counter,
    /// `{"i":i,"body":"hello world"}`, about 60 bytes a frame.
    Realistic,
}

impl Frames {
    fn join_payload(self) -> &'static str {
        match self {
            Frames::Counter => "{}",
            Frames::Realistic => BODY_JOIN,
        }
    }

    /// The raw join frame, for the floor and websocat.
    fn join_frame(self, n: u64) -> String {
        format!(
            r#"["1","1","flood:{n}","phx_join",{}]"#,
            self.join_payload()
        )
    }

    /// The phx-repl script: join, then wait for the flood's `done`.
    fn script(self, n: u64) -> String {
        let join = match self {
            Frames::Counter => format!("join flood:{n}"),
            Frames::Realistic => format!("join flood:{n} {BODY_JOIN}"),
        };
        format!("{join}\nwait flood:{n} done 600s\n")
    }

    /// The name of the scenario, in the table.
    fn label(self, n: u64) -> String {
        match self {
            Frames::Counter => format!("{} frames flooded, piped", report::count(n)),
            Frames::Realistic => {
                format!(
                    "{} realistic frames (~60 B) flooded, piped",
                    report::count(n)
                )
            }
        }
    }
}

fn bench(args: &[String]) -> Result<(), BenchError> {
    let plan = Plan::from_args(args)?;
    if plan.live_only {
        println!("{}", live::report());
        return Ok(());
    }
    // The floor and drain clients are this executable: built with another
    // profile than phx-repl's, they would not be a fair floor.
    let dist = std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.parent()?.file_name()? == "dist"))
        .unwrap_or(false);
    if !dist {
        eprintln!(
            "warning: the floor clients are built with this harness's profile, not phx-repl's; \
             run `cargo run --profile dist --example bench`"
        );
    }
    if let Some(warning) = fanout::raise_open_files(plan.fan_clients) {
        eprintln!("{warning}");
    }
    let env = Env::start()?;
    if let Some(js) = &plan.js {
        fanout::check_js(js, &env)?;
    }
    let mut report = String::new();
    report::header(&env, &mut report);
    eprint!("{report}");
    if plan.fanout_only {
        let f = fanout::run(&env, &plan)?;
        let _ = writeln!(report, "load average at end: {}\n", report::load_average());
        let rows: Vec<_> = f.busy.rows.iter().chain(&f.own.rows).collect();
        report::table(&rows, &mut report);
        let _ = writeln!(report);
        targets::head(&mut report);
        targets::fanout(&f, &mut report);
        println!("{report}");
        return Ok(());
    }
    let results = scenarios::run(&env, &plan)?;
    let _ = writeln!(report, "load average at end: {}", report::load_average());
    if let Err(e) = &results.realistic {
        let _ = writeln!(report, "realistic frames: not measured: {e}");
    }
    let _ = writeln!(report);
    report::table(&results.rows(), &mut report);
    let _ = writeln!(report);
    targets::write(&results, &plan, env.websocat.is_some(), &mut report);
    let _ = writeln!(report, "\n{}", live::report());
    println!("{report}");
    Ok(())
}
