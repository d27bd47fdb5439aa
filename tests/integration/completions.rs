//! What phx-repl writes for the shell rather than a session:
//! `phx-repl completions SHELL` and `phx-repl man`.

use crate::support::{Home, command};

#[test]
fn shell_completions_and_the_man_page_are_printed() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = command(&home)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("timeout"), "{shell}: {text}");
    }
    let out = command(&home).arg("man").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH phx-repl 1"));
}
