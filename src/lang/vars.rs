//! `${NAME}` substitution in input lines (pure: the lookup is passed in).
//!
//! So tokens stay out of script files, `${NAME}` is replaced by the value of
//! the environment variable NAME before a line is parsed. An unset variable
//! is an error that names it, `$${` stands for a literal `${`, and a `$` not
//! followed by `{` is left alone (payloads may contain dollar signs).

use crate::lang::error::VarError;

/// Replaces each `${NAME}` in `line` using `lookup`.
pub fn substitute(line: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, VarError> {
    if !line.contains("${") {
        return Ok(line.to_owned());
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(VarError::NotClosed);
            };
            let name = &tail[..end];
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(VarError::BadName(crate::output::excerpt(name, 40)));
            }
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => return Err(VarError::Unset(name.to_owned())),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `substitute` with the process environment.
pub fn substitute_env(line: &str) -> Result<String, VarError> {
    substitute(line, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(line: &str) -> Result<String, String> {
        substitute(line, |n| match n {
            "TOKEN" => Some("abc".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn variables_are_replaced() {
        assert_eq!(
            sub("join room:x token=${TOKEN}").unwrap(),
            "join room:x token=abc"
        );
        assert_eq!(sub("${TOKEN}${TOKEN}").unwrap(), "abcabc");
        assert_eq!(sub("a${EMPTY}b").unwrap(), "ab");
    }

    #[test]
    fn an_unset_variable_is_an_error_naming_it() {
        let e = sub("join room:x token=${NOPE}").unwrap_err();
        assert!(
            e.starts_with("environment variable `NOPE` is not set"),
            "{e}"
        );
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(sub("push t e s=$${TOKEN}").unwrap(), "push t e s=${TOKEN}");
    }

    #[test]
    fn other_dollars_are_left_alone() {
        assert_eq!(
            sub("push t e price=$5 x=$").unwrap(),
            "push t e price=$5 x=$"
        );
        assert_eq!(sub("$$ ${TOKEN}").unwrap(), "$$ abc");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(sub("x ${TOKEN").unwrap_err().contains("not closed"));
        assert!(sub("x ${1A}").unwrap_err().contains("not a variable name"));
        assert!(sub("x ${}").unwrap_err().contains("not a variable name"));
    }
}
