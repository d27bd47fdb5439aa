//! Commands over several lines: a JSON payload whose `{` or `[` is not
//! closed yet continues on the next line (pure).
//!
//! The prompt uses this to ask for more with a continuation prompt, and the
//! runner to join script lines and pasted text back into one command, so
//! pretty-printed JSON works in both. `raw` lines and comments never
//! continue (`raw` exists to send malformed frames), and a line that starts
//! with a command name is never taken as the continuation of another, so a
//! typo cannot swallow the rest of a script.

use crate::lang::command::COMMANDS;

/// Whether `text` (one or more lines) is a command whose payload has an
/// unclosed `{` or `[` outside strings. Counting starts at the first `{` or
/// `[` that opens JSON: one that starts a word, or a `key:=` value; a
/// brace inside a word (`body={`, `body=:-[`, a topic) is text. A closing
/// bracket that does not match the open one (`{"a":[1}`) can never be
/// completed, so the command is complete as it is and its parse error, with
/// the position, comes at once.
pub fn is_incomplete(text: &str) -> bool {
    let t = without_client(text.trim_start());
    if t.starts_with('#') {
        return false;
    }
    let first = t.split_whitespace().next().unwrap_or("");
    if first == "raw" {
        return false;
    }
    if first == "gql" {
        // A GraphQL document's brackets, then its variables' JSON.
        return crate::lang::gql::is_incomplete(t);
    }
    // The closing bracket each open one expects, innermost last.
    let mut open: Vec<char> = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    let mut counting = false;
    // The two characters before `c`, outside strings.
    let (mut p1, mut p2) = (' ', ' ');
    for c in t.chars() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                '\n' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' if counting || p1.is_whitespace() || (p2, p1) == (':', '=') => {
                counting = true;
                open.push(if c == '{' { '}' } else { ']' });
            }
            // The guard pops the open bracket; a mismatch can never close.
            '}' | ']' if counting && open.pop() != Some(c) => return false,
            _ => {}
        }
        (p2, p1) = (p1, c);
    }
    !open.is_empty()
}

/// Whether `line` begins with a command name (so it starts a new command
/// rather than continuing a payload).
pub fn starts_command(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with('@') && line.len() > 1 {
        // `@NAME COMMAND`.
        return true;
    }
    let first = line.split_whitespace().next().unwrap_or("");
    COMMANDS.iter().any(|c| c.name == first) || matches!(first, "send" | "exit")
}

/// `text` without an `@NAME ` prefix.
fn without_client(text: &str) -> &str {
    match text.strip_prefix('@') {
        Some(rest) => rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r.trim_start()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gql_line_continues_by_graphql_rules_and_a_client_prefix_is_skipped() {
        assert!(is_incomplete(
            "gql subscription { messageAdded(room: \"x\") {"
        ));
        assert!(is_incomplete("@bob gql { hello"));
        assert!(!is_incomplete("gql { hello }"));
        assert!(is_incomplete("@bob push t e {"));
        assert!(starts_command("@bob join t"));
    }

    #[test]
    fn an_open_brace_or_bracket_continues() {
        assert!(is_incomplete("push room:lobby new_msg {"));
        assert!(is_incomplete("push t e {\n  \"a\": [1,"));
        assert!(is_incomplete("expect ok {\"a\":"));
        assert!(!is_incomplete("push t e {\n  \"a\": 1\n}"));
        assert!(!is_incomplete("push t e body=hi"));
    }

    #[test]
    fn a_mismatched_closing_bracket_ends_the_command() {
        assert!(!is_incomplete("push t e {\"a\":[1}"));
        assert!(!is_incomplete("push t e {\n  \"a\": [1,\n}"));
        assert!(!is_incomplete("push t e ]"));
        assert!(is_incomplete("push t e {\"a\":[1]"));
    }

    #[test]
    fn braces_inside_words_are_text() {
        assert!(!is_incomplete("push t e body={"));
        assert!(!is_incomplete("push t e body=:-["));
        assert!(!is_incomplete("join room:{x"));
        assert!(is_incomplete("push t e n:={\"a\":"));
        assert!(is_incomplete("push t e body=x n:=[1,"));
        assert!(is_incomplete("join t <\"a\": {"));
        assert!(is_incomplete("wait t e 2s {"));
        // Once JSON has started, every brace counts.
        assert!(is_incomplete("push t e {\"a\":{\"b\":[1,{}"));
        assert!(!is_incomplete("push t e {\"a\":[{}]}"));
    }

    #[test]
    fn braces_inside_strings_do_not_count() {
        assert!(!is_incomplete(r#"push t e {"a":"{["}"#));
        assert!(!is_incomplete(r#"push t e {"a":"\"{"}"#));
    }

    #[test]
    fn raw_lines_and_comments_never_continue() {
        assert!(!is_incomplete("raw [1,2"));
        assert!(!is_incomplete("# push t e {"));
    }

    #[test]
    fn command_names_start_new_commands() {
        assert!(starts_command("push t e"));
        assert!(starts_command("  join x"));
        assert!(!starts_command("  \"body\": \"hi\""));
        assert!(!starts_command("}"));
    }
}
