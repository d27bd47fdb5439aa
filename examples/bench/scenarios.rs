//! The scenarios and the order they run in: joins, floods (bare and
//! realistic frames), a big flood for memory, round trips, heartbeats
//! during a flood, a flood at the prompt, and many clients in one process
//! (`fanout`). Each alternates its clients
//! so that none always runs on a machine warmed (or disturbed) by the
//! same neighbour. Running one client is left to `measure`, `pty` and
//! `heartbeat`; judging the figures, to `targets`.

use std::fmt::Write as _;

use crate::error::BenchError;
use crate::fanout::{self, Fanout};
use crate::heartbeat::{self, Heartbeats};
use crate::measure::Env;
use crate::report::{Row, Scenario, Tool, count, progress};
use crate::{Frames, JOIN_FRAME, Plan, floor, pty};

/// Everything one run of the benchmark measured.
pub struct Results {
    pub join: Scenario,
    pub flood: Scenario,
    /// The flood with realistic frames, or why it was not measured.
    pub realistic: Result<Scenario, BenchError>,
    pub big: Scenario,
    pub round_trips: Scenario,
    pub heartbeats: Result<Heartbeats, BenchError>,
    pub prompt: Prompt,
    pub fanout: Fanout,
}

/// A flood printed above a half-typed line.
pub struct Prompt {
    /// phx-repl at the prompt, and the floor: the same lines written to
    /// the same kind of pseudo-terminal by a plain program.
    pub at_prompt: Scenario,
    /// phx-repl through the same flood, piped.
    pub piped: Scenario,
    /// Runs in which the half-typed line was kept.
    pub survived: usize,
}

impl Results {
    /// Every row, in the table's order.
    pub fn rows(&self) -> Vec<&Row> {
        let realistic = self.realistic.as_ref().ok();
        [
            Some(&self.join),
            Some(&self.flood),
            realistic,
            Some(&self.big),
            Some(&self.round_trips),
            Some(&self.prompt.at_prompt),
            Some(&self.prompt.piped),
            Some(&self.fanout.busy),
            Some(&self.fanout.own),
        ]
        .into_iter()
        .flatten()
        .flat_map(|s| &s.rows)
        .collect()
    }
}

pub fn run(env: &Env, plan: &Plan) -> Result<Results, BenchError> {
    let join = joins(env, plan)?;
    let flood = floods(env, plan, Frames::Counter)?;
    let realistic = realistic_floods(env, plan);
    if let Err(e) = &realistic {
        eprintln!("  realistic frames: not measured: {e}");
    }
    let big = big_flood(env, plan)?;
    let round_trips = round_trips(env, plan)?;
    progress("heartbeats during a flood", 1);
    let heartbeats = heartbeat::run(env, plan.heartbeat_flood);
    let prompt = at_the_prompt(env, plan)?;
    // Last: a thousand connections leave the server with a thousand
    // threads to wind down.
    let fanout = fanout::run(env, plan)?;
    Ok(Results {
        join,
        flood,
        realistic,
        big,
        round_trips,
        heartbeats,
        prompt,
        fanout,
    })
}

/// Connect, join, reply, exit.
fn joins(env: &Env, plan: &Plan) -> Result<Scenario, BenchError> {
    let script = env.script("join.txt", "join room:lobby\n")?;
    let mut tools = vec![Tool::PhxRepl, Tool::Floor];
    if env.websocat.is_some() {
        tools.push(Tool::Websocat);
    }
    let mut s = Scenario::new("join + reply + exit", 1, &tools);
    progress("join + reply + exit", plan.join_runs);
    // One untimed run of each first: the first start of a binary that was
    // just built pays for loading it.
    let _ = env.phx(&script, &[]);
    let _ = env.floor("join", 1);
    // phx-repl and the floor alternate, each going first every other
    // round. websocat's runs come after them, as a block: a start-up of a
    // few milliseconds right after websocat's much bigger process runs
    // with colder caches (1-2 ms slower here), which would weigh on
    // whichever client happened to follow it.
    for round in 0..plan.join_runs {
        let (first, second) = if round % 2 == 0 {
            (Tool::PhxRepl, Tool::Floor)
        } else {
            (Tool::Floor, Tool::PhxRepl)
        };
        for tool in [first, second] {
            let sample = match tool {
                Tool::PhxRepl => env.phx(&script, &[]),
                _ => env.floor("join", 1),
            };
            s.record(tool, sample);
        }
    }
    if env.websocat.is_some() {
        for _ in 0..plan.join_runs {
            s.record(Tool::Websocat, env.websocat(JOIN_FRAME, "\"phx_reply\""));
        }
    }
    Ok(s)
}

/// The flood, piped, with `frames`. Bare frames are also read by websocat
/// (when installed) and by the drain, which shows the server's own rate.
fn floods(env: &Env, plan: &Plan, frames: Frames) -> Result<Scenario, BenchError> {
    let n = plan.flood;
    let label = frames.label(n);
    let name = match frames {
        Frames::Counter => "flood.txt",
        Frames::Realistic => "realistic-flood.txt",
    };
    let script = env.script(name, &frames.script(n))?;
    // The order they take turns in; the table lists phx-repl's two
    // outputs first.
    let mut turns = vec![Tool::PhxRepl, Tool::Floor, Tool::PhxReplJson];
    if frames == Frames::Counter {
        turns.extend(env.websocat.is_some().then_some(Tool::Websocat));
        turns.push(Tool::Drain);
    }
    let mut in_table = turns.clone();
    in_table.swap(1, 2);
    let mut s = Scenario::new(&label, n, &in_table);
    progress(&label, plan.runs);
    let k = turns.len();
    for round in 0..plan.runs {
        for turn in 0..k {
            // Rotated, and every other round backwards (see the joins): in
            // the 1M flood the order of all the clients changes every round.
            let turn = if round % 2 == 0 { turn } else { k - 1 - turn };
            let tool = turns[(round + turn) % k];
            s.record(tool, env.flood(tool, frames, n, &script));
        }
    }
    Ok(s)
}

/// The realistic floods, once a probe has seen the server make such
/// frames: an older server ignores the join's payload, and its bare
/// counters would be measured under the wrong name.
fn realistic_floods(env: &Env, plan: &Plan) -> Result<Scenario, BenchError> {
    floor::probe_body(&env.socket_url())?;
    floods(env, plan, Frames::Realistic)
}

/// The big flood, for memory.
fn big_flood(env: &Env, plan: &Plan) -> Result<Scenario, BenchError> {
    let n = plan.big_flood;
    let label = Frames::Counter.label(n);
    let script = env.script("big.txt", &Frames::Counter.script(n))?;
    let mut s = Scenario::new(&label, n, &[Tool::PhxRepl, Tool::Floor]);
    progress(&label, plan.big_runs);
    for _ in 0..plan.big_runs {
        for tool in [Tool::PhxRepl, Tool::Floor] {
            s.record(tool, env.flood(tool, Frames::Counter, n, &script));
        }
    }
    Ok(s)
}

/// Sequential round trips: `push room:bench echo …`, each waiting for its
/// reply.
fn round_trips(env: &Env, plan: &Plan) -> Result<Scenario, BenchError> {
    let n = plan.round_trips;
    let label = format!("{} sequential push/reply round trips", count(n));
    let mut text = String::from("join room:bench\n");
    for i in 1..=n {
        let _ = writeln!(text, "push room:bench echo {{\"n\":{i}}}");
    }
    let script = env.script("round-trips.txt", &text)?;
    let mut s = Scenario::new(&label, n, &[Tool::PhxRepl, Tool::Floor]);
    progress(&label, plan.runs);
    for _ in 0..plan.runs {
        s.record(Tool::PhxRepl, env.phx(&script, &[]));
        s.record(Tool::Floor, env.floor("round-trips", n));
    }
    Ok(s)
}

/// A flood printed above a half-typed line, its pseudo-terminal floor and
/// the same flood piped.
fn at_the_prompt(env: &Env, plan: &Plan) -> Result<Prompt, BenchError> {
    let n = plan.pty_flood;
    let label = format!("{} frames at the prompt (pty)", count(n));
    let script = env.script("pty-flood.txt", &Frames::Counter.script(n))?;
    let mut at_prompt = Scenario::new(&label, n, &[Tool::PhxRepl, Tool::Floor]);
    let mut piped = Scenario::new(&Frames::Counter.label(n), n, &[Tool::PhxRepl]);
    let mut survived = 0;
    progress(&label, plan.runs);
    for _ in 0..plan.runs {
        piped.record(Tool::PhxRepl, env.phx(&script, &[]));
        let sample = pty::phx_at_prompt(env, n).map(|(sample, kept)| {
            survived += usize::from(kept);
            sample
        });
        at_prompt.record(Tool::PhxRepl, sample);
        at_prompt.record(Tool::Floor, pty::floor_at_prompt(env, n));
    }
    Ok(Prompt {
        at_prompt,
        piped,
        survived,
    })
}
