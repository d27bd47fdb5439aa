//! The benchmark's errors. Each says what went wrong in the words printed
//! beside a failed row, after `bench:`, or in a target that could not be
//! measured. Deciding whether a failure ends the run is left to the
//! scenarios: most only cost their row its sample.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("--runs takes a positive number, e.g. `--runs 7`")]
    RunsNotPositive,
    #[error("unknown argument `{0}`; try `--quick`, `--runs 7`, `--fanout` or `--js FILE`")]
    UnknownArgument(String),
    /// A subcommand (`floor`, `pty-floor`) called with the wrong arguments.
    #[error("usage: bench {0}")]
    Usage(&'static str),
    #[error("{0}")]
    BadCount(#[from] std::num::ParseIntError),
    #[error("unknown floor mode `{0}`")]
    UnknownFloorMode(String),
    #[error("cannot run cargo: {0}")]
    Cargo(io::Error),
    #[error("`cargo build --profile dist` failed")]
    BuildFailed,
    #[error("cannot locate cargo's target directory")]
    NoTargetDir,
    #[error("{} was not built", .0.display())]
    NotBuilt(PathBuf),
    #[error("cannot start the server: {0}")]
    ServerStart(io::Error),
    #[error("unexpected first line from the server: {0:?}")]
    ServerFirstLine(String),
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        program: OsString,
        source: io::Error,
    },
    /// A child was started without the pipe the benchmark drives it by.
    #[error("no {0}")]
    NoPipe(&'static str),
    #[error("cannot write {}: {source}", path.display())]
    WriteScript { path: PathBuf, source: io::Error },
    #[error("cannot open {}: {source}", path.display())]
    OpenScript { path: PathBuf, source: io::Error },
    #[error("output ended before `{0}`")]
    OutputEnded(String),
    #[error("wait4: {0}")]
    Wait4(io::Error),
    #[error("the client did not exit with status 0")]
    ClientFailed,
    #[error("websocat is not on PATH")]
    NoWebsocat,
    #[error("--js needs node on PATH")]
    NoNode,
    #[error("--js takes the file of the phoenix.js script, e.g. `--js /tmp/jsref/fan.mjs`")]
    JsWithoutFile,
    /// A fan-out client was asked to read a flood.
    #[error("this client does not read floods")]
    NotAFloodClient,
    #[error("only {seen} of {want} clients joined within {secs} s")]
    NotAllJoined { seen: usize, want: usize, secs: u64 },
    #[error("closed by the server")]
    ClosedByServer,
    #[error("the server refused the flood's join: {0}")]
    JoinRefused(String),
    /// The server answered a realistic flood's join with bare counters: it
    /// predates `{"body":…}` flood joins.
    #[error(
        "the server's pushes carry no `\"body\":\"hello world\"` (the first was {0}); \
         this built-in server does not make realistic frames"
    )]
    NoBody(String),
    #[error("openpty: {0}")]
    OpenPty(io::Error),
    #[error("no `{0}` at the prompt within 60 s")]
    PromptTimeout(String),
    #[error("the prompt's terminal closed")]
    TerminalClosed,
    #[error("the program on the pseudo-terminal did not exit with status 0")]
    PtyChildFailed,
    #[error("phx-repl failed")]
    PhxReplFailed,
    #[error("the flood's join reply or done message is missing")]
    FloodIncomplete,
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    WebSocket(#[from] tungstenite::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}
