//! The grammar of the LiveView commands (pure): `live URL` opens a page,
//! `html`/`text` show it, `click`, `submit`, `change`, `key` and `hook`
//! send its events, and the page checks after `expect`, `wait` and
//! `refute` (`text [SELECTOR] "TEXT"`, `html SELECTOR`).
//!
//! Text arguments are JSON string literals; a selector is one token, or a
//! JSON string when it has spaces (`"ul#history li"`). What the page holds
//! and which client has one is the runner's business.

use crate::lang::command::{parse_duration, split_word};
use crate::lang::error::CommandError;

/// A LiveView command.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveCommand {
    /// `live URL|/PATH [FLAGS]`: fetch the page and join its LiveView.
    Open { url: String, flags: OpenFlags },
    /// `html [SELECTOR]`.
    Html(Option<String>),
    /// `text [SELECTOR]`.
    Text(Option<String>),
    /// `click`, `submit`, `change`, `key`, `hook`.
    Event(PageEvent),
}

/// The flags of `live URL` and `connect NAME live URL`, over the
/// session's own: what a page needs that the command line may not have
/// given (a login cookie, `--follow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// `-H 'NAME: VALUE'` (a `Cookie:` goes into the page's jar).
    pub headers: Vec<(String, String)>,
    /// `--follow`: follow a redirect away from the page.
    pub follow: bool,
    /// `--auth-token TOKEN`, for the page's socket.
    pub auth_token: Option<String>,
    /// `-p KEY=VALUE`: connect params for the page's `/live` socket.
    pub params: Vec<(String, String)>,
}

/// The usage of `live`'s flags, after `live URL` or `connect NAME live URL`.
pub const OPEN_FLAGS: &str = "[-H 'NAME: VALUE'] [-p KEY=VALUE] [--follow] [--auth-token TOKEN]";

/// `URL [FLAGS]` in any order, after `command` (`live`, `connect bob
/// live`): the page and its flags. `words` are shell words.
pub(crate) fn open_args(
    command: &str,
    words: Vec<String>,
) -> Result<(String, OpenFlags), CommandError> {
    let usage = format!("{command} URL {OPEN_FLAGS}");
    let mut url = None;
    let mut flags = OpenFlags::default();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let mut value = |what: &'static str, hint: String| {
            words.next().ok_or_else(|| CommandError::Missing {
                command: format!("{command} … {w}"),
                what,
                hint,
            })
        };
        match w.as_str() {
            "-H" | "--header" => {
                let v = value("a header", format!("`{command} /private -H 'Cookie: a=b'`"))?;
                flags.headers.push(crate::lang::clients::header(&v)?);
            }
            "--follow" => flags.follow = true,
            "--auth-token" => {
                flags.auth_token = Some(value(
                    "a token",
                    format!("`{command} /page --auth-token abc123`"),
                )?);
            }
            "-p" | "--param" => {
                let v = value("KEY=VALUE", format!("`{command} /page -p locale=fr`"))?;
                match v.split_once('=') {
                    Some((k, v)) if !k.is_empty() => {
                        flags.params.push((k.to_owned(), v.to_owned()));
                    }
                    _ => return Err(CommandError::NotAParam(crate::output::excerpt(&v, 40))),
                }
            }
            _ if url.is_none() && !w.starts_with('-') => url = Some(w),
            _ => {
                return Err(CommandError::Unexpected {
                    token: crate::output::excerpt(&w, 40),
                    command: command.to_owned(),
                    usage,
                });
            }
        }
    }
    let Some(url) = url else {
        return Err(CommandError::Missing {
            command: command.to_owned(),
            what: "a page URL or path",
            hint: format!("`{command} http://localhost:4000/counter` or `{command} /counter`"),
        });
    };
    Ok((url, flags))
}

/// Which kind of event a command sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Click,
    Submit,
    Change,
    KeyDown,
    KeyUp,
    Hook,
}

impl EventKind {
    /// The command word.
    pub fn word(self) -> &'static str {
        match self {
            EventKind::Click => "click",
            EventKind::Submit => "submit",
            EventKind::Change => "change",
            EventKind::KeyDown | EventKind::KeyUp => "key",
            EventKind::Hook => "hook",
        }
    }
}

/// An event to send to the page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEvent {
    pub kind: EventKind,
    pub event: String,
    /// `k=v` pairs (click, submit, change).
    pub values: Vec<(String, String)>,
    /// The key (`key`).
    pub key: Option<String>,
    /// The JSON value (`hook`).
    pub hook: Option<serde_json::Value>,
    /// `--target CID`: a component.
    pub target: Option<u64>,
}

/// A check on the page after `expect`, `wait` or `refute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageCheck {
    /// The page's text (or the selected elements' text) contains `text`.
    Text {
        selector: Option<String>,
        text: String,
    },
    /// An element matches `selector`.
    Html { selector: String },
}

impl PageCheck {
    /// How the check is written, for messages.
    pub fn describe(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        match self {
            PageCheck::Text {
                selector: Some(s),
                text,
            } => format!("text {} {}", selector_shown(s), q(text)),
            PageCheck::Text {
                selector: None,
                text,
            } => format!("text {}", q(text)),
            PageCheck::Html { selector } => format!("html {}", selector_shown(selector)),
        }
    }
}

/// A selector as typed: a JSON string when it has spaces.
fn selector_shown(s: &str) -> String {
    if s.contains(char::is_whitespace) || s.starts_with('"') {
        serde_json::Value::String(s.to_owned()).to_string()
    } else {
        s.to_owned()
    }
}

/// One argument: a JSON string literal, or a bare token. Returns the
/// text, whether it was quoted, and the rest.
fn arg(rest: &str) -> Result<Option<(String, bool, &str)>, CommandError> {
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.starts_with('"') {
        let mut it = serde_json::Deserializer::from_str(rest).into_iter::<String>();
        return match it.next() {
            Some(Ok(s)) => Ok(Some((s, true, rest[it.byte_offset()..].trim_start()))),
            _ => Err(CommandError::Live(format!(
                "`{}` is not a JSON string; close the quote, as in \"Count: 2\"",
                crate::output::excerpt(rest, 40)
            ))),
        };
    }
    let (w, after) = split_word(rest);
    Ok(Some((w.to_owned(), false, after)))
}

/// The commands of this file, after their word.
pub(crate) fn parse(word: &str, rest: &str) -> Result<LiveCommand, CommandError> {
    match word {
        "live" => {
            let (url, flags) = open_args("live", crate::lang::clients::shell_words(rest)?)?;
            Ok(LiveCommand::Open { url, flags })
        }
        "html" | "text" => {
            let selector = match arg(rest)? {
                None => None,
                Some((s, _, more)) => {
                    unexpected(more, word, &format!("{word} [SELECTOR]"))?;
                    Some(s)
                }
            };
            Ok(if word == "html" {
                LiveCommand::Html(selector)
            } else {
                LiveCommand::Text(selector)
            })
        }
        _ => event(word, rest).map(LiveCommand::Event),
    }
}

fn unexpected(rest: &str, command: &str, usage: &str) -> Result<(), CommandError> {
    if rest.trim().is_empty() {
        return Ok(());
    }
    Err(CommandError::Unexpected {
        token: crate::output::excerpt(split_word(rest).0, 40),
        command: command.to_owned(),
        usage: usage.to_owned(),
    })
}

/// The usage line of an event command.
fn usage(word: &str) -> &'static str {
    match word {
        "click" => "click EVENT [K=V…] [--target CID]",
        "submit" => "submit EVENT [K=V…] [--target CID]",
        "change" => "change EVENT [K=V…] [--target CID]",
        "key" => "key EVENT KEY [--up] [--target CID]",
        _ => "hook EVENT JSON [--target CID]",
    }
}

/// `click|submit|change|key|hook EVENT …`.
fn event(word: &str, rest: &str) -> Result<PageEvent, CommandError> {
    let (name, mut rest) = split_word(rest);
    if name.is_empty() {
        return Err(CommandError::Missing {
            command: word.to_owned(),
            what: "an event name",
            hint: format!("`{}`", example(word)),
        });
    }
    let mut e = PageEvent {
        kind: match word {
            "click" => EventKind::Click,
            "submit" => EventKind::Submit,
            "change" => EventKind::Change,
            "key" => EventKind::KeyDown,
            _ => EventKind::Hook,
        },
        event: name.to_owned(),
        values: Vec::new(),
        key: None,
        hook: None,
        target: None,
    };
    if word == "hook" {
        let (json, after) = split_json_then_flags(rest);
        if json.is_empty() {
            return Err(CommandError::Missing {
                command: format!("hook {name}"),
                what: "a JSON value",
                hint: format!("`hook {name} {{\"x\":1}}`"),
            });
        }
        e.hook = Some(serde_json::from_str(json).map_err(|err| {
            CommandError::Live(format!(
                "`{}` is not valid JSON ({err}); a hook's value is JSON, as in `hook {name} {{\"x\":1}}`",
                crate::output::excerpt(json, 40)
            ))
        })?);
        rest = after;
    }
    while let Some((token, quoted, after)) = arg(rest)? {
        rest = after;
        match token.as_str() {
            "--target" if !quoted => {
                let (cid, after) = split_word(rest);
                rest = after;
                if cid.is_empty() {
                    return Err(CommandError::Missing {
                        command: format!("{word} {name} --target"),
                        what: "a component id (a number)",
                        hint: format!("`{word} {name} --target 1`"),
                    });
                }
                e.target = Some(cid.parse().map_err(|_| {
                    CommandError::Live(format!(
                        "`--target` takes a component id (a number, as in `--target 1`), not `{}`",
                        crate::output::excerpt(cid, 40)
                    ))
                })?);
            }
            "--up" if !quoted && word == "key" => e.kind = EventKind::KeyUp,
            _ if word == "key" && e.key.is_none() => e.key = Some(token),
            _ if word != "key" && word != "hook" && !quoted => {
                let pair = pair(&token, rest)?;
                rest = pair.2;
                e.values.push((pair.0, pair.1));
            }
            _ => {
                return Err(CommandError::Unexpected {
                    token: crate::output::excerpt(&token, 40),
                    command: format!("{word} {name}"),
                    usage: usage(word).to_owned(),
                });
            }
        }
    }
    if word == "key" && e.key.is_none() {
        return Err(CommandError::Missing {
            command: format!("key {name}"),
            what: "a key",
            hint: format!("`key {name} Enter`"),
        });
    }
    Ok(e)
}

/// `KEY=VALUE`, where VALUE may be a JSON string with spaces
/// (`body="hi there"`): the token was cut at the first space, so a quoted
/// value is read again from `token` and `rest` together.
fn pair<'a>(token: &str, rest: &'a str) -> Result<(String, String, &'a str), CommandError> {
    let Some((k, v)) = token.split_once('=') else {
        return Err(CommandError::Live(format!(
            "`{}` is not KEY=VALUE; try `value=42` (a value with spaces as body=\"hi there\")",
            crate::output::excerpt(token, 40)
        )));
    };
    if k.is_empty() {
        return Err(CommandError::Live(format!(
            "`{}` has no key; try `value=42`",
            crate::output::excerpt(token, 40)
        )));
    }
    if !v.starts_with('"') {
        return Ok((k.to_owned(), v.to_owned(), rest));
    }
    let joined = if rest.is_empty() {
        v.to_owned()
    } else {
        format!("{v} {rest}")
    };
    let mut it = serde_json::Deserializer::from_str(&joined).into_iter::<String>();
    match it.next() {
        Some(Ok(s)) => {
            // How much of `rest` the string used: what follows it in
            // `joined` is a suffix of `rest`.
            let left = joined.len() - it.byte_offset();
            let rest = &rest[rest.len() - left.min(rest.len())..];
            Ok((k.to_owned(), s, rest.trim_start()))
        }
        _ => Err(CommandError::Live(format!(
            "the value of `{k}` is not a closed JSON string; try {k}=\"hi there\""
        ))),
    }
}

/// A JSON value at the start of `rest` (an object or array may hold
/// spaces), and what follows it.
fn split_json_then_flags(rest: &str) -> (&str, &str) {
    let rest = rest.trim_start();
    let mut it = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    match it.next() {
        Some(Ok(_)) => {
            let end = it.byte_offset();
            (&rest[..end], &rest[end..])
        }
        _ => split_word(rest),
    }
}

fn example(word: &str) -> &'static str {
    match word {
        "click" => "click inc",
        "submit" => "submit set value=42",
        "change" => "change validate email=a@b.c",
        "key" => "key keydown Enter",
        _ => "hook pinged {\"at\":1}",
    }
}

/// `text [SELECTOR] "TEXT"` or `html SELECTOR` after `expect`, `wait` or
/// `refute` (`word`), with what follows (a duration, for `wait` and
/// `refute`).
pub(crate) fn check<'a>(
    word: &str,
    kind: &str,
    rest: &'a str,
) -> Result<(PageCheck, &'a str), CommandError> {
    let first = arg(rest)?;
    if kind == "html" {
        let Some((selector, _, after)) = first else {
            return Err(CommandError::Missing {
                command: format!("{word} html"),
                what: "a CSS selector",
                hint: format!("`{word} html \"ul#history li\"`"),
            });
        };
        return Ok((PageCheck::Html { selector }, after));
    }
    let hint = || format!("`{word} text \"Count: 2\"` or `{word} text h1 \"Count: 2\"`");
    let Some((a, a_quoted, after)) = first else {
        return Err(CommandError::Missing {
            command: format!("{word} text"),
            what: "the text to find, as a JSON string",
            hint: hint(),
        });
    };
    // `text "T"`, `text SEL "T"`, `text "SEL" "T"`.
    match arg(after)? {
        Some((b, true, more)) => Ok((
            PageCheck::Text {
                selector: Some(a),
                text: b,
            },
            more,
        )),
        _ if a_quoted => Ok((
            PageCheck::Text {
                selector: None,
                text: a,
            },
            after,
        )),
        // `text h1 Count`, unless the first word reads as text
        // (`Count: 2`): a selector neither ends in `:` nor is capitalised.
        Some((_, false, _)) if !a.ends_with(':') && !a.starts_with(char::is_uppercase) => {
            Err(unquoted(word, Some(&a), after))
        }
        _ => Err(unquoted(word, None, rest)),
    }
}

/// The error for a page text that is not quoted, with the line to type
/// instead: `expect text h1 Count` → `expect text h1 "Count"`.
fn unquoted(word: &str, selector: Option<&str>, text: &str) -> CommandError {
    let mut text = text.trim();
    // A `wait`'s or `refute`'s duration stays outside the quotes.
    let mut duration = "";
    if word != "expect"
        && let Some((head, last)) = text.rsplit_once(' ')
        && parse_duration(last).is_ok()
    {
        (text, duration) = (head.trim_end(), last);
    }
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    let mut example = format!("{word} text ");
    if let Some(sel) = selector {
        example.push_str(&selector_shown(sel));
        example.push(' ');
    }
    example.push_str(&quoted);
    if !duration.is_empty() {
        example.push(' ');
        example.push_str(duration);
    }
    let topic = if word == "expect" {
        String::new()
    } else {
        format!(" (a topic named `text`: `{word} --topic text EVENT`)")
    };
    CommandError::Live(format!(
        "the text to find is quoted; try `{}`{topic}",
        crate::output::excerpt(&example, 80)
    ))
}

/// A duration after a page check, if any, and what is left.
pub(crate) fn duration_after(
    rest: &str,
) -> Result<(Option<std::time::Duration>, &str), CommandError> {
    let (d, after) = split_word(rest);
    if d.is_empty() {
        return Ok((None, rest));
    }
    Ok((Some(parse_duration(d)?), after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(word: &str, rest: &str) -> PageEvent {
        match parse(word, rest).unwrap() {
            LiveCommand::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_take_pairs_keys_json_and_a_target() {
        let e = ev("submit", "set value=42 note=\"a b\" --target 3");
        assert_eq!(e.kind, EventKind::Submit);
        assert_eq!(
            e.values,
            vec![("value".into(), "42".into()), ("note".into(), "a b".into())]
        );
        assert_eq!(e.target, Some(3));
        let k = ev("key", "keydown Enter --up");
        assert_eq!(
            (k.kind, k.key.as_deref()),
            (EventKind::KeyUp, Some("Enter"))
        );
        let h = ev("hook", "ping {\"a\": [1, 2]} --target 1");
        assert_eq!(h.hook, Some(serde_json::json!({"a": [1, 2]})));
        assert_eq!(h.target, Some(1));
        assert!(parse("click", "").is_err());
        assert!(parse("key", "k").is_err());
        assert!(parse("click", "inc --target x").is_err());
        assert_eq!(
            parse("click", "bump --target").unwrap_err().to_string(),
            "`click bump --target` needs a component id (a number); try `click bump --target 1`"
        );
        assert!(parse("click", "inc oops").is_err());
        let bad = parse("hook", "ping notjson").unwrap_err().to_string();
        assert!(
            bad.starts_with("`notjson` is not valid JSON")
                && bad.ends_with("as in `hook ping {\"x\":1}`"),
            "{bad}"
        );
    }

    #[test]
    fn html_and_text_take_a_token_or_a_json_selector() {
        assert_eq!(parse("html", "").unwrap(), LiveCommand::Html(None));
        assert_eq!(
            parse("text", "\"ul#history li\"").unwrap(),
            LiveCommand::Text(Some("ul#history li".into()))
        );
        assert!(parse("text", "h1 p").is_err());
        assert!(parse("live", "").is_err());
    }

    #[test]
    fn live_takes_its_flags_in_any_order() {
        let want = OpenFlags {
            headers: vec![("Cookie".into(), "_k=ana".into())],
            follow: true,
            auth_token: None,
            params: Vec::new(),
        };
        for line in [
            "/private -H 'Cookie: _k=ana' --follow",
            "--follow /private -H \"Cookie: _k=ana\"",
            "-H 'Cookie: _k=ana' --follow /private",
        ] {
            assert_eq!(
                parse("live", line).unwrap(),
                LiveCommand::Open {
                    url: "/private".into(),
                    flags: want.clone()
                },
                "{line}"
            );
        }
        let err = |s: &str| parse("live", s).unwrap_err().to_string();
        assert!(
            err("/a /b").starts_with("unexpected `/b` after `live`"),
            "{}",
            err("/a /b")
        );
        assert_eq!(
            parse("live", "/a -p locale=fr").unwrap(),
            LiveCommand::Open {
                url: "/a".into(),
                flags: OpenFlags {
                    params: vec![("locale".into(), "fr".into())],
                    ..OpenFlags::default()
                }
            }
        );
        assert!(err("/a -p x").contains("x"));
        assert!(err("/a -H").contains("a header"));
        assert!(err("--follow").contains("needs a page URL"));
    }

    #[test]
    fn text_checks_take_an_optional_selector_then_a_json_string() {
        let (c, rest) = check("wait", "text", "\"Ticks: 2\" 5s").unwrap();
        assert_eq!(
            c,
            PageCheck::Text {
                selector: None,
                text: "Ticks: 2".into()
            }
        );
        assert_eq!(rest, "5s");
        let (c, _) = check("expect", "text", "h1 \"Count: 2\"").unwrap();
        assert_eq!(c.describe(), "text h1 \"Count: 2\"");
        let (c, _) = check("expect", "html", "\"ul li\"").unwrap();
        assert_eq!(c.describe(), "html \"ul li\"");
        let err = |w: &str, s: &str| check(w, "text", s).unwrap_err().to_string();
        assert_eq!(
            err("expect", "h1 Count"),
            "the text to find is quoted; try `expect text h1 \"Count\"`"
        );
        assert_eq!(
            err("expect", "Count: 2"),
            "the text to find is quoted; try `expect text \"Count: 2\"`"
        );
        assert_eq!(
            err("wait", "p Ticks: 2 5s"),
            "the text to find is quoted; try `wait text p \"Ticks: 2\" 5s` \
             (a topic named `text`: `wait --topic text EVENT`)"
        );
        assert!(check("expect", "text", "").is_err());
    }
}
