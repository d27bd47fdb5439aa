//! Page fetches off the runner's thread: `live URL`, the reload after
//! `stale` and a `live_redirect` each fetch a page over HTTP, which can
//! take up to `--timeout`. The fetch runs on a short-lived thread that
//! hands the page back as `Input::Page`, so frames keep printing
//! meanwhile; a script's line waits for it as for a reply (its step is
//! the view's join, sent once the page is there).

use std::time::Duration;

use url::Url;

use super::open::{self, LiveOptions, Opened};
use super::{Live, LiveError};
use crate::core::event::{ClientId, ToNet};
use crate::runner::flow::Step;
use crate::runner::{Input, Runner};
use crate::transport::page::Fetcher;

/// What a fetched page is for.
#[derive(Debug)]
pub(in crate::runner) enum Job {
    /// `live URL` / `connect NAME live URL`: line `n`, whose command id is
    /// `id`, opens a client for it.
    Open { name: String, id: u64, n: usize },
    /// The view of `client` reloads after `stale`.
    Reload { client: ClientId },
    /// The view of `client` follows a `live_redirect` (or a `redirect`
    /// with `--follow`). `wait` is the id a script's line waits on: the
    /// new view's join is sent under it, so the next line runs once the
    /// new page has joined (or the navigation failed).
    Navigate { client: ClientId, wait: Option<u64> },
}

/// A page fetched on a helper thread, with the jar it was fetched with.
#[derive(Debug)]
pub struct Fetched {
    job: Job,
    fetcher: Fetcher,
    opts: LiveOptions,
    result: Result<Opened, LiveError>,
}

impl Runner {
    /// Fetches `url` on a helper thread, after `delay`; the answer comes
    /// back as `Input::Page`. Without a way back (no input channel), it
    /// is fetched here.
    pub(super) fn fetch_page(
        &mut self,
        job: Job,
        mut fetcher: Fetcher,
        url: Url,
        opts: LiveOptions,
        delay: Duration,
    ) {
        let Some(tx) = self.settings.inputs.clone() else {
            std::thread::sleep(delay);
            let result = open::open(&mut fetcher, &url, &opts);
            return self.on_page(Fetched {
                job,
                fetcher,
                opts,
                result,
            });
        };
        let spawned = std::thread::Builder::new()
            .name("page fetch".to_owned())
            .spawn(move || {
                std::thread::sleep(delay);
                let result = open::open(&mut fetcher, &url, &opts);
                let fetched = Fetched {
                    job,
                    fetcher,
                    opts,
                    result,
                };
                let _ = tx.send(Input::Page(Box::new(fetched)));
            });
        if let Err(e) = spawned {
            self.error(&format!("cannot fetch the page: {e}"), None);
            self.mark_failed();
        }
    }

    /// A page came back from its helper thread.
    pub(in crate::runner) fn on_page(&mut self, f: Fetched) {
        match f.job {
            Job::Open { name, id, n } => match f.result {
                Ok(opened) => {
                    let socket = (opened.socket.clone(), opened.headers.clone());
                    let live = Box::new(Live::new(opened, f.fetcher, f.opts));
                    self.open_client(live, socket, name, id, n);
                }
                Err(e) => {
                    self.screen.set_tag(None);
                    self.error(&e.to_string(), self.line_label(n));
                    self.mark_failed();
                    self.sent(id);
                    self.update_prompt();
                }
            },
            Job::Reload { client } | Job::Navigate { client, .. } => {
                self.enter(client);
                let wait = match f.job {
                    Job::Navigate { wait, .. } => wait,
                    _ => None,
                };
                let Some(live) = &mut self.peer.live else {
                    // No view to move: a line waiting on it runs on.
                    if let Some(id) = wait {
                        self.sent(id);
                    }
                    return;
                };
                live.fetcher = Some(f.fetcher);
                live.moving = false;
                match f.result {
                    Ok(opened) => {
                        self.rejoin_at(opened, matches!(f.job, Job::Navigate { .. }), wait);
                    }
                    Err(e) => {
                        let what = if matches!(f.job, Job::Reload { .. }) {
                            "reloading the page"
                        } else {
                            "following the navigation"
                        };
                        self.error(&format!("{what} failed: {e}"), None);
                        self.mark_failed();
                        if matches!(f.job, Job::Navigate { .. }) {
                            // The old page is left, as when a redirect is
                            // not followed.
                            self.close_page();
                        }
                        if let Some(id) = wait {
                            self.sent(id);
                        }
                    }
                }
            }
        }
    }

    /// The view moves to a freshly fetched page: the old view is left
    /// (navigation), the socket reconnects with the page's cookie and CSRF
    /// token, and the new view joins with `_mounts` 0 (under `wait`, the
    /// id a script's line waits on, if any).
    fn rejoin_at(&mut self, o: Opened, leave_old: bool, wait: Option<u64>) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let (socket, headers) = (o.socket.clone(), o.headers.clone());
        let old = live.topic.clone();
        // The old page's nested views go with it, and the old view too
        // (refused after `stale`, or navigated away from): left once the
        // socket is down (below), so the session does not rejoin them on
        // the new one, and `status` lists only the new view.
        let mut leaving: Vec<String> = live.children.iter().map(|c| c.topic.clone()).collect();
        leaving.push(old);
        for t in &leaving {
            live.retire(t.clone());
        }
        live.take(o);
        let request = live.join_request();
        let topic = live.topic.clone();
        let url = live.page_url.to_string();
        let active = self.clients.active;
        live.retargeted = true;
        self.clients.set_shown_url(active, url.clone());
        if !leave_old {
            let text = format!(
                "fetched the page again; reconnecting with its new cookie and CSRF token to join {topic}"
            );
            self.live_line("reload", Some(&url), &text);
        }
        self.net.send_to(
            active,
            ToNet::Retarget {
                url: socket,
                headers,
            },
        );
        for t in leaving {
            let leave = crate::core::session::Request::Leave { topic: Some(t) };
            let id = self.issue_id();
            if let Some(live) = &mut self.peer.live {
                live.hushed.push(id);
            }
            self.net
                .send_to(active, ToNet::Request { id, request: leave });
        }
        let id = wait.unwrap_or_else(|| self.issue_id());
        // It waits for the new socket: nothing to say about that.
        if let Some(live) = &mut self.peer.live {
            live.pending_join = Some(id);
        }
        self.learn_live_secrets();
        self.net.send_to(active, ToNet::Request { id, request });
    }

    /// A script's line waits for the page, then for its view's join.
    pub(super) fn wait_for_page(&mut self, id: u64, n: usize) {
        self.step = Step::Sending {
            id,
            line: n,
            scripted: self.scripted,
        };
    }
}
