//! What can be wrong with a typed or scripted line, one variant per
//! mistake (pure).
//!
//! Each message is one line: what was wrong, with the offending token in
//! backticks, then what to type instead. The parser (`command.rs`) fills the
//! variants; the runner prints them and sends nothing. Tokens are already
//! shortened and made safe for the terminal by the parser.

use thiserror::Error;

/// A line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("the line is longer than {mib} MiB, the limit for one command; nothing was sent")]
    TooLong { mib: usize },
    #[error("unknown command `{word}`; {}", did_you_mean(*.suggestion, "type `help` for the list of commands"))]
    UnknownCommand {
        word: String,
        suggestion: Option<&'static str>,
    },
    #[error("no command `{word}`{}", suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    NoHelpFor {
        word: String,
        suggestion: Option<&'static str>,
    },
    /// A required argument is missing. `hint` is the rest of the message
    /// after "try", with its own backticks.
    #[error("`{command}` needs {what}; try {hint}")]
    Missing {
        command: String,
        what: &'static str,
        hint: String,
    },
    #[error("unexpected `{token}` after `{command}`; the form is `{usage}`")]
    Unexpected {
        token: String,
        command: String,
        usage: String,
    },
    #[error("`{token}` looks like a payload, not a topic; try `{command} room:lobby …`")]
    PayloadNotTopic { token: String, command: String },
    #[error("`expect {0}` is not a status; the form is `expect ok|error [JSON]`")]
    NotAStatus(String),
    #[error("no display switch `{0}`; try `display pretty on` (switches: timestamps, pretty, raw)")]
    NoSuchSwitch(String),
    #[error("`{value}` is not on or off; try `display {switch} on`")]
    NotOnOff { value: String, switch: String },
    #[error("`{0}` is not a duration; try `250ms`, `2s` or `1m`")]
    NotADuration(String),
    #[error("a `{0}` payload must be JSON, not binary; send binary with `push TOPIC EVENT hex:…`")]
    BinaryNotAllowed(&'static str),
    /// The payload after `before` does not parse.
    #[error("{error} (after `{before}`)")]
    Payload { error: PayloadError, before: String },
    #[error(
        "`{name}` is not a client name; use a letter, then letters, digits, `_` or `-` \
         (at most {max}), as in `connect bob`"
    )]
    BadClientName { name: String, max: usize },
    #[error("`{0}` is not KEY=VALUE; try `-p user=bob`")]
    NotAParam(String),
    #[error("`{0}` is not a header; try `-H 'Cookie: a=b'`")]
    NotAHeader(String),
    #[error("a {0}…{0} quote is not closed; close it, as in `-H 'Cookie: a=b'`")]
    QuoteNotClosed(char),
    #[error("`{0}` is not a variable name; use letters, digits and `_`, as in `let id = .id`")]
    BadLetName(String),
    #[error("{0}")]
    BadPath(String),
    /// A `gql` line: its document, variables or file.
    #[error("{0}")]
    Gql(String),
    /// A LiveView command's arguments (`lang::live`).
    #[error("{0}")]
    Live(String),
    /// A payload to match against is not JSON (serde's message).
    #[error("{error} (after `{before}`)")]
    NotMatchable { error: String, before: String },
}

/// A payload argument that cannot be sent, in any of its forms: JSON, the
/// `<…>` shorthand, `key=value` pairs, binary, or a file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    #[error("payload `{text}` is not valid JSON ({error}); try {{\"key\":\"value\"}} or key=value")]
    NotJson { text: String, error: String },
    #[error("the shorthand `{0}` is not closed with `>`; try <\"some\":\"param\">")]
    ShorthandNotClosed(String),
    #[error("the shorthand `{text}` is not a JSON object body ({error}); try <\"some\":\"param\">")]
    ShorthandNotJson { text: String, error: String },
    #[error("`{text}` is not hex ({error}); give pairs of hex digits: hex:DEADBEEF")]
    NotHex { text: String, error: String },
    #[error("`{text}` is not base64 ({error}); try base64:3q2+7w==")]
    NotBase64 { text: String, error: String },
    #[error("`@` needs a file name; try @payload.json (JSON) or @@image.png (bytes)")]
    NoFileName,
    #[error("cannot read `{path}`: {error}")]
    CannotRead { path: String, error: String },
    #[error("`{0}` is not UTF-8 text; send its bytes with @@{0}")]
    FileNotText(String),
    #[error("`{path}` does not hold valid JSON ({error}); send its bytes with @@{path}")]
    FileNotJson { path: String, error: String },
    #[error("`{0}` is not a key=value or key:=JSON pair; quote spaces as key=\"two words\"")]
    NotAPair(String),
    #[error(
        "the value of `{key}` is not {what} ({error}); try {key}:=[1,2] or {key}=\"two words\""
    )]
    BadPairValue {
        key: String,
        what: &'static str,
        error: String,
    },
    #[error("`{0}:=` needs a JSON value; try {0}:=3 or {0}:=true")]
    NoPairValue(String),
    #[error("unexpected `{token}` after the value of `{key}`; separate pairs with spaces")]
    AfterPairValue { token: String, key: String },
    #[error("`{0}` is given twice; give each key once")]
    DuplicateKey(String),
}

/// A `${NAME}` that cannot be substituted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VarError {
    #[error("`${{` is not closed with `}}`; write `${{NAME}}`, or `$${{` for a literal `${{`")]
    NotClosed,
    #[error(
        "`${{{0}}}` is not a variable name; use letters, digits and `_`, or `$${{` for a literal `${{`"
    )]
    BadName(String),
    #[error(
        "environment variable `{0}` is not set (used as `${{{0}}}`); set it, e.g. `{0}=… phx-repl …`"
    )]
    Unset(String),
}

/// "did you mean `X`?" when there is a suggestion, else `otherwise`.
fn did_you_mean(suggestion: Option<&str>, otherwise: &str) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => otherwise.to_owned(),
    }
}
