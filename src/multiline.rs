//! Commands over several lines: a JSON payload whose `{` or `[` is not
//! closed yet continues on the next line (pure).
//!
//! The prompt uses this to ask for more with a continuation prompt, and the
//! runner to join script lines and pasted text back into one command, so
//! pretty-printed JSON works in both. `raw` lines and comments never
//! continue (`raw` exists to send malformed frames), and a line that starts
//! with a command name is never taken as the continuation of another, so a
//! typo cannot swallow the rest of a script.

use crate::command::COMMANDS;

/// Whether `text` (one or more lines) is a command whose payload has an
/// unclosed `{` or `[` outside strings.
pub fn is_incomplete(text: &str) -> bool {
    let t = text.trim_start();
    if t.starts_with('#') {
        return false;
    }
    let first = t.split_whitespace().next().unwrap_or("");
    if first == "raw" {
        return false;
    }
    let mut depth: i64 = 0;
    let mut in_str = false;
    let mut escaped = false;
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
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// Whether `line` begins with a command name (so it starts a new command
/// rather than continuing a payload).
pub fn starts_command(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    COMMANDS.iter().any(|c| c.name == first) || matches!(first, "send" | "exit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_brace_or_bracket_continues() {
        assert!(is_incomplete("push room:lobby new_msg {"));
        assert!(is_incomplete("push t e {\n  \"a\": [1,"));
        assert!(is_incomplete("expect ok {\"a\":"));
        assert!(!is_incomplete("push t e {\n  \"a\": 1\n}"));
        assert!(!is_incomplete("push t e body=hi"));
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
