//! `phx-repl test`: a directory of script files run as tests, one child
//! run per file, with per-file lines, a total, `--jobs`, `--bail`, `--json`
//! records carrying their `file`, and `--junit` reports (from `test` and
//! from a piped script) checked against the JUnit schema with xmllint.

use std::path::Path;
use std::process::Command;

use crate::support::{Script, Server, scratch_dir};

const PASSING_A: &str = "join room:lobby\nexpect ok {\"joined\":\"room:lobby\"}\n\
                         push room:lobby echo body=hi\nexpect ok body=hi\n";
const FAILING: &str = "join room:lobby\npush room:lobby echo body=ho\nexpect ok body=hi\n";
const PASSING_C: &str = "join room:lobby\ncast room:lobby shout n:=1\nwait room:lobby shout\n\
                         refute room:lobby shout 0.05\n";

/// A directory with three scripts, `b.phx` failing at line 3, and a file
/// that is not a script.
fn three_files() -> tempfile::TempDir {
    let dir = scratch_dir();
    for (name, text) in [
        ("a.phx", PASSING_A),
        ("b.phx", FAILING),
        ("c.phx", PASSING_C),
        ("notes.txt", "not a script"),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Validates `file` against the JUnit schema kept in the repository;
/// without xmllint (which `.ci/run` installs) this fails, not passes.
fn assert_valid_junit(file: &Path) -> String {
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit-10.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(file)
        .output()
        .expect("xmllint runs (apt-get install libxml2-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn a_directory_with_one_failing_file_exits_1_with_lines_a_total_and_a_valid_report() {
    let server = Server::start();
    let dir = three_files();
    let report = dir.path().join("report.xml");
    let out = Script::without_url()
        .with_summary()
        .args(["test", &path(dir.path()), "--url", &server.url, "--junit"])
        .arg(&report)
        .run();
    out.assert_code(1);
    let d = path(dir.path());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("✓ {d}/a.phx  2 passed  (")),
        "{}",
        out.report()
    );
    assert!(
        lines[1].starts_with(&format!("✗ {d}/b.phx  1 failed, 0 passed  (")),
        "{}",
        out.report()
    );
    assert_eq!(
        lines[2],
        "  failed: line 3: echo on room:lobby replied ok with a different response"
    );
    assert_eq!(lines[3], "    expected: ok {\"body\":\"hi\"}");
    assert_eq!(lines[4], "    got:      ok {\"body\":\"ho\"}");
    assert!(
        lines[6].starts_with(&format!("✓ {d}/c.phx  2 passed  (")),
        "{}",
        out.report()
    );
    assert_eq!(
        lines[7],
        "3 files: 2 passed, 1 failed; expectations: 4 passed, 1 failed"
    );
    assert_eq!(lines.len(), 8, "{}", out.report());

    let xml = assert_valid_junit(&report);
    assert!(
        xml.contains("<testsuites name=\"phx-repl\" tests=\"5\" failures=\"1\" errors=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testsuite ").count(), 3);
    assert!(xml.contains("name=\"line 2: expect ok {&quot;joined&quot;:&quot;room:lobby&quot;}\""));
    assert!(xml.contains("name=\"line 4: refute room:lobby shout 0.05\""));
    assert!(
        xml.contains("<testcase name=\"line 3: expect ok body=hi\"",),
        "{xml}"
    );
    assert!(
        xml.contains("expected: ok {\"body\":\"hi\"}\ngot:      ok {\"body\":\"ho\"}</failure>"),
        "{xml}"
    );
}

#[test]
fn jobs_give_the_same_verdicts_and_bail_stops_after_the_failing_file() {
    let dir = three_files();
    let d = path(dir.path());
    // The built-in server, started once for all files.
    let out = Script::without_url()
        .with_summary()
        .args(["test", &d, "--jobs", "2"])
        .run();
    out.assert_code(1);
    let mut verdicts: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with('✓') || l.starts_with('✗'))
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    verdicts.sort_by_key(|v| v[4..].to_owned());
    assert_eq!(
        verdicts,
        [
            format!("✓ {d}/a.phx"),
            format!("✗ {d}/b.phx"),
            format!("✓ {d}/c.phx")
        ],
        "{}",
        out.report()
    );
    out.assert_stdout_contains("3 files: 2 passed, 1 failed; expectations: 4 passed, 1 failed\n");

    let out = Script::without_url()
        .with_summary()
        .args(["test", &format!("{d}/*.phx"), "--bail"])
        .run();
    out.assert_code(1)
        .assert_stdout_contains(&format!("✗ {d}/b.phx"))
        .assert_stdout_lacks(&format!("{d}/c.phx"))
        .assert_stdout_contains("2 files: 1 passed, 1 failed")
        .assert_stdout_contains("stopped at the first failing file (--bail): 1 not run\n");
}

#[test]
fn json_records_carry_their_file_and_each_file_ends_with_its_summary() {
    let dir = three_files();
    let d = path(dir.path());
    let out = Script::without_url()
        .with_summary()
        .args(["test", &d, "--json"])
        .run();
    out.assert_code(1);
    let records = out.json();
    assert!(
        records
            .iter()
            .all(|r| r["file"].as_str().is_some_and(|f| f.starts_with(&d)))
    );
    let summaries: Vec<_> = records.iter().filter(|r| r["type"] == "summary").collect();
    assert_eq!(summaries.len(), 3);
    for name in ["a.phx", "b.phx", "c.phx"] {
        let file = format!("{d}/{name}");
        let last = records
            .iter()
            .rfind(|r| r["file"] == file.as_str())
            .unwrap();
        assert_eq!(last["type"], "summary", "{name}");
        let code = if name == "b.phx" { 1 } else { 0 };
        assert_eq!(last["exit_code"], code, "{name}");
    }
    let failed = records
        .iter()
        .find(|r| r["type"] == "error" && r["kind"] == "expect")
        .unwrap();
    assert_eq!(failed["file"], format!("{d}/b.phx").as_str());
    assert_eq!(failed["line"], 3);
}

#[test]
fn no_file_matched_or_none_connecting_have_their_own_exit_codes() {
    let dir = three_files();
    Script::without_url()
        .with_summary()
        .args(["test", &format!("{}/*.none", path(dir.path()))])
        .run()
        .assert_code(2)
        .assert_stderr_contains("matches no file");
    let port = crate::support::unused_port();
    Script::without_url()
        .with_summary()
        .args(["test", &path(&dir.path().join("a.phx")), "--url"])
        .arg(format!("ws://127.0.0.1:{port}/socket"))
        .run()
        .assert_code(3)
        .assert_stdout_contains("a.phx  could not connect");
}

#[test]
fn a_piped_script_with_junit_reports_its_checks_and_its_bad_line() {
    let server = Server::start();
    let dir = scratch_dir();
    let report = dir.path().join("piped.xml");
    Script::new(&server)
        .arg("--junit")
        .arg(&report)
        .stdin(&format!("{PASSING_C}no_such_command\n{FAILING}"))
        .run()
        .assert_code(1);
    let xml = assert_valid_junit(&report);
    let names: Vec<&str> = xml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<testcase name=\""))
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "line 3: wait room:lobby shout",
            "line 4: refute room:lobby shout 0.05",
            "line 5: no_such_command",
            "line 8: expect ok body=hi",
        ],
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"stdin\" tests=\"4\" failures=\"1\" errors=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<error type=\"line\" message=\"unknown command `no_such_command`"),
        "{xml}"
    );
}

#[test]
fn an_f_script_is_its_own_suite_and_a_refused_connection_a_failing_case() {
    let server = Server::start();
    let dir = three_files();
    let script = path(&dir.path().join("a.phx"));
    let report = dir.path().join("f.xml");
    Script::new(&server)
        .args(["-f", &script, "--exit", "--junit"])
        .arg(&report)
        .run()
        .assert_success();
    let xml = assert_valid_junit(&report);
    assert!(
        xml.contains(&format!(
            "<testsuite name=\"{script}\" tests=\"2\" failures=\"0\" errors=\"0\""
        )),
        "{xml}"
    );

    let port = crate::support::unused_port();
    Script::with_url(&format!("ws://127.0.0.1:{port}/socket"))
        .args(["-f", &script, "--exit", "--junit"])
        .arg(&report)
        .run()
        .assert_code(3);
    let xml = assert_valid_junit(&report);
    assert!(
        xml.contains("<testcase name=\"connect\"") && xml.contains("<error type=\"connection\""),
        "{xml}"
    );
}
