//! LiveView, pure: the `rendered` tree of a join reply, the diffs merged
//! into it, the HTML and text it stands for, a readable account of what each
//! diff changed; and the page tooling around it: the fetched page's tokens
//! and view elements, CSS selection, the events a page offers, the page as
//! readable lines and the event payloads (docs/PROTOCOL.md §10).
//!
//! - [`tree`]: the tree type, parsing a join's `rendered`, merging a diff the
//!   way the official JS client does, for both the LiveView 0.20 format
//!   (comprehensions with `d`) and the 1.1 one (template tables `p`, keyed
//!   comprehensions `k`/`kc`).
//! - [`html`]: the HTML of the tree (the server's dead render, or the
//!   browser's view with `data-phx-component` on components) and its
//!   visible text.
//! - `component`: the components of a diff (`"c"`) and their shared statics.
//! - [`change`]: one printable line per element a diff changed.
//! - [`page`]: a fetched page's CSRF token, title and LiveView elements
//!   (the dead render byte for byte, cut from the source by `source`).
//! - [`payload`]: the `event` payloads the JS client pushes (click, form,
//!   key, focus, hook).
//! - [`dom`]: CSS selection over the HTML (outer HTML or text of matches).
//! - [`events`]: the event bindings and form fields the HTML offers.
//! - [`readable`]: the HTML as readable lines (`[+1 → click inc]`, …).
//!
//! No I/O, no clock, no colour. Hostile input gives a [`TreeError`], never a
//! panic.

pub mod change;
mod component;
pub mod dom;
pub mod events;
pub mod html;
pub mod page;
pub mod payload;
pub mod readable;
mod source;
pub mod tree;

#[cfg(test)]
mod frames;
#[cfg(test)]
mod tests;

pub use change::{Change, ChangeKind, Step};
pub use dom::{SelectorError, select_html, select_text};
pub use events::{EventKind, PageEvent};
pub use html::{HtmlMode, text_of};
pub use page::{Page, ViewElement};
pub use readable::page_lines;
pub use tree::{Dyn, List, Node, PushEvent, Rendered, TreeError, Update};
