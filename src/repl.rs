//! The interactive front end: a rustyline editor on its own thread.
//!
//! It reads one line at a time and hands it to the runner, then waits for
//! the runner to send the next prompt, so a command's immediate output (its
//! echo, an error) appears before the prompt returns. Frames that arrive
//! while the user types are printed by the runner through rustyline's
//! external printer, which redraws the prompt and the half-typed line below
//! them. History persists across runs in a file only the user can read.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use crate::runner::Input;

const HISTORY_SIZE: usize = 10_000;

pub type LineEditor = Editor<(), FileHistory>;

/// Creates the editor and loads history from `history` if given.
pub fn editor(history: Option<&Path>) -> rustyline::Result<LineEditor> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .auto_add_history(false)
        .build();
    let mut ed: LineEditor = Editor::with_config(config)?;
    if let Some(path) = history {
        // A missing file is normal on the first run.
        let _ = ed.load_history(path);
    }
    Ok(ed)
}

/// Runs the editor on its own thread: waits for a prompt on `prompts`,
/// reads a line, sends it on `lines`; Ctrl-C clears the line, Ctrl-D ends.
pub fn spawn(
    mut ed: LineEditor,
    history: Option<PathBuf>,
    prompts: Receiver<String>,
    lines: SyncSender<Input>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("prompt".into())
        .spawn(move || {
            'prompts: while let Ok(prompt) = prompts.recv() {
                loop {
                    match ed.readline(&prompt) {
                        Ok(line) => {
                            if !line.trim().is_empty() {
                                let _ = ed.add_history_entry(line.as_str());
                                // Saved at once: the process may exit
                                // without returning here.
                                if let Some(path) = &history {
                                    save_history(&mut ed, path);
                                }
                            }
                            if lines.send(Input::Line(line)).is_err() {
                                break 'prompts;
                            }
                            continue 'prompts;
                        }
                        // Ctrl-C clears the line being typed, as in a shell.
                        Err(ReadlineError::Interrupted) => {}
                        Err(_) => {
                            let _ = lines.send(Input::Eof);
                            break 'prompts;
                        }
                    }
                }
            }
        })
}

/// Saves history to a file created with mode 0600 (lines may hold tokens).
fn save_history(ed: &mut LineEditor, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let mut open = OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    if open.open(path).is_ok() {
        let _ = ed.save_history(path);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
    }
}
