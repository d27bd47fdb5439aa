//! A fetched LiveView page, parsed: the CSRF token of its
//! `<meta name="csrf-token">`, its `<title>`, and every LiveView element
//! in it — what a client needs to join (docs/PROTOCOL.md §10 "Getting in").
//!
//! A LiveView element is any element with `data-phx-session` (the JS
//! client's `PHX_VIEW_SELECTOR`). The main one carries `data-phx-main`;
//! nested views carry `data-phx-parent-id`, and sticky ones
//! `data-phx-sticky`. The element's inner HTML is the server's dead render,
//! which the rendered tree of the join reply must reproduce, so it is taken
//! byte for byte from the page's source text ([`super::source`]) rather than
//! from the parser's re-serialisation, which would re-quote attributes and
//! decode entities.

use scraper::{ElementRef, Html, Selector};

use super::source::{self, Tag};

/// One LiveView element of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewElement {
    /// The element's `id`; the view joins topic `lv:ID`.
    pub id: String,
    /// `data-phx-session`, sent as the join's `session`.
    pub session: String,
    /// `data-phx-static`, sent as the join's `static`; `None` when absent or
    /// empty (view.js `getStatic` sends `null` for an empty one).
    pub static_token: Option<String>,
    /// `data-phx-parent-id`: the parent view's id for a nested view.
    pub parent_id: Option<String>,
    /// `data-phx-sticky`: a view that survives live navigation.
    pub sticky: bool,
    /// `data-phx-main`: the view live navigation replaces.
    pub main: bool,
    /// The element's inner HTML exactly as the page has it.
    pub inner_html: String,
}

/// What a LiveView client reads off a fetched page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// `<meta name="csrf-token" content=…>`: the socket's `_csrf_token`
    /// and the join's `params._csrf_token`.
    pub csrf_token: Option<String>,
    /// The `<title>` text, whitespace collapsed.
    pub title: Option<String>,
    /// Every LiveView element, in document order.
    pub views: Vec<ViewElement>,
}

impl Page {
    /// Parses a page. Never fails: a page without LiveView elements has an
    /// empty `views`, and the caller says so.
    pub fn parse(html: &str) -> Page {
        let doc = Html::parse_document(html);
        let csrf_token = first(&doc, r#"meta[name="csrf-token"]"#)
            .and_then(|m| m.value().attr("content"))
            .map(str::to_owned);
        let title = first(&doc, "title").map(|t| collapse(&t.text().collect::<String>()));
        let views = all(&doc, "[data-phx-session]")
            .map(|el| view_element(html, el))
            .collect();
        Page {
            csrf_token,
            title,
            views,
        }
    }

    /// The view to join first: the one marked `data-phx-main`, or else the
    /// first without a parent (the JS client joins every root view and
    /// treats a marked one as main).
    pub fn main(&self) -> Option<&ViewElement> {
        self.views
            .iter()
            .find(|v| v.main)
            .or_else(|| self.views.iter().find(|v| v.parent_id.is_none()))
    }

    /// The views nested directly in the view `id`.
    pub fn children<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a ViewElement> + 'a {
        self.views
            .iter()
            .filter(move |v| v.parent_id.as_deref() == Some(id))
    }
}

fn selector(css: &str) -> Selector {
    // The selectors here are constants known to parse.
    Selector::parse(css).expect("constant selector")
}

fn first<'a>(doc: &'a Html, css: &str) -> Option<ElementRef<'a>> {
    doc.select(&selector(css)).next()
}

fn all<'a>(doc: &'a Html, css: &str) -> impl Iterator<Item = ElementRef<'a>> {
    let sel = selector(css);
    doc.select(&sel).collect::<Vec<_>>().into_iter()
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn view_element(src: &str, el: ElementRef<'_>) -> ViewElement {
    let v = el.value();
    let attr = |n: &str| v.attr(n).map(str::to_owned);
    let id = attr("id").unwrap_or_default();
    let inner_html = source_inner(src, v.name(), &id).unwrap_or_else(|| el.inner_html());
    ViewElement {
        session: attr("data-phx-session").unwrap_or_default(),
        static_token: attr("data-phx-static").filter(|s| !s.is_empty()),
        parent_id: attr("data-phx-parent-id").filter(|s| !s.is_empty()),
        sticky: v.attr("data-phx-sticky").is_some(),
        main: v.attr("data-phx-main").is_some(),
        inner_html,
        id,
    }
}

/// The inner HTML of the `name` element with `data-phx-session` and this
/// `id`, cut from the source. `None` when the source cannot be matched to
/// the parser's element (no id, an id written with entities, an element
/// the parser closed implicitly); the caller then uses the parser's
/// serialisation.
fn source_inner(src: &str, name: &str, id: &str) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    source::inner_source(src, |t| match t {
        Tag::Start { name: n, attrs, .. } => {
            n == name
                && attrs.iter().any(|(a, _)| a == "data-phx-session")
                && attrs.iter().any(|(a, v)| a == "id" && *v == id)
        }
        Tag::End { .. } => false,
    })
    .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::Rendered;
    use super::super::frames::{DEAD_V020, V020};
    use super::*;

    /// A page in the shape Phoenix 1.7/1.8 serve (root layout, CSRF meta,
    /// `live_title`, the main view's element), around the counter's dead
    /// render with its whitespace as the server sends it.
    const COUNTER_DEAD: &str = "<h1>Count: 0</h1>\n<p>Ticks: 0</p>\n<button phx-click=\"inc\">+1</button>\n<button phx-click=\"dec\">-1</button>\n<form phx-submit=\"set\">\n  <input type=\"text\" name=\"value\" value=\"0\">\n  <button type=\"submit\">Set</button>\n</form>\n<ul id=\"history\">\n  \n    <li>count 0</li>\n  \n</ul>";

    fn counter_page() -> String {
        format!(
            r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="csrf-token" content="YF95HC4-XkV9AB83EhIRAQZMMy47OB0FVm3Oxki3MsIAaSeVvtliuHgC">
    <title data-default="Counter" data-suffix=" · Phoenix Framework">
Counter
     · Phoenix Framework</title>
    <script defer phx-track-static type="text/javascript" src="/assets/app.js"></script>
  </head>
  <body>
    <div id="phx-GO6GYTvTXqzGvAgR" data-phx-main data-phx-session="SFMyNTY.g2gDaAJh.3nom" data-phx-static="SFMyNTY.g2gDaAJhBXQ.yadY">{COUNTER_DEAD}</div>
  </body>
</html>"#
        )
    }

    #[test]
    fn the_counter_page_gives_token_title_and_its_dead_render_verbatim() {
        let page = Page::parse(&counter_page());
        assert_eq!(
            page.csrf_token.as_deref(),
            Some("YF95HC4-XkV9AB83EhIRAQZMMy47OB0FVm3Oxki3MsIAaSeVvtliuHgC")
        );
        assert_eq!(page.title.as_deref(), Some("Counter · Phoenix Framework"));
        assert_eq!(page.views.len(), 1);
        let main = page.main().unwrap();
        assert_eq!(main.id, "phx-GO6GYTvTXqzGvAgR");
        assert_eq!(main.session, "SFMyNTY.g2gDaAJh.3nom");
        assert_eq!(
            main.static_token.as_deref(),
            Some("SFMyNTY.g2gDaAJhBXQ.yadY")
        );
        assert!(main.main && !main.sticky && main.parent_id.is_none());
        assert_eq!(main.inner_html, COUNTER_DEAD);
        let squeezed = main
            .inner_html
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(squeezed, DEAD_V020);
        // The recorded join reply's tree renders to it exactly.
        let frame: serde_json::Value = serde_json::from_str(V020[0]).unwrap();
        let (tree, _) = Rendered::join(&frame[4]["response"]["rendered"]).unwrap();
        assert_eq!(tree.dead_html(), main.inner_html);
    }

    #[test]
    fn the_recorded_element_line_parses() {
        // The element as the transcript prints it (whitespace squeezed).
        let line = format!(
            r#"<div id="phx-GO6GYTvTXqzGvAgR" data-phx-main data-phx-session="S" data-phx-static="T">{DEAD_V020}</div>"#
        );
        let page = Page::parse(&line);
        assert_eq!(page.main().unwrap().inner_html, DEAD_V020);
        assert_eq!(page.csrf_token, None);
        assert_eq!(page.title, None);
    }

    #[test]
    fn inner_html_is_the_source_text_not_the_parsers() {
        // The parser would write `&amp;` for `&`, re-quote `x=1`, drop the
        // comment's spacing and close the `<p>`; the source stays as sent.
        let inner = "<p class=x>a & b<!-- c -->\n<input value='1' disabled>";
        let src = format!(r#"<div id="v" data-phx-session="s">{inner}</div>"#);
        assert_eq!(Page::parse(&src).views[0].inner_html, inner);
    }

    #[test]
    fn nested_and_sticky_views_in_document_order() {
        let src = r#"<html><head><meta name="csrf-token" content="T"></head><body>
<div id="phx-root" data-phx-main data-phx-session="S1" data-phx-static="ST1"><h1>Root</h1><div id="clock" data-phx-session="S2" data-phx-static="" data-phx-parent-id="phx-root"><div>nested <b>clock</b></div></div><p>after</p></div>
<div id="phx-sticky" data-phx-session="S3" data-phx-sticky data-phx-static="ST3"><nav>menu</nav></div>
</body></html>"#;
        let page = Page::parse(src);
        let ids: Vec<&str> = page.views.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["phx-root", "clock", "phx-sticky"]);
        let [root, clock, sticky] = &page.views[..] else {
            panic!()
        };
        assert_eq!(
            root.inner_html,
            r#"<h1>Root</h1><div id="clock" data-phx-session="S2" data-phx-static="" data-phx-parent-id="phx-root"><div>nested <b>clock</b></div></div><p>after</p>"#
        );
        assert_eq!(clock.parent_id.as_deref(), Some("phx-root"));
        assert_eq!(clock.static_token, None, "an empty data-phx-static is null");
        assert_eq!(clock.inner_html, "<div>nested <b>clock</b></div>");
        assert!(sticky.sticky && !sticky.main && sticky.parent_id.is_none());
        assert_eq!(sticky.inner_html, "<nav>menu</nav>");
        assert_eq!(page.main().unwrap().id, "phx-root");
        let kids: Vec<&str> = page.children("phx-root").map(|v| v.id.as_str()).collect();
        assert_eq!(kids, ["clock"]);
    }

    #[test]
    fn without_a_main_mark_the_first_root_view_is_main() {
        let src = r#"<div id="c" data-phx-parent-id="r" data-phx-session="2"></div><div id="r" data-phx-session="1">x</div>"#;
        assert_eq!(Page::parse(src).main().unwrap().id, "r");
    }

    #[test]
    fn a_page_without_views_has_none() {
        let page = Page::parse(
            "<html><title>Log in</title><body><form action=/login></form></body></html>",
        );
        assert!(page.views.is_empty() && page.main().is_none());
        assert_eq!(page.title.as_deref(), Some("Log in"));
        assert_eq!(Page::parse(""), Page::default());
    }

    #[test]
    fn an_unclosed_view_falls_back_to_the_parser() {
        let page = Page::parse(r#"<div id="v" data-phx-session="s"><p>open"#);
        assert_eq!(page.views[0].inner_html, "<p>open</p>");
    }
}
