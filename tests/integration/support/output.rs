//! What a finished client did ([`Output`]) and how tests compare it:
//! normalising latencies and ports, exact transcripts with a line-by-line
//! diff on failure, and [`dedent`] for transcripts written indented in the
//! code. Running the client is left to `client`.

use std::fmt::Write as _;
use std::time::Duration;

/// What a finished client did.
#[derive(Debug, Clone)]
pub struct Output {
    pub command: String,
    pub stdin: String,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// Everything about the run, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nscript:\n{}\nexit code: {:?} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}--- end ---",
            self.command,
            indent(&self.stdin),
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }

    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "wrong exit code\n{}", self.report());
        self
    }

    pub fn assert_success(&self) -> &Output {
        self.assert_code(0)
    }

    /// Compares normalised stdout with `expected` exactly.
    pub fn assert_stdout(&self, expected: &str) -> &Output {
        assert_text("stdout", expected, &normalize(&self.stdout), self);
        self
    }

    /// Compares normalised stderr with `expected` exactly.
    pub fn assert_stderr(&self, expected: &str) -> &Output {
        assert_text("stderr", expected, &normalize(&self.stderr), self);
        self
    }

    /// Looks for `needle` in normalised stdout.
    pub fn assert_stdout_contains(&self, needle: &str) -> &Output {
        self.assert_has("stdout", &self.stdout, needle, true)
    }

    /// Checks that normalised stdout lacks `needle`.
    pub fn assert_stdout_lacks(&self, needle: &str) -> &Output {
        self.assert_has("stdout", &self.stdout, needle, false)
    }

    /// Looks for `needle` in normalised stderr.
    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        self.assert_has("stderr", &self.stderr, needle, true)
    }

    /// Checks that normalised stderr lacks `needle`.
    pub fn assert_stderr_lacks(&self, needle: &str) -> &Output {
        self.assert_has("stderr", &self.stderr, needle, false)
    }

    fn assert_has(&self, name: &str, text: &str, needle: &str, want: bool) -> &Output {
        let has = normalize(text).contains(needle);
        let verb = if want { "lacks" } else { "has" };
        assert!(has == want, "{name} {verb} {needle:?}\n{}", self.report());
        self
    }

    /// Parses every stdout line as JSON, failing on the first that is not.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "stdout line {} is not JSON ({e}): {line:?}\n{}",
                        i + 1,
                        self.report()
                    )
                })
            })
            .collect()
    }
}

fn indent(s: &str) -> String {
    s.lines().fold(String::new(), |mut out, l| {
        // Scripts with megabyte payloads would bury the failure.
        match l.char_indices().nth(300) {
            Some((cut, _)) => {
                let _ = writeln!(out, "    {}… ({} bytes)", &l[..cut], l.len());
            }
            None => {
                let _ = writeln!(out, "    {l}");
            }
        }
        out
    })
}

/// Fails with expected vs got, marking the first line that differs.
fn assert_text(stream: &str, expected: &str, got: &str, output: &Output) {
    if expected == got {
        return;
    }
    let exp: Vec<&str> = expected.split('\n').collect();
    let act: Vec<&str> = got.split('\n').collect();
    let first = exp
        .iter()
        .zip(&act)
        .position(|(a, b)| a != b)
        .unwrap_or(exp.len().min(act.len()));
    let mut diff = String::new();
    for i in 0..exp.len().max(act.len()) {
        let e = exp.get(i).copied();
        let a = act.get(i).copied();
        let mark = if e == a { ' ' } else { '!' };
        let _ = writeln!(
            diff,
            "{mark} {:>3} expected: {:?}",
            i + 1,
            e.unwrap_or("<none>")
        );
        if e != a {
            let _ = writeln!(
                diff,
                "{mark} {:>3}      got: {:?}",
                i + 1,
                a.unwrap_or("<none>")
            );
        }
    }
    panic!(
        "{stream} differs (normalised), first at line {}:\n{diff}\n--- expected ---\n{expected}--- got ---\n{got}--- full run ---\n{}",
        first + 1,
        output.report()
    );
}

/// Makes output comparable: latencies in `(ref N, 0.3 ms)` become
/// `(ref N, _)` and any `127.0.0.1:PORT` loses its port number.
pub fn normalize(s: &str) -> String {
    normalize_ports(&normalize_latencies(s))
}

fn normalize_latencies(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("(ref ") {
        out.push_str(&rest[..i]);
        let group = &rest[i..];
        let Some(close) = group.find(')') else {
            out.push_str(group);
            return out;
        };
        let inner = &group[..close];
        match inner.split_once(", ") {
            Some((head, latency)) if is_latency(latency) => {
                out.push_str(head);
                out.push_str(", _)");
            }
            _ => out.push_str(&group[..=close]),
        }
        rest = &group[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `43 µs`, `0.3 ms`, `12 ms`, `1.25 s`.
fn is_latency(s: &str) -> bool {
    match s.rsplit_once(' ') {
        Some((num, "µs" | "ms" | "s")) => num.parse::<f64>().is_ok(),
        _ => false,
    }
}

fn normalize_ports(s: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(HOST) {
        out.push_str(&rest[..i + HOST.len()]);
        let after = &rest[i + HOST.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Removes the common leading indentation of the non-blank lines and the
/// first line break, so expected transcripts can sit indented in the code.
pub fn dedent(s: &str) -> String {
    let s = s.strip_prefix('\n').unwrap_or(s);
    let margin = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str(line[margin..].trim_end_matches(' '));
            out.push('\n');
        }
    }
    // A closing line of only spaces (the quote's indentation) adds nothing.
    if s.ends_with(' ') && out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_and_ports_are_normalised() {
        assert_eq!(
            normalize(
                "← t reply ok to e (ref 2, 0.3 ms) {}\n(ref 10, 12 ms) (ref 3, 1.25 s) (ref 4) (ref 5, 43 µs)"
            ),
            "← t reply ok to e (ref 2, _) {}\n(ref 10, _) (ref 3, _) (ref 4) (ref 5, _)"
        );
        assert_eq!(
            normalize("ws://127.0.0.1:4567/socket 127.0.0.1:x"),
            "ws://127.0.0.1:PORT/socket 127.0.0.1:x"
        );
    }

    #[test]
    fn dedent_keeps_relative_indentation() {
        assert_eq!(dedent("\n    a\n      b\n    "), "a\n  b\n");
    }
}
