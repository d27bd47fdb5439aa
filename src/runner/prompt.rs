//! The interactive front end: a rustyline editor on its own thread.
//!
//! It reads lines and hands them to the runner. Everything the runner
//! prints (echoes, replies, frames that arrive while the user types) goes
//! through rustyline's external printer, which prints above the prompt and
//! redraws the prompt and the half-typed line below. History persists
//! across runs in a file only the user can read.
//!
//! rustyline's printer queues a message while a line is being edited and
//! writes directly otherwise. A message queued just before Enter stays
//! queued until the next `readline`, so anything written directly in
//! between would jump ahead of it, and it is lost if no `readline` follows.
//! Two rules keep output whole and in order: the runner prints only while
//! the editor is reading (the `ready` flag, set from inside rustyline when
//! it draws the prompt and cleared when it accepts a line), and after `quit`
//! or Ctrl-D the editor goes on reading under an empty prompt until the
//! process exits, so queued output still appears.
//!
//! Comforts: Tab completes commands, topics, events and `@` file paths
//! (from what the runner has seen, see `vocab`); history offers the rest of
//! a line as a dimmed hint (→ or End takes it); a payload whose `{` or `[`
//! is not closed continues on the next line under a continuation prompt.
//!
//! It runs nothing itself: lines, Ctrl-C and Ctrl-D go to the runner as
//! `Input`s, and the runner sends back the prompt text and the words to
//! complete (see `completion`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use colored::Colorize;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{
    Behavior, Cmd, CompletionType, ConditionalEventHandler, Config, Context, Editor, Event,
    EventContext, EventHandler, Helper, KeyCode, KeyEvent, Modifiers, RepeatCount,
};

use crate::lang::command::{self, Command};
use crate::lang::multiline;
use crate::lang::vocab::{self, Completion, Vocabulary, Word};
use crate::runner::Input;

const HISTORY_SIZE: usize = 10_000;
/// How long the first prompt waits for the connection before it is shown
/// as connecting. A local server answers well within this even on a loaded
/// machine; the prompt text cannot change while a line is being read, so a
/// shorter wait would leave `(connecting)` showing after connecting.
const FIRST_PROMPT_WAIT: Duration = Duration::from_secs(1);

pub type LineEditor = Editor<Gate, FileHistory>;

/// Shown while a command's JSON payload is still open: it starts with
/// `... ` and says how to give up on the command.
const CONTINUATION_PROMPT: &str = "... (Ctrl-C cancels) ";

/// The editor's helper: completion, hints, and the gate that tells the
/// runner when printing above the prompt is safe.
pub struct Gate {
    ready: Arc<AtomicBool>,
    wake: Sender<Input>,
    /// Topics and events from the runner, learned when completing.
    words: Receiver<Word>,
    vocab: RefCell<Vocabulary>,
    files: FilenameCompleter,
    /// `None` when hints are off (no colour to dim them with).
    hinter: Option<HistoryHinter>,
}

impl Gate {
    fn open(&self) {
        if !self.ready.swap(true, Ordering::SeqCst) {
            // The runner may be holding output: let it print now.
            let _ = self.wake.send(Input::Reading);
        }
    }

    fn close(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }
}

// rustyline asks for hints each time it draws the line, first right after
// entering raw mode: the moment queued output will be shown in order.
impl Hinter for Gate {
    type Hint = String;
    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.open();
        self.hinter.as_ref()?.hint(line, pos, ctx)
    }
}

// Validation runs on Enter, while rustyline is still in raw mode: from here
// on, output must wait for the next prompt.
impl Validator for Gate {
    fn validate(&self, _ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        self.close();
        Ok(ValidationResult::Valid(None))
    }
}

impl Completer for Gate {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let mut vocab = self.vocab.borrow_mut();
        while let Ok(word) = self.words.try_recv() {
            vocab.learn(word);
        }
        match vocab::candidates(&vocab, line, pos) {
            Completion::Words { start, words } => Ok((
                start,
                words
                    .into_iter()
                    .map(|w| Pair {
                        display: w.clone(),
                        // `field=` waits for its value.
                        replacement: if w.ends_with('=') { w } else { format!("{w} ") },
                    })
                    .collect(),
            )),
            Completion::Path { start } => {
                let (from, pairs) = self.files.complete_path(&line[start..pos], pos - start)?;
                Ok((start + from, pairs))
            }
        }
    }
}

impl Highlighter for Gate {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(hint.dimmed().to_string())
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Helper for Gate {}

/// Creates the editor and loads history from `history` if given. `ready`
/// is the flag the runner checks before printing; `wake` reaches the runner.
pub fn editor(
    history: Option<&Path>,
    ready: Arc<AtomicBool>,
    wake: Sender<Input>,
    words: Receiver<Word>,
) -> rustyline::Result<LineEditor> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        // Prompt on the terminal even when stdout is a file (`--json > f`).
        .behavior(Behavior::PreferTerm)
        .build();
    let mut ed: LineEditor = Editor::with_config(config)?;
    // A hint that cannot be dimmed would read as typed text.
    let hints = colored::control::SHOULD_COLORIZE.should_colorize();
    ed.set_helper(Some(Gate {
        ready,
        wake,
        words,
        vocab: RefCell::new(Vocabulary::default()),
        files: FilenameCompleter::new(),
        hinter: hints.then(HistoryHinter::new),
    }));
    // rustyline takes a hint with → only; End and Ctrl-E, which also go to
    // the end of the line, take it too (as in fish).
    for key in [KeyEvent(KeyCode::End, Modifiers::NONE), KeyEvent::ctrl('E')] {
        ed.bind_sequence(key, EventHandler::Conditional(Box::new(TakeHint)));
    }
    if let Some(path) = history {
        // A missing file is normal on the first run.
        let _ = ed.load_history(path);
    }
    Ok(ed)
}

/// Takes the history hint when one is shown (a hint is only offered with
/// the cursor at the end of the line); otherwise the key does what it does.
struct TakeHint;

impl ConditionalEventHandler for TakeHint {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        ctx.has_hint().then_some(Cmd::CompleteHint)
    }
}

/// Runs the editor on its own thread. The first prompt waits briefly for
/// the connection; after that lines are read continuously, each under the
/// newest prompt text. Ctrl-C clears the line and cancels what is pending;
/// Ctrl-D or `quit` ends the session.
pub fn spawn(
    ed: LineEditor,
    history: Option<PathBuf>,
    prompts: Receiver<String>,
    lines: Sender<Input>,
    connecting: String,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("prompt".into())
        .spawn(move || {
            let prompt = match prompts.recv_timeout(FIRST_PROMPT_WAIT) {
                Ok(p) => p,
                Err(RecvTimeoutError::Timeout) => connecting,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            Reader {
                ed,
                history,
                prompts,
                lines,
                prompt,
                ending: false,
                pending: None,
                awaiting_prompt: None,
            }
            .run();
        })
}

/// The prompt thread: the editor and what it reads lines for.
struct Reader {
    ed: LineEditor,
    history: Option<PathBuf>,
    /// Prompt texts from the runner, newest last.
    prompts: Receiver<String>,
    lines: Sender<Input>,
    /// The newest prompt text.
    prompt: String,
    /// After `quit` or Ctrl-D: reading goes on only so that queued output
    /// is shown.
    ending: bool,
    /// The lines of a command whose JSON payload is still open.
    pending: Option<String>,
    /// The last line sent changes the prompt: its answer is awaited this
    /// long at most.
    awaiting_prompt: Option<Duration>,
}

impl Reader {
    /// Reads lines until the runner or the terminal is gone.
    fn run(mut self) {
        loop {
            // A line that changes the prompt (`use`, `connect`,
            // `disconnect`, `live`) is answered with a new one: wait a
            // moment for it, so the next line is not typed under the old
            // one (the text cannot change while a line is read).
            if let Some(wait) = self.awaiting_prompt.take() {
                match self.prompts.recv_timeout(wait) {
                    Ok(p) => self.prompt = p,
                    Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
            // None left means the runner has ended.
            if !self.ending && !self.newest_prompt() {
                return;
            }
            let shown = if self.ending {
                ""
            } else if self.pending.is_some() {
                CONTINUATION_PROMPT
            } else {
                self.prompt.as_str()
            };
            let result = self.ed.readline(shown);
            if let Some(gate) = self.ed.helper() {
                gate.close();
            }
            if self.ending {
                // Reading only so queued output is shown; the process
                // exits once the connection is closed. A terminal that
                // is gone ends this too.
                match result {
                    Ok(_) | Err(ReadlineError::Interrupted) => continue,
                    Err(_) => return,
                }
            }
            let sent = match result {
                Ok(line) => {
                    let (ended, line) = self.whole(line);
                    ended.is_none_or(|c| self.submit(c)) && line.is_none_or(|c| self.submit(c))
                }
                Err(ReadlineError::Interrupted) => {
                    // Ctrl-C drops an unfinished command too.
                    self.pending = None;
                    self.lines.send(Input::Interrupt).is_ok()
                }
                Err(_) => {
                    self.ending = true;
                    self.lines.send(Input::Eof).is_ok()
                }
            };
            if !sent {
                return;
            }
        }
    }

    /// Takes the newest prompt text; false once the runner has ended.
    fn newest_prompt(&mut self) -> bool {
        loop {
            match self.prompts.try_recv() {
                Ok(p) => self.prompt = p,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Joins a line to the unfinished command before it. Returns, in
    /// order, an unfinished command that this line ends by starting a new
    /// one (it then fails on its own, as in a script, so `quit` or a typo'd
    /// command is never swallowed), and the command this line completes;
    /// `None` for each that is not there yet.
    fn whole(&mut self, line: String) -> (Option<String>, Option<String>) {
        let (ended, line) = match self.pending.take() {
            Some(before) if multiline::starts_command(&line) => (Some(before), line),
            Some(mut before) => {
                before.push('\n');
                before.push_str(&line);
                (None, before)
            }
            None => (None, line),
        };
        if multiline::is_incomplete(&line) {
            self.pending = Some(line);
            return (ended, None);
        }
        (ended, Some(line))
    }

    /// Keeps a command in history and hands it to the runner, with the
    /// end of input after `quit`; false if the runner is gone.
    fn submit(&mut self, line: String) -> bool {
        if !line.trim().is_empty() {
            let _ = self.ed.add_history_entry(line.as_str());
            // Saved at once: the process may exit without
            // returning here.
            if let Some(path) = &self.history {
                save_history(&mut self.ed, path);
            }
        }
        self.ending = line
            .lines()
            .any(|l| matches!(command::parse_line(l), Ok(Some(Command::Quit))));
        self.awaiting_prompt = changes_prompt(&line);
        let sent = self.lines.send(Input::Line(line)).is_ok();
        if self.ending {
            sent && self.lines.send(Input::Eof).is_ok()
        } else {
            sent
        }
    }
}

/// How long the prompt waits for the runner's answer to a line that
/// changes it: far longer than the runner needs, short enough not to be
/// felt if it never comes.
const PROMPT_WAIT: Duration = Duration::from_millis(500);
/// The same for a LiveView client, answered once its page is fetched and
/// its socket open: a local page takes a few milliseconds, a remote one
/// may take a second.
const LIVE_PROMPT_WAIT: Duration = Duration::from_secs(3);

/// How long to wait for the prompt after `line`: `None` when it does not
/// change which client the prompt names.
fn changes_prompt(line: &str) -> Option<Duration> {
    let line = crate::lang::clients::split_client(line).ok()?.1;
    let mut words = line.split_whitespace();
    match words.next()? {
        "live" => Some(LIVE_PROMPT_WAIT),
        // `connect NAME live URL`
        "connect" if words.nth(1) == Some("live") => Some(LIVE_PROMPT_WAIT),
        "use" | "connect" | "disconnect" => Some(PROMPT_WAIT),
        _ => None,
    }
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
