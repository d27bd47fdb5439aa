//! Running one line: `${NAME}` substitution, parsing, and the command it
//! names, either handed to the network thread or done here (the local
//! commands: `sleep`, `wait`, `expect`, `help`, `display`, `record`,
//! `mute`, `presence`, `quit`).
//!
//! Parsing is `lang::command`'s. The checks, recording, mutes and
//! presence each have their own file; this one dispatches to them.

use std::cell::RefCell;
use std::time::Instant;

use super::flow::Step;
use super::{Mode, Runner};
use crate::core::endpoint::is_secret_key;
use crate::core::event::{ClientId, ToNet};
use crate::core::session::Request;
use crate::lang::clients::split_client;
use crate::lang::command::{self, Command};
use crate::lang::vars;
use crate::output::Info;

impl Runner {
    pub(super) fn run_line(&mut self, n: usize, line: &str) {
        if let Mode::Script { read_ahead } = &self.settings.mode {
            read_ahead.give_back();
        }
        self.mark_line();
        self.report.line(n, line);
        // A line's errors are its client's, once it is known.
        self.screen.set_tag(None);
        let Some((client, cmd)) = self.parse(n, line) else {
            // The prompt waits for its answer to `use`, `connect` and
            // `disconnect`, even a refusal.
            self.update_prompt();
            return;
        };
        self.enter(client);
        // A LiveView client's prompt is sent once its page is fetched and
        // its socket open (or either failed): sent now, it would be the
        // old one, and the prompt thread takes the first that comes.
        let prompt_changes = match &cmd {
            Command::Connect(c) => !c.live,
            Command::Use(_) | Command::Disconnect(_) => true,
            _ => false,
        };
        self.checks.tally.commands += 1;
        let id = self.issue_id();
        self.note_line(line, &cmd, id);
        match cmd {
            Command::Request(request) => {
                // `expect` checks the latest request that awaits a reply,
                // never a cast.
                let cast = matches!(request, Request::Push { cast: true, .. });
                if self.interactive() && !cast {
                    self.peer.replies.awaiting(id);
                }
                self.send(ToNet::Request { id, request }, id, n);
            }
            Command::Raw(text) => self.send(ToNet::Raw { id, text }, id, n),
            Command::Topics => self.send(ToNet::Topics { id }, id, n),
            Command::Status => self.send(ToNet::Status { id }, id, n),
            Command::Presence(topic) => self.show_presence(topic.as_deref()),
            Command::Sleep(d) => {
                self.step = Step::Sleeping {
                    deadline: Instant::now() + d,
                };
            }
            Command::Wait(w) => self.start_watch(w, false, n),
            Command::Refute(w) => self.start_watch(w, true, n),
            Command::Let { name, path } => self.let_value(name, &path, n),
            Command::Gql(c) => self.gql(c, id, n),
            Command::Expect { ok, response } => self.check_expectation(ok, response.as_ref(), n),
            Command::ExpectPage(check) => self.expect_page(&check, n),
            Command::Live(c) => self.live_command(c, id, n),
            Command::Help(name) => self.help(name.as_deref(), n),
            Command::Display(change) => self.display(change),
            Command::Record(action) => self.record(action, n),
            Command::Mute(name) => self.mute(name),
            Command::Connect(c) => self.connect(c, n),
            Command::Use(name) => self.use_client(&name, n),
            Command::Clients => self.list_clients(),
            Command::Disconnect(name) => self.disconnect(&name, n),
            Command::Unmute(name) => self.unmute(name, n),
            Command::Quit => {
                self.queue.clear();
                self.begin_close();
            }
        }
        if prompt_changes {
            self.update_prompt();
        }
        if !matches!(self.step, Step::Waiting(_)) {
            // A wait that passed at once, or a line that failed.
            self.write_pending_wait();
        }
    }

    /// The command a line holds after `${NAME}` substitution, and the
    /// client it is for (`@NAME`, else the current one); `None` for a
    /// blank line or a comment, or after reporting why it is invalid.
    fn parse(&mut self, n: usize, typed: &str) -> Option<(ClientId, Command)> {
        let substituted;
        let line = if typed.trim_start().starts_with('#') {
            typed
        } else {
            substituted = self.substitute(typed, n)?;
            substituted.as_str()
        };
        let parsed = split_client(line)
            .and_then(|(name, line)| command::parse_line(line).map(|c| c.map(|c| (name, c))));
        match parsed {
            Ok(Some((name, c))) => {
                self.learn_typed_secrets(&c);
                self.client_named(name, n).map(|id| (id, c))
            }
            Ok(None) => None,
            Err(e) => {
                self.error(&e.to_string(), self.line_label(n));
                self.mark_failed();
                None
            }
        }
    }

    /// Replaces `${NAME}` with the environment's value. The values of
    /// secret-named variables (`${TOKEN}`) are hidden in output and
    /// recordings like secret connect params. `None` after reporting why
    /// it failed.
    fn substitute(&mut self, line: &str, n: usize) -> Option<String> {
        let secrets = RefCell::new(Vec::new());
        let result = vars::substitute(line, |name| {
            // `let` values first, then the environment.
            if let Some(v) = self.vars.get(name) {
                return Some(v.clone());
            }
            let value = std::env::var(name).ok();
            if let Some(v) = &value
                && is_secret_key(name)
            {
                secrets.borrow_mut().push(v.clone());
            }
            value
        });
        for v in secrets.into_inner() {
            self.screen.learn_secret(&v);
            if let Some(rec) = &mut self.recording.recorder {
                rec.learn_secret(&v);
            }
        }
        match result {
            Ok(l) => Some(l),
            Err(e) => {
                self.error(&e.to_string(), self.line_label(n));
                self.mark_failed();
                None
            }
        }
    }

    /// Writes a line into the recording as typed (a push waits to learn
    /// whether it is answered), and remembers a join.
    fn note_line(&mut self, typed: &str, cmd: &Command, id: u64) {
        // A line that went to another client by `use` says so, so that
        // the replay sends it there too.
        let active = self.clients.active;
        let session_wide = matches!(
            cmd,
            Command::Connect(_)
                | Command::Live(crate::lang::live::LiveCommand::Open { .. })
                | Command::Use(_)
                | Command::Clients
                | Command::Disconnect(_)
                | Command::Sleep(_)
                | Command::Help(_)
                | Command::Display(_)
                | Command::Record(_)
                | Command::Mute(_)
                | Command::Unmute(_)
                | Command::Quit
        );
        let named;
        let typed = if active != 0 && !session_wide && !typed.trim_start().starts_with('@') {
            named = format!("@{} {}", self.clients.get(active).name, typed.trim_start());
            named.as_str()
        } else {
            typed
        };
        // `live URL` opens a client too: a recording started later
        // begins with it.
        if let Command::Connect(_) | Command::Live(crate::lang::live::LiveCommand::Open { .. }) =
            cmd
        {
            self.clients.set_connect_line(typed);
        }
        // A `wait` before this line that was cancelled.
        self.write_pending_wait();
        if let Some(rec) = &mut self.recording.recorder {
            match cmd {
                // Written once it has passed or failed (see
                // `write_pending_wait`).
                Command::Wait(_) => self.recording.pending_wait = Some(typed.to_owned()),
                // Recorded lines name their client, so `use` is not needed
                // (and would send the first client's lines elsewhere).
                Command::Record(_) | Command::Help(_) | Command::Quit | Command::Use(_) => {}
                Command::Request(Request::Push { cast: false, .. }) => rec.push_line(id, typed),
                _ => rec.line(typed),
            }
        }
        if let Command::Request(Request::Join { topic, .. }) = cmd {
            self.recording.joined(active, topic, typed);
        }
    }

    /// Hands a command to the network thread; the line then waits for it
    /// to go out.
    pub(super) fn send(&mut self, to_net: ToNet, id: u64, n: usize) {
        // While reconnecting the network thread holds commands for the
        // next connection; only once it has given up is nothing sent.
        if self.peer.link.ended || !self.net.send_to(self.clients.active, to_net) {
            let text = if self.clients.active == 0 {
                "the connection is closed for good, so nothing was sent; type `quit` and start phx-repl again".to_owned()
            } else {
                let name = &self.clients.get(self.clients.active).name;
                format!(
                    "client `{name}` is closed, so nothing was sent; `connect {name} …` opens it again"
                )
            };
            self.error(&text, self.line_label(n));
            self.mark_failed();
            return;
        }
        self.step = Step::Sending {
            id,
            line: n,
            scripted: self.scripted,
        };
    }

    /// `help [COMMAND]`: at the prompt, wrapped to the terminal's width.
    fn help(&mut self, name: Option<&str>, n: usize) {
        let width = self.interactive().then(textwrap::termwidth);
        match command::help(name, width) {
            Ok(text) => {
                // Help is about the tool, not any client's output.
                self.screen.set_tag(None);
                let mut s = std::mem::take(&mut self.screen.out);
                self.settings.style.help(&text, &mut s);
                self.screen.out = s;
            }
            Err(e) => {
                self.error(&e.to_string(), self.line_label(n));
                self.mark_failed();
            }
        }
    }

    /// `display`: shows the switches, or sets one.
    fn display(&mut self, change: Option<(command::Switch, Option<bool>)>) {
        let d = &mut self.settings.style.display;
        if let Some((switch, value)) = change {
            let flag = match switch {
                command::Switch::Timestamps => &mut d.timestamps,
                command::Switch::Pretty => &mut d.pretty,
                command::Switch::Raw => &mut d.raw,
                command::Switch::Full => &mut d.full,
            };
            *flag = value.unwrap_or(!*flag);
        }
        let d = self.settings.style.display;
        let onoff = |b: bool| if b { "on" } else { "off" };
        let text = format!(
            "display: timestamps {}, pretty {}, raw {}, full {}",
            onoff(d.timestamps),
            onoff(d.pretty),
            onoff(d.raw),
            onoff(d.full)
        );
        self.info(
            Info::Display {
                timestamps: d.timestamps,
                pretty: d.pretty,
                raw: d.raw,
                full: d.full,
            },
            &text,
        );
    }
}
