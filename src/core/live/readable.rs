//! A LiveView's HTML as readable lines of text, printed after a join and on
//! request. Block elements (headings, paragraphs, divs, table rows, …)
//! break lines; inside a line:
//!
//! - an element with `phx-click` (a button, usually) reads
//!   `[+1 → click inc]`, its `phx-value-*` after the event as `k=v`;
//! - a link reads `<Settings → /settings>` (`href`, which `data-phx-link`
//!   live links also carry);
//! - a form is one line, `{form set: value=0 [Set]}`: its `phx-submit` (and
//!   `phx-change`) event, each field a browser would submit with its
//!   current value ([`super::events`]), and its submit buttons;
//! - list items are `- item` lines, indented two spaces per nesting level;
//! - a control outside a form reads `{q=x → keyup search}`.
//!
//! Scripts, styles, templates and comments are left out. Whitespace runs are
//! single spaces. Deterministic and uncoloured: the caller styles it.

use scraper::{ElementRef, Node};

use super::dom;
use super::events::{self, EventKind};

/// The readable lines of `html` (a view's HTML or a whole page).
pub fn page_lines(html: &str) -> Vec<String> {
    let doc = dom::parse(html);
    let mut out = Lines::default();
    out.children(doc.root_element());
    out.flush();
    out.lines
}

/// Elements that start and end a line.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
    "caption",
    "legend",
];

/// Elements whose contents are not shown.
const HIDDEN: &[&str] = &["script", "style", "template", "head", "title", "noscript"];

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    /// The words of the line being built.
    cur: String,
    /// What the next line starts with: a list marker, or the indent that
    /// continues a list item.
    lead: String,
    /// The indent of the current list item's later lines.
    indent: String,
    /// How deep in lists we are.
    depth: usize,
}

impl Lines {
    fn flush(&mut self) {
        let text = collapse(&self.cur);
        self.cur.clear();
        if !text.is_empty() {
            self.lines.push(format!("{}{}", self.lead, text));
            self.lead = self.indent.clone();
        }
    }

    fn word(&mut self, w: &str) {
        self.cur.push(' ');
        self.cur.push_str(w);
        self.cur.push(' ');
    }

    fn children(&mut self, el: ElementRef<'_>) {
        for child in el.children() {
            match child.value() {
                Node::Text(t) => self.cur.push_str(&t.text),
                Node::Element(_) => {
                    if let Some(el) = ElementRef::wrap(child) {
                        self.element(el);
                    }
                }
                _ => {}
            }
        }
    }

    fn element(&mut self, el: ElementRef<'_>) {
        let e = el.value();
        let name = e.name();
        if HIDDEN.contains(&name) {
            return;
        }
        if name == "form" {
            self.flush();
            self.cur = form_line(el);
            self.flush();
        } else if let Some(event) = e.attr("phx-click") {
            let token = click_token(el, event);
            self.word(&token);
        } else if matches!(name, "input" | "select" | "textarea") {
            if let Some(token) = control_token(el) {
                self.word(&token);
            }
        } else if name == "a" && e.attr("href").is_some() {
            let label = label(el);
            self.word(&format!(
                "<{label} → {}>",
                e.attr("href").unwrap_or_default()
            ));
        } else if name == "br" {
            self.flush();
        } else if matches!(name, "ul" | "ol") {
            self.list(el);
        } else if name == "li" {
            self.item(el);
        } else if BLOCKS.contains(&name) {
            self.flush();
            self.children(el);
            self.flush();
        } else {
            if matches!(name, "td" | "th") {
                self.cur.push(' ');
            }
            self.children(el);
            if matches!(name, "td" | "th") {
                self.cur.push(' ');
            }
        }
    }

    fn list(&mut self, el: ElementRef<'_>) {
        self.flush();
        let (lead, indent) = (self.lead.clone(), self.indent.clone());
        self.depth += 1;
        self.children(el);
        self.flush();
        self.depth -= 1;
        self.lead = lead;
        self.indent = indent;
    }

    fn item(&mut self, el: ElementRef<'_>) {
        self.flush();
        let pad = "  ".repeat(self.depth.saturating_sub(1));
        let (lead, indent) = (self.lead.clone(), self.indent.clone());
        self.lead = format!("{pad}- ");
        self.indent = format!("{pad}  ");
        self.children(el);
        self.flush();
        self.lead = lead;
        self.indent = indent;
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a person reads on an element: its text, else its `aria-label`,
/// `title`, `value` or `alt`.
fn label(el: ElementRef<'_>) -> String {
    let text = dom::element_text(&el);
    if !text.is_empty() {
        return text;
    }
    ["aria-label", "title", "value", "alt"]
        .iter()
        .find_map(|a| el.value().attr(a).filter(|v| !v.trim().is_empty()))
        .map(collapse)
        .unwrap_or_default()
}

/// A name or value as typed at the prompt: bare when it is one plain word,
/// JSON-quoted otherwise.
fn shown(s: &str) -> String {
    if !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || "\"'[]{}<>=→".contains(c))
    {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn pairs(ps: &[(String, String)]) -> String {
    ps.iter()
        .map(|(k, v)| format!(" {}={}", shown(k), shown(v)))
        .collect()
}

fn click_token(el: ElementRef<'_>, event: &str) -> String {
    let values: Vec<(String, String)> = el
        .value()
        .attrs()
        .filter_map(|(n, v)| Some((n.strip_prefix("phx-value-")?.to_owned(), v.to_owned())))
        .collect();
    format!("[{} → click {}{}]", label(el), shown(event), pairs(&values))
}

/// A control outside a form: its name and value, and any binding on it.
fn control_token(el: ElementRef<'_>) -> Option<String> {
    let e = el.value();
    if e.attr("type")
        .is_some_and(|t| t.eq_ignore_ascii_case("hidden"))
    {
        return None;
    }
    let fields = events::form_fields(el);
    let mut s = match fields.first() {
        Some((k, v)) => format!("{{{}={}", shown(k), shown(v)),
        None => format!("{{{}", e.attr("name").unwrap_or(e.name())),
    };
    for kind in EventKind::ALL {
        if let Some(ev) = e.attr(kind.attribute()) {
            s.push_str(&format!(" → {} {}", kind.as_str(), shown(ev)));
        }
    }
    s.push('}');
    Some(s)
}

fn form_line(form: ElementRef<'_>) -> String {
    let e = form.value();
    let mut head = String::from("{form");
    match (e.attr("phx-submit"), e.attr("phx-change")) {
        (Some(s), Some(c)) => head.push_str(&format!(" {} (change {})", shown(s), shown(c))),
        (Some(s), None) => head.push_str(&format!(" {}", shown(s))),
        (None, Some(c)) => head.push_str(&format!(" change {}", shown(c))),
        (None, None) => {}
    }
    head.push(':');
    let fields: Vec<(String, String)> = events::form_fields(form)
        .into_iter()
        // The CSRF token every Phoenix form carries is noise here.
        .filter(|(k, _)| k != "_csrf_token")
        .collect();
    head.push_str(&pairs(&fields));
    for b in form.descendants().filter_map(ElementRef::wrap) {
        let be = b.value();
        let ty = be.attr("type").map(str::to_ascii_lowercase);
        let submit = match be.name() {
            "button" => ty.is_none_or(|t| t == "submit"),
            "input" => ty.is_some_and(|t| t == "submit"),
            _ => false,
        };
        if let Some(ev) = be.attr("phx-click") {
            head.push(' ');
            head.push_str(&click_token(b, ev));
        } else if submit {
            head.push_str(&format!(" [{}]", label(b)));
        }
    }
    head.push('}');
    head
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::Rendered;
    use super::super::frames::{V11, V020};
    use super::*;

    fn joined(frame: &str) -> Rendered {
        let v: Value = serde_json::from_str(frame).unwrap();
        Rendered::join(&v[4]["response"]["rendered"]).unwrap().0
    }

    #[test]
    fn the_counter_page_of_both_transcripts() {
        for frames in [V020, V11] {
            let mut r = joined(frames[0]);
            assert_eq!(
                page_lines(&r.to_html()),
                [
                    "Count: 0",
                    "Ticks: 0",
                    "[+1 → click inc] [-1 → click dec]",
                    "{form set: value=0 [Set]}",
                    "- count 0",
                ]
            );
            // After inc, inc: the history lists newest first.
            for f in &frames[1..3] {
                let v: Value = serde_json::from_str(f).unwrap();
                r.merge(&v[4]["response"]["diff"]).unwrap();
            }
            let lines = page_lines(&r.to_html());
            assert_eq!(lines[0], "Count: 2");
            assert_eq!(lines[3], "{form set: value=2 [Set]}");
            assert_eq!(lines[4..], ["- count 2", "- count 1", "- count 0"]);
        }
    }

    #[test]
    fn links_values_nested_lists_and_controls() {
        let html = r#"<header><a href="/" data-phx-link="redirect">Home</a> | <a href="/about">About <b>us</b></a></header>
<p>Hello <em>ana</em>!<br>second line</p>
<ul><li>one<ul><li>one.a</li><li><button phx-click="del" phx-value-id="7" phx-value-note="a b">Delete</button></li></ul></li><li>two</li></ul>
<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ana</td><td>7</td></tr></table>
<input name="q" value="x" phx-keyup="search"><input type="hidden" name="h" value="1">
<div phx-click="close" aria-label="Close"></div><script>alert(1)</script><!-- note -->"#;
        assert_eq!(
            page_lines(html),
            [
                "<Home → /> | <About us → /about>",
                "Hello ana!",
                "second line",
                "- one",
                "  - one.a",
                r#"  - [Delete → click del id=7 note="a b"]"#,
                "- two",
                "Name Age",
                "Ana 7",
                "{q=x → keyup search} [Close → click close]",
            ]
        );
    }

    #[test]
    fn forms_show_their_events_fields_and_buttons() {
        let html = r#"<form phx-submit="send" phx-change="typing"><input type="hidden" name="_csrf_token" value="T">
<label>Body <input name="body" value="hi there"></label><input type="checkbox" name="x">
<button type="button" phx-click="clear">Clear</button><button>Send</button></form>
<form phx-change="filter"><select name="s"><option value="a">A</option></select></form>"#;
        assert_eq!(
            page_lines(html),
            [
                r#"{form send (change typing): body="hi there" [Clear → click clear] [Send]}"#,
                "{form change filter: s=a}",
            ]
        );
        assert!(page_lines("").is_empty());
    }
}
