//! The grammar of the lines that watch what arrives (pure): `wait` (a
//! message must come), `refute` (it must not), each for a channel
//! message or for a GraphQL subscription's data (`wait gql NAME`), and
//! `let NAME = PATH`, which keeps a value from what came.
//!
//! After `wait`, `expect` and `refute`, the words `gql`, `text` and `html`
//! are keywords; a topic spelled like one is reached with `--topic`.

use std::time::Duration;

use crate::lang::command::{Command, json_arg, parse_duration, split_word, topic_arg};
use crate::lang::error::CommandError;
use crate::lang::path::Path;

/// How long `refute` watches when no duration is given.
pub const REFUTE_DEFAULT: Duration = Duration::from_secs(1);

/// Words that, after `wait`/`expect`/`refute`, are not topics.
pub const KEYWORDS: [&str; 3] = ["gql", "text", "html"];

/// What a `wait` or `refute` watches for.
#[derive(Debug, Clone, PartialEq)]
pub enum Watched {
    /// A channel message (`*` matches any topic or event).
    Message { topic: String, event: String },
    /// Data of a GraphQL subscription, by its short name (`s1`), its NAME
    /// (root field or operation name) or its full id.
    Gql(String),
    /// The current LiveView page: `text [SELECTOR] "TEXT"`, `html SELECTOR`.
    Page(crate::lang::live::PageCheck),
}

/// `wait …` or `refute …`: what, how long, and what the payload (or the
/// subscription field's value) must contain.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    pub what: Watched,
    pub timeout: Option<Duration>,
    pub payload: Option<serde_json::Value>,
}

/// `wait …` (`refute: false`) or `refute …`, after the command word.
pub(crate) fn watch(word: &str, rest: &str) -> Result<Watch, CommandError> {
    let (first, after) = split_word(rest);
    let what = match first {
        "gql" => {
            let (name, after) = split_word(after);
            if name.is_empty() {
                return Err(CommandError::Missing {
                    command: format!("{word} gql"),
                    what: "a subscription",
                    hint: format!(
                        "`{word} gql messageAdded 5s` (a NAME, or s1 from `subscribed s1 …`)"
                    ),
                });
            }
            return tail(word, Watched::Gql(name.to_owned()), after);
        }
        "text" | "html" => {
            let (check, after) = crate::lang::live::check(word, first, after)?;
            let (timeout, more) = crate::lang::live::duration_after(after)?;
            if !more.is_empty() {
                return Err(CommandError::Unexpected {
                    token: crate::output::excerpt(more, 40),
                    command: format!("{word} {}", check.describe()),
                    usage: format!("{word} {first} … [DURATION]"),
                });
            }
            return Ok(Watch {
                what: Watched::Page(check),
                timeout,
                payload: None,
            });
        }
        "--topic" => after,
        _ => rest,
    };
    let (topic, rest) = topic_arg(what, word)?;
    let (event, rest) = split_word(rest);
    if event.is_empty() {
        return Err(CommandError::Missing {
            command: format!("{word} {topic}"),
            what: "an event",
            hint: format!("`{word} {topic} new_msg 5s` (`*` for any)"),
        });
    }
    tail(
        word,
        Watched::Message {
            topic,
            event: event.to_owned(),
        },
        rest,
    )
}

/// The optional duration and JSON after what is watched.
fn tail(word: &str, what: Watched, rest: &str) -> Result<Watch, CommandError> {
    let (first, after) = split_word(rest);
    let (timeout, rest) = match parse_duration(first) {
        Ok(d) if !first.is_empty() => (Some(d), after),
        _ => (None, rest),
    };
    let payload = if rest.is_empty() {
        None
    } else {
        let before = match &what {
            Watched::Message { topic, event } => format!("{word} {topic} {event}"),
            Watched::Gql(name) => format!("{word} gql {name}"),
            Watched::Page(c) => format!("{word} {}", c.describe()),
        };
        Some(json_arg(rest, &before)?)
    };
    Ok(Watch {
        what,
        timeout,
        payload,
    })
}

/// `let NAME = PATH`.
pub(crate) fn let_command(rest: &str) -> Result<Command, CommandError> {
    let usage = "`let id = .data.addMessage.id` (the path starts at the last reply's response, or at the payload a `wait` matched)";
    let (name, rest) = match rest.split_once('=') {
        Some((n, r)) => (n.trim(), r.trim()),
        None => {
            return Err(CommandError::Missing {
                command: "let".to_owned(),
                what: "NAME = PATH",
                hint: usage.to_owned(),
            });
        }
    };
    let well_formed = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err(CommandError::BadLetName(crate::output::excerpt(name, 40)));
    }
    if rest.is_empty() {
        return Err(CommandError::Missing {
            command: format!("let {name} ="),
            what: "a path",
            hint: usage.to_owned(),
        });
    }
    let path = Path::parse(rest).map_err(|e| CommandError::BadPath(e.to_string()))?;
    Ok(Command::Let {
        name: name.to_owned(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(word: &str, rest: &str) -> Watch {
        watch(word, rest).unwrap()
    }

    #[test]
    fn a_message_watch_takes_topic_event_duration_and_json() {
        let w = ok("refute", "room:1 new_msg 2s {\"a\":1}");
        assert_eq!(
            w.what,
            Watched::Message {
                topic: "room:1".into(),
                event: "new_msg".into()
            }
        );
        assert_eq!(w.timeout, Some(Duration::from_secs(2)));
        assert_eq!(w.payload, Some(serde_json::json!({"a": 1})));
        assert_eq!(ok("wait", "room:1 *").timeout, None);
    }

    #[test]
    fn gql_is_a_keyword_and_topic_reaches_a_topic_spelled_like_one() {
        let w = ok("wait", "gql messageAdded 3s {\"body\":\"hi\"}");
        assert_eq!(w.what, Watched::Gql("messageAdded".into()));
        assert_eq!(w.timeout, Some(Duration::from_secs(3)));
        let t = ok("wait", "--topic gql ev");
        assert_eq!(
            t.what,
            Watched::Message {
                topic: "gql".into(),
                event: "ev".into()
            }
        );
        let w = ok("wait", "text \"Ticks: 2\" 5s");
        assert_eq!(w.timeout, Some(Duration::from_secs(5)));
        assert!(matches!(w.what, Watched::Page(_)));
        assert!(watch("wait", "text x").is_err());
        assert!(watch("refute", "html li 1s extra").is_err());
        assert!(watch("refute", "gql").is_err());
    }

    #[test]
    fn let_takes_a_name_and_a_path() {
        match let_command("id = .data.addMessage.id").unwrap() {
            Command::Let { name, path } => {
                assert_eq!(name, "id");
                assert_eq!(path.to_string(), ".data.addMessage.id");
            }
            other => panic!("{other:?}"),
        }
        assert!(let_command("id .x").is_err());
        assert!(let_command("1x = .x").is_err());
        assert!(let_command("id = x").is_err());
        assert!(let_command("id =").is_err());
    }
}
