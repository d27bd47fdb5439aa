//! Which script files `phx-repl test` runs: each argument is a file, a
//! directory (its `*.phx` files, not its subdirectories: a folder of
//! fixtures or helpers beside the tests stays out), or a glob whose file
//! name holds `*` or `?`. The whole list is sorted by path and each file
//! appears once.
//!
//! The glob matcher is a small one of our own, on file names only (the
//! directory part is taken as written), which is all a test folder needs.

use std::path::{Path, PathBuf};

use super::Error;

/// The files the arguments name, sorted, each once.
pub fn collect(args: &[String]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.contains(['*', '?']) {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let found = matching(dir, |n| glob_match(name, n))?;
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "`{arg}` matches no file; check the pattern, or name the files or their directory"
                )));
            }
            files.extend(found);
        } else if path.is_dir() {
            let found = matching(path, |n| n.ends_with(".phx"))?;
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "the directory `{arg}` holds no `*.phx` script; name the files, or a glob such as `{arg}/*.txt`"
                )));
            }
            files.extend(found);
        } else if path.exists() {
            files.push(path.to_owned());
        } else {
            return Err(Error::Usage(format!(
                "`{arg}` does not exist; give a script file, a directory of `*.phx` files, or a glob"
            )));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The files (not directories) in `dir` whose names `keep` accepts.
fn matching(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::Usage(format!(
            "cannot read the directory `{}`: {e}",
            dir.display()
        ))
    })?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name_ok = entry.file_name().to_str().is_some_and(&keep);
        if name_ok && path.is_file() {
            // `./x.phx` reads better as `x.phx`.
            found.push(path.strip_prefix(".").map(Path::to_owned).unwrap_or(path));
        }
    }
    Ok(found)
}

/// Whether `name` matches `pattern`, where `*` is any run of characters
/// and `?` any one.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // The classic backtracking walk: on a mismatch, let the last `*`
    // take one more character.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names() {
        assert!(glob_match("*.phx", "join.phx"));
        assert!(glob_match("*.phx", ".phx"));
        assert!(!glob_match("*.phx", "join.phx.bak"));
        assert!(glob_match("smoke-?.phx", "smoke-1.phx"));
        assert!(!glob_match("smoke-?.phx", "smoke-12.phx"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b", "xxaxxbxxc"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn directories_give_their_scripts_sorted_and_globs_their_matches() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.phx", "a.phx", "notes.txt", "c.phx.bak"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.phx")).unwrap();
        let d = dir.path().display().to_string();
        let names = |files: Vec<PathBuf>| -> Vec<String> {
            files
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(collect(std::slice::from_ref(&d)).unwrap()),
            ["a.phx", "b.phx"]
        );
        let glob = format!("{d}/*.txt");
        let both = collect(&[glob, format!("{d}/a.phx"), d.clone()]).unwrap();
        assert_eq!(names(both), ["a.phx", "b.phx", "notes.txt"]);
        assert!(collect(&[format!("{d}/*.none")]).is_err());
        assert!(collect(&[format!("{d}/missing.phx")]).is_err());
    }
}
