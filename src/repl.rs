//! The interactive front end: a rustyline editor on its own thread.
//!
//! It reads lines and hands them to the runner. Everything the runner
//! prints (echoes, replies, frames that arrive while the user types) goes
//! through rustyline's external printer, which prints above the prompt and
//! redraws the prompt and the half-typed line below. History persists
//! across runs in a file only the user can read.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use crate::command::{self, Command};
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

/// Runs the editor on its own thread. It waits for the first prompt (sent
/// once connected), then reads lines without waiting for the runner, taking
/// the newest prompt text before each line, so rustyline is almost always
/// reading and its external printer never waits long. Ctrl-C clears the
/// line and cancels whatever is pending; Ctrl-D or `quit` ends reading, so
/// the terminal is back in its normal mode before the process exits.
pub fn spawn(
    mut ed: LineEditor,
    history: Option<PathBuf>,
    prompts: Receiver<String>,
    lines: Sender<Input>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("prompt".into())
        .spawn(move || {
            let Ok(mut prompt) = prompts.recv() else {
                return;
            };
            loop {
                // The newest prompt; none left means the runner has ended.
                loop {
                    match prompts.try_recv() {
                        Ok(p) => prompt = p,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => return,
                    }
                }
                if lines.send(Input::Reading).is_err() {
                    return;
                }
                match ed.readline(&prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = ed.add_history_entry(line.as_str());
                            // Saved at once: the process may exit without
                            // returning here.
                            if let Some(path) = &history {
                                save_history(&mut ed, path);
                            }
                        }
                        let quit = line
                            .lines()
                            .any(|l| matches!(command::parse_line(l), Ok(Some(Command::Quit))));
                        if lines.send(Input::Line(line)).is_err() || quit {
                            return;
                        }
                    }
                    Err(ReadlineError::Interrupted) => {
                        if lines.send(Input::Interrupt).is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = lines.send(Input::Eof);
                        return;
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
