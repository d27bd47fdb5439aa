//! The commands about clients: `connect NAME` opens one on the network
//! thread, `use NAME` picks where lines without `@NAME` go, `clients`
//! lists them and `disconnect NAME` closes one; and `@NAME`, which runs
//! one line as a client.
//!
//! The registry and the per-client state are `clients`'; the grammar is
//! `lang::clients`'.

use url::Url;

use super::flow::Step;
use super::{Mode, Runner};
use crate::core::endpoint;
use crate::core::event::{ClientId, ToNet};
use crate::lang::clients::Connect;
use crate::lang::vocab::Word;
use crate::output::Info;
use crate::transport::net::{Options, Target};

/// What `connect NAME` starts from: the first client's socket.
#[derive(Debug, Clone)]
pub struct Base {
    /// The first client's URL, with its secrets.
    pub url: Url,
    pub target: Target,
    pub options: Options,
    /// `--show-secrets`: URLs are shown as they are.
    pub show_secrets: bool,
    pub longpoll: bool,
    /// What `live URL` opens a LiveView with.
    pub live: super::LiveOptions,
}

impl Runner {
    /// The client a line goes to: `@NAME`'s, else the current one. `None`
    /// after saying that there is no such client.
    pub(super) fn client_named(&mut self, name: Option<&str>, n: usize) -> Option<ClientId> {
        let Some(name) = name else {
            return Some(self.clients.current);
        };
        match self.clients.find(name) {
            Some(id) => Some(id),
            None => {
                let text = self.clients.unknown(name);
                self.error(&text, self.line_label(n));
                self.mark_failed();
                None
            }
        }
    }

    /// `connect NAME [URL] [flags]`: a script waits until it is connected
    /// (or could not be).
    pub(super) fn connect(&mut self, c: Connect, n: usize) {
        // About the session, not one client.
        self.screen.set_tag(None);
        if c.live {
            let id = self.issue_id();
            let url = c.url.unwrap_or_default();
            let flags = crate::lang::live::OpenFlags {
                headers: c.headers,
                follow: c.follow,
                auth_token: c.auth_token,
                params: c.params,
            };
            return self.open_live(&url, Some(c.name), &flags, id, n);
        }
        if let Some(old) = self.clients.find(&c.name) {
            let link = &self.peer_of(old).link;
            if old != 0 && (link.ended || link.closing) {
                // Closed (or never connected): its name is free again.
                self.clients.retire(old);
            } else {
                let text = if old == 0 {
                    format!(
                        "`{}` is the first client's name; pick another, as in `connect bob`",
                        c.name
                    )
                } else {
                    format!(
                        "client `{}` is already open; pick another name, or `disconnect {}` first",
                        c.name, c.name
                    )
                };
                self.error(&text, self.line_label(n));
                self.mark_failed();
                return;
            }
        }
        let base = &self.settings.base;
        let url = match &c.url {
            Some(u) => endpoint::normalize_for(u, &c.params, base.options.vsn, base.longpoll),
            None => Ok(with_params(&base.url, &c.params)),
        };
        let url = match url {
            Ok(u) => u,
            Err(e) => {
                self.error(&e.to_string(), self.line_label(n));
                self.mark_failed();
                return;
            }
        };
        let mut target = base.target.clone();
        target.url = url.clone();
        target.headers.extend(c.headers);
        if let Some(token) = &c.auth_token {
            // Replaces the first client's token, if it had one.
            target
                .headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("sec-websocket-protocol"));
            target.headers.push(endpoint::auth_token_header(token));
            self.screen.learn_secret(token);
        }
        let shown = if base.show_secrets {
            url.to_string()
        } else {
            endpoint::redact(&url)
        };
        let options = base.options.clone();
        let first_of_many = !self.clients.many;
        if first_of_many {
            let first = self.clients.get(0).name.clone();
            self.tell(Word::Client(first));
        }
        self.tell(Word::Client(c.name.clone()));
        let id = self.clients.add(c.name, shown);
        if first_of_many {
            // From now on every line says whose it is: the prompt's too.
            self.update_prompt();
        }
        if !self.net.open(id, target, options) {
            self.error(
                "the network thread has ended, so no client can be opened; type `quit`",
                self.line_label(n),
            );
            self.mark_failed();
            return;
        }
        if self.scripted {
            self.step = Step::Opening { id, line: n };
        }
    }

    /// `use NAME`.
    pub(super) fn use_client(&mut self, name: &str, n: usize) {
        self.screen.set_tag(None);
        let Some(id) = self.client_named(Some(name), n) else {
            return;
        };
        if self.peer_of(id).link.ended {
            let text = format!(
                "client `{name}` is closed, so lines could not go to it; \
                 `connect {name}` opens it again"
            );
            self.error(&text, self.line_label(n));
            self.mark_failed();
            return;
        }
        self.clients.current = id;
        // Said as the client lines now go to.
        self.enter(id);
        self.info(
            Info::Using { client: name },
            &format!("lines without @NAME now go to {name}"),
        );
        self.update_prompt();
    }

    /// `disconnect NAME`.
    pub(super) fn disconnect(&mut self, name: &str, n: usize) {
        self.screen.set_tag(None);
        let Some(id) = self.client_named(Some(name), n) else {
            return;
        };
        if id == 0 {
            let text = format!(
                "`{name}` is the first client; its socket ends the session, so type `quit` instead"
            );
            self.error(&text, self.line_label(n));
            self.mark_failed();
            return;
        }
        if self.peer_of(id).link.ended {
            let text = format!("client `{name}` is already closed");
            self.error(&text, self.line_label(n));
            return;
        }
        self.enter(id);
        self.peer.link.closing = true;
        self.net.send_to(id, ToNet::Close);
        if self.scripted {
            // A script goes on once it is closed, so a `connect` of the
            // same name, or `clients`, sees it gone.
            self.step = Step::Opening { id, line: n };
        }
        if self.clients.current == id {
            self.clients.current = 0;
            let first = self.clients.get(0).name.clone();
            // Said as the client lines now go to, as `use` says it.
            self.enter(0);
            self.info(
                Info::Using { client: &first },
                &format!("lines without @NAME now go to {first}"),
            );
            self.update_prompt();
        }
    }

    /// `clients`.
    pub(super) fn list_clients(&mut self) {
        let width = self.clients.names().map(str::len).max().unwrap_or(0);
        let ids: Vec<ClientId> = self
            .client_ids()
            .filter(|&id| self.clients.listed(id))
            .collect();
        let mut lines = Vec::new();
        for id in ids {
            let client = self.clients.get(id);
            let peer = self.peer_of(id);
            let state = state_of(&peer.link);
            let topics: Vec<&str> = peer.topics.iter().map(String::as_str).collect();
            let current = id == self.clients.current;
            let name = if current {
                format!("{} (current)", client.name)
            } else {
                client.name.clone()
            };
            let text = format!(
                "{name:<w$}  {}  {state}{}{}",
                client.shown_url,
                if topics.is_empty() { "" } else { "  " },
                topics.join(", "),
                w = width + " (current)".len()
            );
            let mut s = String::new();
            self.settings.style.info(
                &Info::Client {
                    name: &client.name,
                    url: &client.shown_url,
                    state,
                    topics: &topics,
                    current,
                },
                &text,
                &mut s,
            );
            lines.push(s);
        }
        // Not anyone's lines: no client prefix.
        self.screen.set_tag(None);
        for l in lines {
            self.screen.out.push_str(&l);
        }
    }

    /// The step that waits for a client to open (or to close, after
    /// `disconnect`) ends when it did, or could not.
    pub(super) fn opened(&mut self, id: ClientId) {
        if matches!(self.step, Step::Opening { id: want, .. } if want == id) {
            self.step = Step::Idle;
        }
    }

    /// Every client is closed: a closing run is done.
    pub(super) fn all_closed(&self) -> bool {
        self.client_ids().all(|id| self.peer_of(id).link.ended)
    }

    /// Closes every client still open; false if none was.
    pub(super) fn close_all(&mut self) -> bool {
        let mut any = false;
        let ids: Vec<ClientId> = self.client_ids().collect();
        for id in ids {
            if !self.peer_of(id).link.ended && self.net.send_to(id, ToNet::Close) {
                any = true;
            }
        }
        any
    }

    /// The prompt: `HOST:PORT>`, or `bob@HOST:PORT>` once there are
    /// several clients, with the current client's state.
    pub(super) fn prompt_text(&self, base: &str) -> String {
        let id = self.clients.current;
        let link = &self.peer_of(id).link;
        // `phx-repl HOST:PORT>` alone; `bob@HOST:PORT>` among several.
        let (who, base) = if self.clients.many {
            let host = base.strip_prefix("phx-repl ").unwrap_or(base);
            (format!("{}@", self.clients.get(id).name), host)
        } else {
            (String::new(), base)
        };
        if link.connected {
            format!("{who}{base}> ")
        } else if link.ended {
            format!("{who}{base} (disconnected)> ")
        } else if link.opened == 0 {
            format!("{who}{base} (connecting)> ")
        } else {
            format!("{who}{base} (reconnecting)> ")
        }
    }

    /// A client other than the first ended for good: said, and a failure
    /// unless it was closed on purpose.
    pub(super) fn client_ended(&mut self, lost: bool) {
        let name = self.clients.get(self.clients.active).name.clone();
        // Its channels went with its socket.
        self.peer.topics.clear();
        if lost && !self.peer.link.closing {
            self.error(
                &format!("client `{name}` lost its connection for good"),
                None,
            );
            self.mark_failed();
        }
        if self.clients.current == self.clients.active {
            self.clients.current = 0;
        }
        if matches!(self.settings.mode, Mode::Interactive { .. }) {
            self.update_prompt();
        }
    }
}

/// How `clients` names a client's state.
fn state_of(link: &super::link::Link) -> &'static str {
    if link.ended {
        "closed"
    } else if link.connected {
        "connected"
    } else if link.opened == 0 {
        "connecting"
    } else {
        "reconnecting"
    }
}

/// `url` with `params` set: each replaces a param of the same name.
fn with_params(url: &Url, params: &[(String, String)]) -> Url {
    if params.is_empty() {
        return url.clone();
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_replaces_the_one_of_the_same_name() {
        let url = Url::parse("ws://h/socket/websocket?user=alice&vsn=2.0.0").unwrap();
        let got = with_params(&url, &[("user".into(), "bob".into())]);
        assert_eq!(got.as_str(), "ws://h/socket/websocket?vsn=2.0.0&user=bob");
        assert_eq!(with_params(&url, &[]), url);
    }
}
