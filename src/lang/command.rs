//! The REPL command language: one line of text → a `Command` (pure).
//!
//! Interactive and piped input share this parser. It knows nothing of refs,
//! sockets or channel state; a line that does not parse yields a
//! `CommandError` whose message names the bad token and shows the right form,
//! and nothing is sent. (Pure but for `@FILE` payloads, see `payload_form`.)

use std::time::Duration;

use crate::core::protocol::Payload;
use crate::core::session::Request;
use crate::lang::error::CommandError;
use crate::lang::path::Path;
use crate::lang::payload::payload_form;
use crate::lang::watch::{self, Watch};
use crate::output::excerpt;

/// One parsed line.
#[derive(Debug, Clone)]
pub enum Command {
    /// join, leave, push or heartbeat: a frame that gets a reply.
    Request(Request),
    Raw(String),
    Topics,
    /// Show the presence list of TOPIC, or of every topic.
    Presence(Option<String>),
    /// Connection and channel health (`status`).
    Status,
    Sleep(Duration),
    /// `wait`: a message (or a subscription's data) must come.
    Wait(Watch),
    /// `refute`: none may come within the window.
    Refute(Watch),
    /// `let NAME = PATH`: keep a value from the last reply or matched
    /// message for `${NAME}`.
    Let {
        name: String,
        path: Path,
    },
    /// `gql …`: a GraphQL document over Absinthe's control channel, or
    /// managing its subscriptions.
    Gql(crate::lang::gql::GqlCommand),
    /// Asserts the status of the most recent reply and, if given, that its
    /// response contains `response`.
    Expect {
        ok: bool,
        response: Option<serde_json::Value>,
    },
    /// `expect text …` / `expect html …`: a check on the current LiveView
    /// page.
    ExpectPage(crate::lang::live::PageCheck),
    /// `live`, `html`, `text`, `click`, `submit`, `change`, `key`, `hook`.
    Live(crate::lang::live::LiveCommand),
    Help(Option<String>),
    /// `display [SWITCH [on|off]]`: list the switches, or set one (no
    /// on/off toggles it).
    Display(Option<(Switch, Option<bool>)>),
    /// `mute [NAME]`: list the muted names, or mute an event or topic.
    Mute(Option<String>),
    /// `unmute [NAME]`: unmute one name, or all.
    Unmute(Option<String>),
    /// `record [FILE|stop]`.
    Record(Record),
    /// `connect NAME [URL] [flags]`: open another client.
    Connect(crate::lang::clients::Connect),
    /// `use NAME`: lines without `@NAME` go to this client.
    Use(String),
    /// `clients`: list them.
    Clients,
    /// `disconnect NAME`: close one client.
    Disconnect(String),
    Quit,
}

/// A line's `-H` headers and `--auth-token` (see `typed_credentials`).
pub type Credentials<'a> = (&'a [(String, String)], Option<&'a str>);

impl Command {
    /// The headers and auth token a line gives a connection (`connect …
    /// -H`, `live URL -H`, `--auth-token`): secrets to hide before the line
    /// is shown or recorded, like the command line's own.
    pub fn typed_credentials(&self) -> Option<Credentials<'_>> {
        match self {
            Command::Connect(c) => Some((&c.headers, c.auth_token.as_deref())),
            Command::Live(crate::lang::live::LiveCommand::Open { flags, .. }) => {
                Some((&flags.headers, flags.auth_token.as_deref()))
            }
            _ => None,
        }
    }

    /// The values of a line's `-p KEY=VALUE` params whose key looks secret
    /// (`token=…`), which are hidden as the command line's are.
    pub fn typed_secret_params(&self) -> Vec<&str> {
        let params = match self {
            Command::Connect(c) => &c.params,
            Command::Live(crate::lang::live::LiveCommand::Open { flags, .. }) => &flags.params,
            _ => return Vec::new(),
        };
        params
            .iter()
            .filter(|(k, _)| crate::core::endpoint::is_secret_key(k))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What `record` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `record`: say whether and where recording.
    Status,
    /// `record FILE`: start (replacing the file).
    Start(String),
    /// `record stop`.
    Stop,
}

/// A display switch that `display` sets at the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Timestamps,
    Pretty,
    Raw,
    Full,
}

impl Switch {
    pub const ALL: [Switch; 4] = [
        Switch::Timestamps,
        Switch::Pretty,
        Switch::Raw,
        Switch::Full,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Switch::Timestamps => "timestamps",
            Switch::Pretty => "pretty",
            Switch::Raw => "raw",
            Switch::Full => "full",
        }
    }
}

/// What `help` and `--help` say about a command.
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    pub name: &'static str,
    pub usage: &'static str,
    /// One line; the part before `;` is the short form for `--help`.
    pub summary: &'static str,
    pub example: &'static str,
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "join",
        usage: "join TOPIC [PAYLOAD]",
        summary: "join a channel; PAYLOAD is passed to the channel's join/3",
        example: "join room:lobby {\"user\":\"ana\"}",
    },
    CommandInfo {
        name: "leave",
        usage: "leave [TOPIC]",
        summary: "leave a channel (TOPIC may be omitted when one topic is joined)",
        example: "leave room:lobby",
    },
    CommandInfo {
        name: "push",
        usage: "push TOPIC EVENT [PAYLOAD]",
        summary: "push an event to a channel and show its reply (alias: send); to a topic that is not joined it still goes out, after a note naming the joined topics",
        example: "push room:lobby echo {\"body\":\"hi\"}",
    },
    CommandInfo {
        name: "cast",
        usage: "cast TOPIC EVENT [PAYLOAD]",
        summary: "push an event without waiting for a reply (for a handle_in that returns {:noreply, socket}); a script goes on as soon as it is sent, a reply that does come is still shown, and `expect` checks the latest push, join or leave instead",
        example: "cast room:lobby new_msg {\"body\":\"hi\"}",
    },
    CommandInfo {
        name: "heartbeat",
        usage: "heartbeat",
        summary: "send a heartbeat now and show its reply",
        example: "heartbeat",
    },
    CommandInfo {
        name: "raw",
        usage: "raw TEXT",
        summary: "send TEXT exactly as a text frame (to test a server with malformed frames)",
        example: "raw [null,\"1\",\"phoenix\",\"heartbeat\",{}]",
    },
    CommandInfo {
        name: "topics",
        usage: "topics",
        summary: "list topics with their join_ref and state",
        example: "topics",
    },
    CommandInfo {
        name: "presence",
        usage: "presence [TOPIC]",
        summary: "show who is present (from presence_state/presence_diff) on TOPIC or every topic",
        example: "presence room:lobby",
    },
    CommandInfo {
        name: "status",
        usage: "status",
        summary: "show the connection (URL, uptime, reconnects, heartbeat round trip and misses) and each topic's state, join_ref, join payload and rejoin countdown",
        example: "status",
    },
    CommandInfo {
        name: "sleep",
        usage: "sleep DURATION",
        summary: "pause before the next line (250ms, 2s, 1m)",
        example: "sleep 500ms",
    },
    CommandInfo {
        name: "wait",
        usage: "wait TOPIC EVENT [TIMEOUT] [JSON]",
        summary: "wait for a message with that topic (* = any) and event, whose payload contains JSON if given; messages that arrived earlier count, each consumed once (replies to your own requests are not messages; a reply to a `raw` frame is `phx_reply`)",
        example: "wait room:lobby shout 5s {\"body\":\"hi\"}",
    },
    CommandInfo {
        name: "refute",
        usage: "refute TOPIC EVENT [TIMEOUT] [JSON]",
        summary: "assert that no such message comes within TIMEOUT (default 1 s): fails at once if one does, passes with a ✓ when the window ends; messages that arrived since the previous line began count too, unless a `wait` took them; `refute gql NAME …` for a subscription's data; `--topic text` reaches a topic named like a keyword (gql, text, html)",
        example: "@bob refute room:secret new_msg 500ms",
    },
    CommandInfo {
        name: "let",
        usage: "let NAME = PATH",
        summary: "keep a value for `${NAME}`: PATH (jq-like: .user.id, .items[0]) starts at the response of this client's last reply, or at the payload its last `wait` matched (for `wait gql`, the field's value); a string is kept as its text, anything else as JSON; values are shared by every client",
        example: "let id = .data.addMessage.id",
    },
    CommandInfo {
        name: "gql",
        usage: "gql QUERY|@FILE [VARIABLES]",
        summary: "send a GraphQL document over Absinthe's control channel (joined on first use): a query or mutation prints its data and errors, a subscription gets a short name (s1) and its data prints as `← gql s1 NAME {…}`; `gql unsubscribe s1|ID|NAME|all`, `gql resubscribe`; `wait gql NAME [TIMEOUT] [JSON]` matches the field's value; a reply with `errors` is an error reply",
        example: "gql subscription { messageAdded(room: \"lobby\") { id body } }",
    },
    CommandInfo {
        name: "expect",
        usage: "expect ok|error [JSON]",
        summary: "check the status of the most recent reply, and that its response contains JSON if given; objects match key by key, recursively, arrays and other values must be equal; a failure exits 1 (at the prompt it first waits for the reply to the latest request); a `cast`'s reply is never the one checked",
        example: "expect ok {\"joined\":\"room:lobby\"}",
    },
    CommandInfo {
        name: "display",
        usage: "display [SWITCH [on|off]]",
        summary: "show the display switches (timestamps, pretty, raw, full), or turn one on or off (no on/off toggles it); like --timestamps, --pretty, --raw, --full (full: payloads longer than 4 KiB are not cut at the prompt)",
        example: "display pretty on",
    },
    CommandInfo {
        name: "mute",
        usage: "mute [EVENT|TOPIC]",
        summary: "hide messages with that event or topic (`room:*` for a prefix), for every client, from the screen, not from --json or a recording; `mute lv:*` hides LiveView changes the server pushes (a tick), not the replies to your events; alone, list what is muted",
        example: "mute presence_diff",
    },
    CommandInfo {
        name: "unmute",
        usage: "unmute [EVENT|TOPIC]",
        summary: "show that event or topic again; alone, unmute everything",
        example: "unmute presence_diff",
    },
    CommandInfo {
        name: "record",
        usage: "record [FILE|stop]",
        summary: "write every line run from now on to FILE as a replayable script, with what came back as `# expect …` / `# wait …` comments (started mid-session, it first writes the joins of the topics still joined); `record stop` ends it",
        example: "record smoke.phx",
    },
    CommandInfo {
        name: "live",
        usage: "live URL|/PATH [FLAGS]",
        summary: "open a LiveView page: fetch it, join its LiveView on the /live socket, print it as readable lines and every change after; a /PATH is on the current connection's host; FLAGS: -H 'NAME: VALUE' (a Cookie logs in), --follow (a redirect to another page), --auth-token TOKEN (`connect NAME live URL` takes the same flags)",
        example: "live http://localhost:4000/counter",
    },
    CommandInfo {
        name: "click",
        usage: "click EVENT [K=V…] [--target CID]",
        summary: "send a click event to the current LiveView (as a phx-click with phx-value-KEY attributes)",
        example: "click inc",
    },
    CommandInfo {
        name: "submit",
        usage: "submit EVENT [K=V…] [--target CID]",
        summary: "submit a form: its current field values, with FIELD=VALUE replacing them",
        example: "submit set value=42",
    },
    CommandInfo {
        name: "change",
        usage: "change EVENT [K=V…] [--target CID]",
        summary: "send a form change (phx-change), naming the first FIELD as `_target`",
        example: "change validate email=a@b.c",
    },
    CommandInfo {
        name: "key",
        usage: "key EVENT KEY [--up] [--target CID]",
        summary: "send a keydown (or with --up a keyup) event with KEY",
        example: "key keydown Enter",
    },
    CommandInfo {
        name: "hook",
        usage: "hook EVENT JSON [--target CID]",
        summary: "send an event as a JS hook's pushEvent would, with a JSON value",
        example: "hook pinged {\"at\":1}",
    },
    CommandInfo {
        name: "html",
        usage: "html [SELECTOR]",
        summary: "print the current LiveView's HTML, or the elements a CSS selector matches (a JSON string when it has spaces)",
        example: "html \"ul#history li\"",
    },
    CommandInfo {
        name: "text",
        usage: "text [SELECTOR]",
        summary: "print the current LiveView's text, or the text of the elements a CSS selector matches",
        example: "text h1",
    },
    CommandInfo {
        name: "connect",
        usage: "connect NAME [URL] [FLAGS]",
        summary: "open another client, a socket of its own named NAME (the URL defaults to the first client's; FLAGS: -p KEY=VALUE, -H 'NAME: VALUE', --auth-token TOKEN); then `@NAME COMMAND` runs one line as it, and every line shows whose it is",
        example: "connect bob -p user=bob",
    },
    CommandInfo {
        name: "@",
        usage: "@NAME COMMAND",
        summary: "run one command as client NAME: `@bob wait …` waits on bob's frames only, and `expect` checks the reply to bob's previous line",
        example: "@bob cast room:lobby new_msg body=hi",
    },
    CommandInfo {
        name: "use",
        usage: "use NAME",
        summary: "send the lines without `@NAME` to client NAME from now on; the prompt shows it",
        example: "use bob",
    },
    CommandInfo {
        name: "clients",
        usage: "clients",
        summary: "list the clients with their URLs, states and joined topics",
        example: "clients",
    },
    CommandInfo {
        name: "disconnect",
        usage: "disconnect NAME",
        summary: "close client NAME's socket (the first client's ends with `quit`)",
        example: "disconnect bob",
    },
    CommandInfo {
        name: "help",
        usage: "help [COMMAND]",
        summary: "show the commands, or one command in detail",
        example: "help push",
    },
    CommandInfo {
        name: "quit",
        usage: "quit",
        summary: "close the connection and exit (alias: exit)",
        example: "quit",
    },
];

const PAYLOAD_HELP: &str = "PAYLOAD (default {}) is JSON ({\"a\":1}), the object shorthand <\"a\":1>, \
or pairs: key=text key:=JSON (push room:lobby new_msg body=hi count:=3); @FILE reads JSON from a file; \
binary (push and cast only): hex:DEADBEEF, base64:3q2+7w==, @@FILE (a file's bytes)";

/// The longest line accepted, in bytes. Script readers keep at most this
/// much of a line (plus one byte, to tell it was longer), so a file with no
/// line breaks cannot fill memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Parses one line. Blank lines and `#` comments yield `Ok(None)`.
pub fn parse_line(line: &str) -> Result<Option<Command>, CommandError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(CommandError::TooLong {
            mib: MAX_LINE_BYTES >> 20,
        });
    }
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (word, rest) = split_word(line);
    let cmd = match word {
        "join" => {
            let (topic, rest) = topic_arg(rest, "join")?;
            Command::Request(Request::Join {
                topic,
                payload: json_only(payload_arg(rest, "join TOPIC")?, "join")?,
            })
        }
        "leave" => {
            let (topic, rest) = split_word(rest);
            no_more(rest, "leave")?;
            Command::Request(Request::Leave {
                topic: (!topic.is_empty()).then(|| topic.to_owned()),
            })
        }
        "push" | "send" | "cast" => push_command(word, rest)?,
        "heartbeat" => {
            no_more(rest, "heartbeat")?;
            Command::Request(Request::Heartbeat { auto: false })
        }
        "raw" => {
            if rest.is_empty() {
                return Err(CommandError::Missing {
                    command: "raw".to_owned(),
                    what: "the text to send",
                    hint: "`raw [null,\"1\",\"phoenix\",\"heartbeat\",{}]`".to_owned(),
                });
            }
            Command::Raw(rest.to_owned())
        }
        "topics" => {
            no_more(rest, "topics")?;
            Command::Topics
        }
        "presence" => {
            let (topic, rest) = split_word(rest);
            no_more(rest, "presence")?;
            Command::Presence((!topic.is_empty()).then(|| topic.to_owned()))
        }
        "status" => {
            no_more(rest, "status")?;
            Command::Status
        }
        "sleep" => {
            let (d, rest) = split_word(rest);
            if d.is_empty() {
                return Err(CommandError::Missing {
                    command: "sleep".to_owned(),
                    what: "a duration",
                    hint: "`sleep 500ms` or `sleep 2s`".to_owned(),
                });
            }
            no_more(rest, "sleep")?;
            Command::Sleep(parse_duration(d)?)
        }
        "wait" => Command::Wait(watch::watch("wait", rest)?),
        "refute" => Command::Refute(watch::watch("refute", rest)?),
        "let" => watch::let_command(rest)?,
        "gql" => Command::Gql(crate::lang::gql::parse_command(rest).map_err(CommandError::Gql)?),
        "expect" => expect_command(rest)?,
        "help" | "?" => {
            let (topic, _) = split_word(rest);
            Command::Help((!topic.is_empty()).then(|| topic.to_owned()))
        }
        "display" => display_command(rest)?,
        "mute" | "unmute" => {
            let (name, rest) = split_word(rest);
            no_more(rest, word)?;
            let name = (!name.is_empty()).then(|| name.to_owned());
            if word == "mute" {
                Command::Mute(name)
            } else {
                Command::Unmute(name)
            }
        }
        "record" => {
            let (file, rest) = split_word(rest);
            no_more(rest, "record")?;
            Command::Record(match file {
                "" => Record::Status,
                "stop" | "off" => Record::Stop,
                f => Record::Start(f.to_owned()),
            })
        }
        "connect" | "use" | "clients" | "disconnect" => crate::lang::clients::parse(word, rest)?,
        "live" | "html" | "text" | "click" | "submit" | "change" | "key" | "hook" => {
            Command::Live(crate::lang::live::parse(word, rest)?)
        }
        "quit" | "exit" => {
            no_more(rest, word)?;
            Command::Quit
        }
        other => {
            return Err(CommandError::UnknownCommand {
                word: shorten(other),
                suggestion: suggest(other),
            });
        }
    };
    Ok(Some(cmd))
}

/// `push|send|cast TOPIC EVENT [PAYLOAD]`.
fn push_command(word: &str, rest: &str) -> Result<Command, CommandError> {
    let (topic, rest) = topic_arg(rest, word)?;
    let (event, rest) = split_word(rest);
    if event.is_empty() {
        return Err(CommandError::Missing {
            command: format!("{word} {topic}"),
            what: "an event",
            hint: if word == "cast" {
                format!("`cast {topic} new_msg {{\"body\":\"hi\"}}`")
            } else {
                format!("`{word} {topic} echo {{\"body\":\"hi\"}}`")
            },
        });
    }
    Ok(Command::Request(Request::Push {
        payload: payload_arg(rest, &format!("{word} {topic} {event}"))?,
        topic,
        event: event.to_owned(),
        cast: word == "cast",
    }))
}

/// `expect ok|error [PAYLOAD]`.
fn expect_command(rest: &str) -> Result<Command, CommandError> {
    let (status, rest) = split_word(rest);
    if status == "text" || status == "html" {
        let (check, more) = crate::lang::live::check("expect", status, rest)?;
        no_more(more, "expect")?;
        return Ok(Command::ExpectPage(check));
    }
    let ok = match status {
        "ok" => true,
        "error" => false,
        "" => {
            return Err(CommandError::Missing {
                command: "expect".to_owned(),
                what: "a status",
                hint: "`expect ok` or `expect error {\"reason\":\"nope\"}`".to_owned(),
            });
        }
        other => {
            return Err(CommandError::NotAStatus(shorten(other)));
        }
    };
    let response = if rest.is_empty() {
        None
    } else {
        Some(json_arg(rest, &format!("expect {status}"))?)
    };
    Ok(Command::Expect { ok, response })
}

/// `display [SWITCH [on|off]]`.
fn display_command(rest: &str) -> Result<Command, CommandError> {
    let (name, rest) = split_word(rest);
    let (value, rest) = split_word(rest);
    no_more(rest, "display")?;
    if name.is_empty() {
        return Ok(Command::Display(None));
    }
    let switch = Switch::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| CommandError::NoSuchSwitch(shorten(name)))?;
    let value = match value {
        "" => None,
        "on" => Some(true),
        "off" => Some(false),
        other => {
            return Err(CommandError::NotOnOff {
                value: shorten(other),
                switch: name.to_owned(),
            });
        }
    };
    Ok(Command::Display(Some((switch, value))))
}

/// Help text: every command, or one in detail. With a `width` (the
/// terminal's columns) each description wraps under itself; without one,
/// each stays on one line.
pub fn help(command: Option<&str>, width: Option<usize>) -> Result<String, CommandError> {
    match command {
        None => {
            let mut out = String::from("commands:\n");
            let w = usage_width();
            for c in COMMANDS {
                let lead = format!("  {:<w$} ", c.usage);
                out.push_str(&wrap_under(&lead, c.summary, width));
            }
            out.push_str(&wrap_under("", PAYLOAD_HELP, width));
            Ok(out)
        }
        Some(name) => {
            let name = match name {
                "send" => "push",
                "exit" => "quit",
                n => n,
            };
            let CommandInfo {
                usage,
                summary,
                example,
                ..
            } = COMMANDS.iter().find(|c| c.name == name).ok_or_else(|| {
                CommandError::NoHelpFor {
                    word: shorten(name),
                    suggestion: suggest(name),
                }
            })?;
            let mut out = format!("{usage}\n");
            out.push_str(&wrap_under("  ", summary, width));
            out.push_str(&wrap_under("  example: ", example, width));
            if usage.contains("PAYLOAD") {
                out.push_str(&wrap_under("  ", PAYLOAD_HELP, width));
            }
            Ok(out)
        }
    }
}

/// `lead` then `text`, ending with a newline. With a width, `text` wraps at
/// spaces and its later lines start under its first character. A lead
/// wider than half the width gets no hanging indent, so the text keeps
/// room to wrap.
fn wrap_under(lead: &str, text: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return format!("{lead}{text}\n");
    };
    let indent = lead.chars().count();
    let hang = " ".repeat(if indent * 2 <= width { indent } else { 2 });
    let options = textwrap::Options::new(width.max(20))
        .initial_indent(lead)
        .subsequent_indent(&hang);
    let mut out = textwrap::fill(text, options);
    out.push('\n');
    out
}

/// The width of the usage column in command lists.
pub fn usage_width() -> usize {
    COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0)
}

/// Splits off the first whitespace-separated word.
pub(crate) fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

pub(crate) fn topic_arg<'a>(rest: &'a str, cmd: &str) -> Result<(String, &'a str), CommandError> {
    let (topic, rest) = split_word(rest);
    if topic.is_empty() {
        let example = match cmd {
            "join" => "join room:lobby",
            "wait" => "wait room:lobby new_msg",
            "cast" => "cast room:lobby new_msg {\"body\":\"hi\"}",
            // An event that replies: `new_msg` usually does not.
            _ => "push room:lobby echo {\"body\":\"hi\"}",
        };
        return Err(CommandError::Missing {
            command: cmd.to_owned(),
            what: "a topic",
            hint: format!("`{example}`"),
        });
    }
    if topic.starts_with(['{', '<', '[']) || topic.contains('=') {
        return Err(CommandError::PayloadNotTopic {
            token: shorten(topic),
            command: cmd.to_owned(),
        });
    }
    Ok((topic.to_owned(), rest))
}

fn no_more(rest: &str, cmd: &str) -> Result<(), CommandError> {
    if rest.is_empty() {
        Ok(())
    } else {
        let usage = COMMANDS
            .iter()
            .find(|c| c.name == cmd)
            .map_or(cmd, |c| c.usage);
        Err(CommandError::Unexpected {
            token: shorten(rest),
            command: cmd.to_owned(),
            usage: usage.to_owned(),
        })
    }
}

fn payload_arg(text: &str, before: &str) -> Result<Payload, CommandError> {
    payload_form(text).map_err(|error| CommandError::Payload {
        error,
        before: before.to_owned(),
    })
}

/// A join's payload reaches the channel's `join/3` as a map: binary cannot.
fn json_only(payload: Payload, cmd: &'static str) -> Result<Payload, CommandError> {
    if payload.is_binary() {
        return Err(CommandError::BinaryNotAllowed(cmd));
    }
    Ok(payload)
}

/// A payload to match against (any payload form), parsed into a value.
pub(crate) fn json_arg(text: &str, before: &str) -> Result<serde_json::Value, CommandError> {
    let payload = payload_arg(text, before)?;
    serde_json::from_str(&payload.to_json()).map_err(|e| CommandError::NotMatchable {
        error: e.to_string(),
        before: before.to_owned(),
    })
}

/// `250ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, CommandError> {
    let bad = || CommandError::NotADuration(shorten(s));
    let (num, unit_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (s, 1000.0)
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 || n * unit_ms > 1e12 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(n * unit_ms / 1000.0))
}

/// The closest command name, if it is close enough to be a likely typo.
fn suggest(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    let names = COMMANDS.iter().map(|c| c.name).chain(["send", "exit"]);
    names
        .map(|n| (edit_distance(&word, n), n))
        .filter(|&(d, n)| d <= 2 && d < n.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

/// The closest of `names` to `word`, if it is close enough to be a likely
/// typo (as for commands: at most 2 edits, fewer than the name's length).
pub fn closest<'n>(word: &str, names: &'n [String]) -> Option<&'n str> {
    names
        .iter()
        .map(|n| (edit_distance(word, n), n.as_str()))
        .filter(|&(d, n)| d <= 2 && d < n.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Keeps error messages to one readable line.
pub(crate) fn shorten(s: &str) -> String {
    excerpt(s, 40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::payload::*;

    fn cmd(line: &str) -> Command {
        parse_line(line).unwrap().unwrap()
    }

    fn error(line: &str) -> String {
        parse_line(line).unwrap_err().to_string()
    }

    fn payload_of(line: &str) -> String {
        match cmd(line) {
            Command::Request(Request::Join { payload, .. } | Request::Push { payload, .. }) => {
                payload.to_json().into_owned()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_over_the_limit_is_refused() {
        let line = format!(
            "push room:lobby big {{\"x\":\"{}\"}}",
            "a".repeat(MAX_LINE_BYTES)
        );
        assert_eq!(
            error(&line),
            "the line is longer than 1 MiB, the limit for one command; nothing was sent"
        );
        let fits = format!(
            "push room:lobby big {{\"x\":\"{}\"}}",
            "a".repeat(MAX_LINE_BYTES - 40)
        );
        assert!(parse_line(&fits).is_ok());
    }

    #[test]
    fn blank_lines_and_comments_are_skipped() {
        assert!(parse_line("").unwrap().is_none());
        assert!(parse_line("   ").unwrap().is_none());
        assert!(parse_line("# join room:lobby").unwrap().is_none());
    }

    #[test]
    fn join_defaults_to_an_empty_object() {
        match cmd("join room:lobby") {
            Command::Request(Request::Join { topic, payload }) => {
                assert_eq!(topic, "room:lobby");
                assert_eq!(payload.to_json(), "{}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_payload_is_kept_verbatim() {
        assert_eq!(
            payload_of(r#"join room:lobby {"user": "ana"}"#),
            r#"{"user": "ana"}"#
        );
        assert_eq!(payload_of("push t e [1, 2]"), "[1, 2]");
        assert_eq!(payload_of(r#"push t e "str""#), r#""str""#);
    }

    #[test]
    fn a_payload_over_several_lines_is_compacted_in_order_and_spelling() {
        assert_eq!(
            payload_of("push t e {\n\"z\": [1,\n2.50, 1e3],\n  \"a\": \"s p \\\" q\"}"),
            r#"{"z":[1,2.50,1e3],"a":"s p \" q"}"#
        );
        assert_eq!(compact("{ \"a\" :\t[ ] }"), r#"{"a":[]}"#);
    }

    #[test]
    fn shorthand_is_an_object() {
        assert_eq!(
            payload_of(r#"join miami:weather <"some":"param">"#),
            r#"{"some":"param"}"#
        );
        assert_eq!(payload_of("join t <>"), "{}");
    }

    #[test]
    fn pairs_build_an_object() {
        assert_eq!(
            payload_of("push room:lobby new_msg body=hi count:=3"),
            r#"{"body":"hi","count":3}"#
        );
        assert_eq!(
            payload_of(r#"push t e msg="two words" tags:=["a", "b"] ok:=true"#),
            r#"{"msg":"two words","tags":["a", "b"],"ok":true}"#
        );
        assert_eq!(payload_of(r#"push t e q=a"b"#), r#"{"q":"a\"b"}"#);
        assert_eq!(
            payload_of("push t e url=http://x/?a=1"),
            r#"{"url":"http://x/?a=1"}"#
        );
        assert_eq!(payload_of("push t e empty="), r#"{"empty":""}"#);
    }

    #[test]
    fn cast_is_a_push_that_does_not_wait() {
        match cmd("cast room:lobby new_msg body=hi") {
            Command::Request(Request::Push {
                topic,
                event,
                payload,
                cast,
            }) => {
                assert_eq!((topic.as_str(), event.as_str()), ("room:lobby", "new_msg"));
                assert_eq!(payload.to_json(), r#"{"body":"hi"}"#);
                assert!(cast);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cmd("push t e"),
            Command::Request(Request::Push { cast: false, .. })
        ));
        assert_eq!(
            error("cast room:lobby"),
            "`cast room:lobby` needs an event; try `cast room:lobby new_msg {\"body\":\"hi\"}`"
        );
        assert!(
            help(Some("cast"), None)
                .unwrap()
                .starts_with("cast TOPIC EVENT [PAYLOAD]\n")
        );
    }

    #[test]
    fn send_is_an_alias_for_push() {
        assert!(matches!(
            cmd("send t e"),
            Command::Request(Request::Push { .. })
        ));
    }

    #[test]
    fn leave_topic_is_optional() {
        assert!(matches!(
            cmd("leave"),
            Command::Request(Request::Leave { topic: None })
        ));
        assert!(
            matches!(cmd("leave room:x"), Command::Request(Request::Leave { topic: Some(t) }) if t == "room:x")
        );
    }

    #[test]
    fn raw_keeps_the_text_exactly() {
        match cmd("raw   [1, \"x\"] junk") {
            Command::Raw(t) => assert_eq!(t, "[1, \"x\"] junk"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wait_takes_an_optional_timeout() {
        match cmd("wait * shout 250ms") {
            Command::Wait(w) => {
                assert_eq!(
                    w.what,
                    crate::lang::watch::Watched::Message {
                        topic: "*".into(),
                        event: "shout".into()
                    }
                );
                assert_eq!(w.timeout, Some(Duration::from_millis(250)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(cmd("wait t e"), Command::Wait(w) if w.timeout.is_none()));
    }

    #[test]
    fn wait_takes_an_optional_payload_to_match() {
        match cmd(r#"wait room:a shout 2s {"body":"hi"}"#) {
            Command::Wait(w) => {
                assert_eq!(w.timeout, Some(Duration::from_secs(2)));
                assert_eq!(w.payload, Some(serde_json::json!({"body": "hi"})));
            }
            other => panic!("{other:?}"),
        }
        match cmd("wait room:a shout body=hi") {
            Command::Wait(w) => {
                assert_eq!(w.timeout, None);
                assert_eq!(w.payload, Some(serde_json::json!({"body": "hi"})));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expect_takes_a_status_and_an_optional_response() {
        assert!(matches!(
            cmd("expect ok"),
            Command::Expect {
                ok: true,
                response: None
            }
        ));
        match cmd(r#"expect error {"reason":"nope"}"#) {
            Command::Expect { ok, response } => {
                assert!(!ok);
                assert_eq!(response, Some(serde_json::json!({"reason": "nope"})));
            }
            other => panic!("{other:?}"),
        }
        assert!(error("expect").starts_with("`expect` needs a status"));
        assert!(error("expect fine").contains("`expect fine` is not a status"));
        assert!(error("expect ok {bad").contains("is not valid JSON"));
    }

    #[test]
    fn display_switches_and_mute() {
        assert!(matches!(cmd("display"), Command::Display(None)));
        assert!(matches!(
            cmd("display pretty on"),
            Command::Display(Some((Switch::Pretty, Some(true))))
        ));
        assert!(matches!(
            cmd("display raw"),
            Command::Display(Some((Switch::Raw, None)))
        ));
        assert!(error("display colour").contains("no display switch `colour`"));
        assert!(error("display raw maybe").contains("`maybe` is not on or off"));
        assert!(matches!(cmd("mute"), Command::Mute(None)));
        assert!(matches!(cmd("mute msg"), Command::Mute(Some(n)) if n == "msg"));
        assert!(matches!(cmd("unmute"), Command::Unmute(None)));
        assert!(matches!(cmd("record"), Command::Record(Record::Status)));
        assert!(matches!(cmd("record stop"), Command::Record(Record::Stop)));
        assert!(matches!(cmd("record s.phx"), Command::Record(Record::Start(f)) if f == "s.phx"));
    }

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert_eq!(d("2s"), Duration::from_secs(2));
        assert_eq!(d("1.5s"), Duration::from_millis(1500));
        assert_eq!(d("1m"), Duration::from_secs(60));
        assert_eq!(d("3"), Duration::from_secs(3));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn simple_commands() {
        assert!(matches!(
            cmd("heartbeat"),
            Command::Request(Request::Heartbeat { auto: false })
        ));
        assert!(matches!(cmd("topics"), Command::Topics));
        assert!(matches!(cmd("presence"), Command::Presence(None)));
        assert!(matches!(cmd("presence room:a"), Command::Presence(Some(t)) if t == "room:a"));
        assert!(error("presence a b").contains("the form is `presence [TOPIC]`"));
        assert!(matches!(cmd("status"), Command::Status));
        assert!(matches!(cmd("quit"), Command::Quit));
        assert!(matches!(cmd("exit"), Command::Quit));
        assert!(matches!(cmd("help"), Command::Help(None)));
        assert!(matches!(cmd("help push"), Command::Help(Some(c)) if c == "push"));
        assert!(matches!(cmd("sleep 1s"), Command::Sleep(_)));
    }

    #[test]
    fn unknown_commands_get_a_suggestion() {
        assert_eq!(
            error("jion room:lobby"),
            "unknown command `jion`; did you mean `join`?"
        );
        assert_eq!(
            error("psuh t e"),
            "unknown command `psuh`; did you mean `push`?"
        );
        assert_eq!(
            error("frobnicate"),
            "unknown command `frobnicate`; type `help` for the list of commands"
        );
    }

    #[test]
    fn missing_arguments_show_the_right_form() {
        assert_eq!(error("join"), "`join` needs a topic; try `join room:lobby`");
        assert_eq!(
            error("push room:lobby"),
            "`push room:lobby` needs an event; try `push room:lobby echo {\"body\":\"hi\"}`"
        );
        assert!(error("push").starts_with("`push` needs a topic"));
        assert_eq!(
            error("cast"),
            "`cast` needs a topic; try `cast room:lobby new_msg {\"body\":\"hi\"}`"
        );
        assert!(error("wait t").starts_with("`wait t` needs an event"));
        assert!(error("sleep").starts_with("`sleep` needs a duration"));
        assert!(error("raw").starts_with("`raw` needs the text"));
    }

    #[test]
    fn bad_payloads_name_the_token() {
        let e = error("push room:lobby new_msg {\"body\":");
        assert!(
            e.starts_with("payload `{\"body\":` is not valid JSON"),
            "{e}"
        );
        assert!(e.ends_with("(after `push room:lobby new_msg`)"), "{e}");
        assert!(error("join t <\"a\":1").contains("not closed with `>`"));
        assert!(error("join t <a>").contains("not a JSON object body"));
        assert!(error("push t e a=1 junk").contains("`junk` is not a key=value"));
        assert!(error("push t e n:=nope").contains("value of `n` is not JSON"));
        assert!(error("push t e a=1 a=2").contains("`a` is given twice"));
        assert!(error("push t e s=\"open").contains("value of `s` is not a JSON string"));
    }

    #[test]
    fn a_payload_in_the_topic_slot_is_caught() {
        assert!(error("join {\"a\":1}").contains("looks like a payload"));
    }

    #[test]
    fn extra_words_are_rejected() {
        assert_eq!(
            error("topics now"),
            "unexpected `now` after `topics`; the form is `topics`"
        );
        assert!(error("leave a b").contains("the form is `leave [TOPIC]`"));
    }

    #[test]
    fn help_lists_every_command_and_details_one() {
        let all = help(None, None).unwrap();
        for c in COMMANDS {
            assert!(all.contains(c.name), "{}", c.name);
        }
        assert!(
            help(Some("send"), None)
                .unwrap()
                .starts_with("push TOPIC EVENT")
        );
        // What the prompt does differently from a script is said.
        assert!(
            help(Some("expect"), None)
                .unwrap()
                .contains("at the prompt it first waits")
        );
        assert!(
            help(Some("record"), None)
                .unwrap()
                .contains("joins of the topics still joined")
        );
        assert_eq!(
            help(Some("jon"), None).unwrap_err().to_string(),
            "no command `jon`; did you mean `join`?"
        );
    }

    #[test]
    fn help_wraps_to_the_width_under_each_description() {
        for width in [50, 80] {
            for line in help(None, Some(width)).unwrap().lines() {
                assert!(line.chars().count() <= width, "{line:?}");
            }
        }
        let all = help(None, Some(80)).unwrap();
        let column = usage_width() + 3;
        // A description's later lines start under its first character.
        let lines: Vec<&str> = all.lines().collect();
        let push = lines.iter().position(|l| l.starts_with("  push")).unwrap();
        assert!(lines[push + 1].starts_with(&" ".repeat(column)), "{all}");
        // Without a width nothing wraps.
        assert_eq!(
            help(None, None).unwrap().lines().count(),
            COMMANDS.len() + 2
        );
    }

    #[test]
    fn long_tokens_are_shortened_in_errors() {
        let e = error(&format!("x{}", "y".repeat(100)));
        assert!(e.contains('…') && e.len() < 120, "{e}");
    }

    fn binary_of(line: &str) -> Vec<u8> {
        match cmd(line) {
            Command::Request(Request::Push {
                payload: Payload::Binary(b),
                ..
            }) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hex_and_base64_payloads_are_binary() {
        assert_eq!(binary_of("push t e hex:DEADbeef"), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(binary_of("push t e hex:de ad"), [0xde, 0xad]);
        assert_eq!(
            binary_of("push t e base64:3q2+7w=="),
            [0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(binary_of("push t e hex:"), Vec::<u8>::new());
        assert!(error("push t e hex:abc").contains("is not hex"));
        assert!(error("push t e base64:@@@").contains("is not base64"));
        // `hex:=…` is a key:=JSON pair.
        assert_eq!(payload_of("push t e hex:=1"), r#"{"hex":1}"#);
    }

    #[test]
    fn join_payloads_must_be_json() {
        assert!(error("join t hex:00").contains("must be JSON"));
    }

    #[test]
    fn file_payloads_read_json_or_bytes() {
        let dir = std::env::temp_dir().join(format!("phx-repl-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("p.json");
        std::fs::write(&json, "{\"a\": [1]}\n").unwrap();
        let bin = dir.join("p.bin");
        std::fs::write(&bin, [0u8, 159, 146, 150]).unwrap();
        assert_eq!(
            payload_of(&format!("push t e @{}", json.display())),
            r#"{"a": [1]}"#
        );
        assert_eq!(
            binary_of(&format!("push t e @@{}", bin.display())),
            [0, 159, 146, 150]
        );
        assert!(error(&format!("push t e @{}", bin.display())).contains("not UTF-8"));
        assert!(
            error("push t e @/nonexistent/x.json").contains("cannot read `/nonexistent/x.json`")
        );
        assert!(error("push t e @").contains("needs a file name"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod closest_tests {
    use super::closest;

    #[test]
    fn closest_takes_a_near_name_and_leaves_a_far_one() {
        let names = vec!["room:lobby".to_owned(), "room:other".to_owned()];
        assert_eq!(closest("room:lobyy", &names), Some("room:lobby"));
        assert_eq!(closest("chat:x", &names), None);
        assert_eq!(closest("room:x", &[]), None);
    }
}
