//! CSS selection over a LiveView's HTML, for the `html SELECTOR` and
//! `text SELECTOR` commands and their assertions: the outer HTML or the
//! visible text of each matching element, in document order. Parsing and
//! matching are the `scraper` crate's (html5ever and Servo's selectors, the
//! rules a browser follows); the text is [`super::text_of`]'s, so
//! `text h1` and the page text agree on what a person sees.
//!
//! A view's HTML is a fragment (what goes inside its element); a whole page
//! (starting with a doctype or `<html>`) is parsed as a document.

use scraper::error::SelectorErrorKind;
use scraper::{ElementRef, Html, Selector};

use super::html::text_of;

/// A selector the user typed that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("empty CSS selector: give one such as h1, #history or \"ul#history li\"")]
    Empty,
    #[error(
        "bad CSS selector {selector:?}: {reason} (selectors look like h1, #history li, [phx-click=inc])"
    )]
    Invalid {
        selector: String,
        reason: &'static str,
    },
}

/// Parses a selector the user typed.
pub fn selector(css: &str) -> Result<Selector, SelectorError> {
    if css.trim().is_empty() {
        return Err(SelectorError::Empty);
    }
    Selector::parse(css).map_err(|e| SelectorError::Invalid {
        selector: css.to_owned(),
        reason: reason(&e),
    })
}

/// The outer HTML of each element of `html` matching `css`.
pub fn select_html(html: &str, css: &str) -> Result<Vec<String>, SelectorError> {
    let sel = selector(css)?;
    Ok(parse(html).select(&sel).map(|e| e.html()).collect())
}

/// The visible text of each element of `html` matching `css`, whitespace
/// collapsed.
pub fn select_text(html: &str, css: &str) -> Result<Vec<String>, SelectorError> {
    let sel = selector(css)?;
    Ok(parse(html).select(&sel).map(|e| element_text(&e)).collect())
}

/// An element's visible text, as [`text_of`] reads it.
pub(crate) fn element_text(e: &ElementRef<'_>) -> String {
    text_of(&e.inner_html())
}

/// Parses a view's HTML (a fragment) or a whole page.
pub(crate) fn parse(html: &str) -> Html {
    let head = html
        .trim_start()
        .get(..9)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype") || head.starts_with("<html") {
        Html::parse_document(html)
    } else {
        Html::parse_fragment(html)
    }
}

fn reason(e: &SelectorErrorKind) -> &'static str {
    match e {
        SelectorErrorKind::EndOfLine => "it ends too soon",
        SelectorErrorKind::UnexpectedToken => "unexpected character or word",
        SelectorErrorKind::ExpectedColonOnPseudoElement
        | SelectorErrorKind::ExpectedIdentityOnPseudoElement => "malformed pseudo-element",
        SelectorErrorKind::InvalidAtRule
        | SelectorErrorKind::InvalidAtRuleBody
        | SelectorErrorKind::QualRuleInvalid
        | SelectorErrorKind::TooManyNestedBlocks => "not a selector",
        // scraper's own text for these is several lines long; most are an
        // unknown pseudo-class or a misplaced combinator.
        SelectorErrorKind::UnexpectedSelectorParseError(_) => "unsupported or malformed here",
    }
}

#[cfg(test)]
mod tests {
    use super::super::frames::DEAD_V11;
    use super::*;

    #[test]
    fn selects_outer_html_and_text_in_document_order() {
        assert_eq!(select_html(DEAD_V11, "h1").unwrap(), ["<h1>Count: 0</h1>"]);
        assert_eq!(
            select_html(DEAD_V11, "button[phx-click]").unwrap(),
            [
                r#"<button phx-click="inc">+1</button>"#,
                r#"<button phx-click="dec">-1</button>"#
            ]
        );
        assert_eq!(select_text(DEAD_V11, "ul#history li").unwrap(), ["count 0"]);
        assert_eq!(select_text(DEAD_V11, "form").unwrap(), ["Set"]);
        assert_eq!(
            select_text(DEAD_V11, "p, h1").unwrap(),
            ["Count: 0", "Ticks: 0"]
        );
        assert!(select_text(DEAD_V11, "table").unwrap().is_empty());
    }

    #[test]
    fn text_is_what_a_person_sees() {
        let html = "<div id=a>  one\n <b>two</b>&amp;<script>x()</script><p>three</p></div>";
        assert_eq!(select_text(html, "#a").unwrap(), ["one two& three"]);
    }

    #[test]
    fn whole_pages_parse_as_documents() {
        let page =
            "<!DOCTYPE html><html><head><title>T</title></head><body><h1>x</h1></body></html>";
        assert_eq!(select_text(page, "head title").unwrap(), ["T"]);
        assert_eq!(select_text(page, "body > h1").unwrap(), ["x"]);
    }

    #[test]
    fn bad_selectors_say_what_is_wrong_in_one_line() {
        for bad in ["h1 >", "##x", "li:nope", "p[=x]", "a,,b"] {
            let Err(e) = select_html(DEAD_V11, bad) else {
                panic!("{bad} parsed")
            };
            let msg = e.to_string();
            assert!(matches!(e, SelectorError::Invalid { .. }), "{bad}: {msg}");
            assert!(!msg.contains('\n') && msg.contains(bad), "{bad}: {msg}");
        }
        assert_eq!(select_text("", "  ").unwrap_err(), SelectorError::Empty);
    }
}
