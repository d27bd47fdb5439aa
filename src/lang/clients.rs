//! The grammar of several clients in one session (pure): the `@NAME`
//! prefix that runs one line as another client, and the commands that
//! open, choose, list and close clients (`connect`, `use`, `clients`,
//! `disconnect`).
//!
//! Which clients exist is the runner's business; this file only checks
//! that a name is well formed and that the arguments parse.

use crate::lang::command::{Command, split_word};
use crate::lang::error::CommandError;

/// The longest client name, so prefixes stay short.
const MAX_NAME: usize = 24;

/// `connect NAME [URL] [-p KEY=VALUE …] [-H 'NAME: VALUE' …] [--auth-token TOKEN]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect {
    pub name: String,
    /// `None`: the first client's URL.
    pub url: Option<String>,
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub auth_token: Option<String>,
    /// `connect NAME live URL`: a LiveView client on the page at `url`.
    pub live: bool,
    /// `connect NAME live URL --follow`.
    pub follow: bool,
}

/// Splits `@bob join room:1` into `bob` and the line it runs; a line
/// without `@` has no client.
pub fn split_client(line: &str) -> Result<(Option<&str>, &str), CommandError> {
    let trimmed = line.trim_start();
    let Some(after) = trimmed.strip_prefix('@') else {
        return Ok((None, line));
    };
    let (name, rest) = split_word(after);
    check_name(name, "@")?;
    if rest.is_empty() {
        return Err(CommandError::Missing {
            command: format!("@{name}"),
            what: "a command to run as that client",
            hint: format!("`@{name} join room:lobby`"),
        });
    }
    Ok((Some(name), rest))
}

/// A client name: a letter, then letters, digits, `_` or `-`.
fn check_name(name: &str, command: &str) -> Result<(), CommandError> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= MAX_NAME;
    if name.is_empty() {
        return Err(CommandError::Missing {
            command: command.to_owned(),
            what: "a client name",
            hint: match command {
                "@" => "`@bob join room:lobby`".to_owned(),
                c => format!("`{c} bob`"),
            },
        });
    }
    if !well_formed {
        return Err(CommandError::BadClientName {
            name: crate::output::excerpt(name, 40),
            max: MAX_NAME,
        });
    }
    Ok(())
}

/// `connect`, `use`, `clients` and `disconnect`, after the command word.
pub(crate) fn parse(word: &str, rest: &str) -> Result<Command, CommandError> {
    match word {
        "connect" => connect(rest).map(Command::Connect),
        "clients" => {
            no_more(rest, "clients")?;
            Ok(Command::Clients)
        }
        _ => {
            let (name, more) = split_word(rest);
            check_name(name, word)?;
            no_more(more, word)?;
            Ok(if word == "use" {
                Command::Use(name.to_owned())
            } else {
                Command::Disconnect(name.to_owned())
            })
        }
    }
}

fn no_more(rest: &str, command: &str) -> Result<(), CommandError> {
    if rest.is_empty() {
        return Ok(());
    }
    let usage = match command {
        "clients" => "clients",
        "use" => "use NAME",
        _ => "disconnect NAME",
    };
    Err(CommandError::Unexpected {
        token: crate::output::excerpt(split_word(rest).0, 40),
        command: command.to_owned(),
        usage: usage.to_owned(),
    })
}

const CONNECT_USAGE: &str = "connect NAME [URL] [-p KEY=VALUE] [-H 'NAME: VALUE'] [--auth-token TOKEN], or connect NAME live URL [-H 'NAME: VALUE'] [-p KEY=VALUE] [--follow]";

/// `-H`'s value, `NAME: VALUE`.
pub(crate) fn header(v: &str) -> Result<(String, String), CommandError> {
    match v.split_once(':') {
        Some((n, v)) if !n.trim().is_empty() && !n.trim().contains(' ') => {
            Ok((n.trim().to_owned(), v.trim().to_owned()))
        }
        _ => Err(CommandError::NotAHeader(crate::output::excerpt(v, 40))),
    }
}

fn connect(rest: &str) -> Result<Connect, CommandError> {
    let words = shell_words(rest)?;
    let mut words = words.into_iter();
    let name = words.next().unwrap_or_default();
    check_name(&name, "connect")?;
    let mut c = Connect {
        name,
        ..Connect::default()
    };
    let mut words = words.peekable();
    if words.peek().map(String::as_str) == Some("live") {
        words.next();
        let command = format!("connect {} live", c.name);
        let rest: Vec<String> = words.collect();
        if rest.is_empty() {
            return Err(CommandError::Missing {
                command,
                what: "a page URL or path",
                hint: format!("`connect {} live /chat?user={}`", c.name, c.name),
            });
        }
        let (url, flags) = crate::lang::live::open_args(&command, rest)?;
        c.live = true;
        c.url = Some(url);
        c.headers = flags.headers;
        c.follow = flags.follow;
        c.auth_token = flags.auth_token;
        c.params = flags.params;
        return Ok(c);
    }
    while let Some(w) = words.next() {
        let flag = w.as_str();
        if !flag.starts_with('-') && c.url.is_none() && c.params.is_empty() {
            c.url = Some(w);
            continue;
        }
        let mut value = |what: &'static str, hint: &str| {
            words.next().ok_or_else(|| CommandError::Missing {
                command: format!("connect … {flag}"),
                what,
                hint: hint.to_owned(),
            })
        };
        match flag {
            "-p" | "--param" => {
                let v = value("KEY=VALUE", "`connect bob -p user=bob`")?;
                match v.split_once('=') {
                    Some((k, v)) if !k.is_empty() => c.params.push((k.to_owned(), v.to_owned())),
                    _ => return Err(CommandError::NotAParam(crate::output::excerpt(&v, 40))),
                }
            }
            "-H" | "--header" => {
                let v = value("a header", "`connect bob -H 'Cookie: a=b'`")?;
                c.headers.push(header(&v)?);
            }
            "--auth-token" => {
                c.auth_token = Some(value("a token", "`connect bob --auth-token abc123`")?);
            }
            _ => {
                return Err(CommandError::Unexpected {
                    token: crate::output::excerpt(flag, 40),
                    command: "connect".to_owned(),
                    usage: CONNECT_USAGE.to_owned(),
                });
            }
        }
    }
    Ok(c)
}

/// Splits on whitespace, with '…' and "…" quoting (no escapes inside
/// single quotes, `\"` and `\\` inside double quotes).
pub(crate) fn shell_words(s: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && d == '\\' {
                        if let Some(e) = chars.next() {
                            w.push(e);
                        }
                        continue;
                    }
                    w.push(d);
                }
                if !closed {
                    return Err(CommandError::QuoteNotClosed(c));
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_at_prefix_names_the_client_and_keeps_the_rest() {
        assert_eq!(
            split_client("@bob join room:1").unwrap(),
            (Some("bob"), "join room:1")
        );
        assert_eq!(split_client("join room:1").unwrap(), (None, "join room:1"));
        assert!(
            split_client("@bob")
                .unwrap_err()
                .to_string()
                .contains("`@bob join room:lobby`")
        );
        assert!(split_client("@1x join a").is_err());
    }

    #[test]
    fn connect_takes_a_name_a_url_and_flags() {
        let c = connect("bob ws://h:4000/socket -p user=bob -H 'X-A: b c' --auth-token t").unwrap();
        assert_eq!(c.name, "bob");
        assert_eq!(c.url.as_deref(), Some("ws://h:4000/socket"));
        assert_eq!(c.params, [("user".to_owned(), "bob".to_owned())]);
        assert_eq!(c.headers, [("X-A".to_owned(), "b c".to_owned())]);
        assert_eq!(c.auth_token.as_deref(), Some("t"));
        let bare = connect("alice -p user=alice").unwrap();
        assert_eq!(bare.url, None);
    }

    #[test]
    fn connect_live_takes_the_page_flags() {
        let c = connect("ana live /private -H 'Cookie: _k=ana' --follow").unwrap();
        assert!(c.live && c.follow);
        assert_eq!(c.url.as_deref(), Some("/private"));
        assert_eq!(c.headers, [("Cookie".to_owned(), "_k=ana".to_owned())]);
        let c = connect("ana live --auth-token t /p").unwrap();
        assert_eq!(
            (c.url.as_deref(), c.auth_token.as_deref()),
            (Some("/p"), Some("t"))
        );
        let e = connect("ana live /p --bogus").unwrap_err().to_string();
        assert!(e.contains("after `connect ana live`"), "{e}");
        assert!(connect("ana live").is_err());
    }

    #[test]
    fn connect_mistakes_say_the_form() {
        let err = |s: &str| connect(s).unwrap_err().to_string();
        assert!(err("").contains("needs a client name"));
        assert!(err("bob -p").contains("KEY=VALUE"));
        assert!(err("bob -p novalue").contains("KEY=VALUE"));
        assert!(err("bob --bogus").contains("the form is `connect NAME"));
        assert!(err("bob -H 'X: y").contains("not closed"));
        assert!(err("b@d").contains("not a client name"));
    }

    #[test]
    fn use_and_disconnect_take_one_name() {
        assert!(matches!(parse("use", "bob"), Ok(Command::Use(n)) if n == "bob"));
        assert!(matches!(parse("disconnect", "bob"), Ok(Command::Disconnect(n)) if n == "bob"));
        assert!(parse("use", "").is_err());
        assert!(parse("use", "a b").is_err());
        assert!(matches!(parse("clients", ""), Ok(Command::Clients)));
    }
}
