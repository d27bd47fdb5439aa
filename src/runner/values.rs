//! Values carried from one line to the next: `let NAME = PATH` takes one
//! from the current client's last reply or from the message its last
//! `wait` matched, and `${NAME}` substitutes it afterwards. Values are
//! the session's, shared by its named clients, so bob can use the id
//! alice got.
//!
//! Paths are `lang::path`'s; substitution is `lang::vars`'.

use super::Runner;
use crate::lang::path::{Path, substitution};
use crate::output::display_json;

impl Runner {
    /// What `let` will read next on the current client: a reply's
    /// response or a matched message's payload, as JSON text.
    pub(super) fn keep_value(&mut self, what: String, json: &str) {
        self.peer.last_value = Some((what, json.to_owned()));
    }

    /// `let NAME = PATH`.
    pub(super) fn let_value(&mut self, name: String, path: &Path, n: usize) {
        let found = match &self.peer.last_value {
            None => Err(format!(
                "`let {name} = {path}` has nothing to read yet: no reply, and no message \
                 matched by `wait`, on this client; put it after the line whose answer holds the value"
            )),
            Some((what, json)) => match serde_json::from_str::<serde_json::Value>(json) {
                Ok(v) => match path.find(&v) {
                    Some(found) => Ok(substitution(found).into_owned()),
                    None => Err(format!(
                        "`{path}` finds nothing in {what}: {}",
                        display_json(json)
                    )),
                },
                Err(_) => Err(format!(
                    "{what} is not JSON, so `{path}` finds nothing in it"
                )),
            },
        };
        match found {
            Ok(value) => {
                if crate::core::endpoint::is_secret_key(&name) {
                    // `let API_TOKEN = …`: hidden like a secret param.
                    self.screen.learn_secret(&value);
                    if let Some(rec) = &mut self.recording.recorder {
                        rec.learn_secret(&value);
                    }
                }
                let mut s = std::mem::take(&mut self.screen.out);
                self.settings
                    .style
                    .let_value(&name, &value, self.line_label(n), &mut s);
                self.screen.out = s;
                self.report.let_value(&name, &value, self.line_label(n));
                self.vars.insert(name, value);
            }
            Err(e) => {
                self.error(&e, self.line_label(n));
                self.mark_failed();
            }
        }
    }
}
