//! A tag scanner over HTML source text: where each start and end tag sits,
//! byte for byte. An HTML parser rebuilds the document (entities decoded,
//! attributes re-quoted, missing end tags added), so the text it serialises
//! back differs from what the server sent; [`super::page`] needs the dead
//! render exactly as sent, so it finds the element with the parser and cuts
//! the element's inner HTML out of the source with these positions.
//!
//! It follows the tokenizer rules a browser uses for the cases that move a
//! tag boundary: quoted attribute values may hold `>`, comments and
//! `<!…>`/`<?…>` declarations are skipped, and the contents of raw-text
//! elements (`script`, `style`, `textarea`, `title`) are not tags.

/// One tag found in the source. `start..end` covers it from `<` to just
/// past `>`. Attribute values are the raw source text (entities not
/// decoded), which is enough to match a tag to the parser's element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tag<'s> {
    Start {
        name: String,
        attrs: Vec<(String, &'s str)>,
        self_closing: bool,
        start: usize,
        end: usize,
    },
    End {
        name: String,
        start: usize,
        end: usize,
    },
}

/// Elements whose contents the tokenizer reads as text up to their end tag.
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title"];

/// The tags of `src` in order.
pub(crate) fn tags(src: &str) -> Tags<'_> {
    Tags { src, pos: 0 }
}

pub(crate) struct Tags<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Iterator for Tags<'s> {
    type Item = Tag<'s>;

    fn next(&mut self) -> Option<Tag<'s>> {
        let b = self.src.as_bytes();
        while let Some(off) = self.src[self.pos..].find('<') {
            let at = self.pos + off;
            let rest = &self.src[at..];
            if rest.starts_with("<!--") {
                self.pos = find_from(self.src, at + 4, "-->").map_or(b.len(), |e| e + 3);
            } else if rest.starts_with("<!") || rest.starts_with("<?") {
                self.pos = find_from(self.src, at, ">").map_or(b.len(), |e| e + 1);
            } else if rest.starts_with("</") && b.get(at + 2).is_some_and(u8::is_ascii_alphabetic) {
                let (name, after) = tag_name(self.src, at + 2);
                let end = find_from(self.src, after, ">").map_or(b.len(), |e| e + 1);
                self.pos = end;
                return Some(Tag::End {
                    name,
                    start: at,
                    end,
                });
            } else if b.get(at + 1).is_some_and(u8::is_ascii_alphabetic) {
                let (name, after) = tag_name(self.src, at + 1);
                let (attrs, self_closing, end) = attributes(self.src, after);
                self.pos = end;
                if RAW_TEXT.contains(&name.as_str()) {
                    self.pos = raw_text_end(self.src, end, &name);
                }
                return Some(Tag::Start {
                    name,
                    attrs,
                    self_closing,
                    start: at,
                    end,
                });
            } else {
                self.pos = at + 1;
            }
        }
        self.pos = b.len();
        None
    }
}

fn find_from(src: &str, from: usize, needle: &str) -> Option<usize> {
    src.get(from..)?.find(needle).map(|i| from + i)
}

/// Where the end tag of a raw-text element starts (or the end of input).
fn raw_text_end(src: &str, from: usize, name: &str) -> usize {
    let lower = src[from..].to_ascii_lowercase();
    let close = format!("</{name}");
    lower.find(&close).map_or(src.len(), |i| from + i)
}

/// A tag name starting at `from`, lowercased, and where it ends.
fn tag_name(src: &str, from: usize) -> (String, usize) {
    let b = src.as_bytes();
    let mut i = from;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    (src[from..i].to_ascii_lowercase(), i)
}

/// The attributes from `from` to the end of the start tag: each name
/// (lowercased) with its raw value, whether the tag ends `/>`, and the
/// position just past `>`.
fn attributes(src: &str, from: usize) -> (Vec<(String, &str)>, bool, usize) {
    let b = src.as_bytes();
    let mut attrs = Vec::new();
    let mut i = from;
    let mut self_closing = false;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return (attrs, self_closing, b.len()),
            Some(b'>') => return (attrs, self_closing, i + 1),
            Some(b'/') => {
                self_closing = b.get(i + 1) == Some(&b'>');
                i += 1;
                continue;
            }
            Some(_) => self_closing = false,
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        // A name may begin with `=` or `/` in the tokenizer's eyes; take
        // at least one byte so the loop always moves.
        if i == name_start {
            i += 1;
        }
        let name = src[name_start..i].to_ascii_lowercase();
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) != Some(&b'=') {
            attrs.push((name, ""));
            continue;
        }
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let (value, next) = attr_value(src, j);
        attrs.push((name, value));
        i = next;
    }
}

fn attr_value(src: &str, from: usize) -> (&str, usize) {
    let b = src.as_bytes();
    match b.get(from) {
        Some(&q @ (b'"' | b'\'')) => match src[from + 1..].find(q as char) {
            Some(e) => (&src[from + 1..from + 1 + e], from + e + 2),
            None => (&src[from + 1..], b.len()),
        },
        _ => {
            let mut i = from;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                i += 1;
            }
            (&src[from..i], i)
        }
    }
}

/// The source text inside the element whose start tag is the first to
/// satisfy `is_it`, up to its matching end tag: `None` when no tag
/// satisfies it or its end tag is missing.
pub(crate) fn inner_source(src: &str, is_it: impl Fn(&Tag<'_>) -> bool) -> Option<&str> {
    let mut it = tags(src);
    let (name, from) = it.by_ref().find_map(|t| match &t {
        Tag::Start {
            name,
            self_closing: false,
            end,
            ..
        } if is_it(&t) => Some((name.clone(), *end)),
        _ => None,
    })?;
    let mut depth = 1usize;
    for t in it {
        match t {
            Tag::Start {
                name: n,
                self_closing: false,
                ..
            } if n == name => depth += 1,
            Tag::End { name: n, start, .. } if n == name => {
                depth -= 1;
                if depth == 0 {
                    return Some(&src[from..start]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        tags(src)
            .map(|t| match t {
                Tag::Start { name, .. } => name,
                Tag::End { name, .. } => format!("/{name}"),
            })
            .collect()
    }

    #[test]
    fn quotes_comments_and_raw_text_do_not_make_tags() {
        let src =
            r#"<a title="x > y" href=/p>t</a><!-- <b> --><script>if (a<b) "</div>"</script><br/>"#;
        assert_eq!(names(src), ["a", "/a", "script", "/script", "br"]);
        let Some(Tag::Start { attrs, .. }) = tags(src).next() else {
            panic!()
        };
        assert_eq!(
            attrs,
            [("title".to_string(), "x > y"), ("href".to_string(), "/p")]
        );
    }

    #[test]
    fn inner_source_matches_nested_same_name_tags() {
        let src = "<div id=a><div id=b>x</div> &amp; <DIV>y</DIV></div><div>z</div>";
        let inner = inner_source(
            src,
            |t| matches!(t, Tag::Start { attrs, .. } if attrs.iter().any(|(n, v)| n == "id" && *v == "a")),
        );
        assert_eq!(inner, Some("<div id=b>x</div> &amp; <DIV>y</DIV>"));
        assert_eq!(inner_source("<div id=a>open", |_| true), None);
    }

    #[test]
    fn truncated_input_ends_cleanly() {
        for src in [
            "<",
            "<a",
            "<a b=\"",
            "<!--",
            "</",
            "<a b='c' /",
            "<script>x",
            "<a =x>",
        ] {
            let _ = tags(src).count();
        }
    }
}
