//! Tests of the LiveView tree: the recorded 0.20 and 1.1 frames replayed
//! against their own dead renders, the shapes rendered.js documents (keyed
//! moves, templates, shared component statics), errors, and garbled input
//! that must never panic.

use serde_json::{Value, json};

use super::frames::{DEAD_V11, DEAD_V020, V11, V020};
use super::*;

/// Whitespace runs as single spaces, as the transcript squeezes them.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `rendered` of a join reply or the `diff` of an event reply or push;
/// `None` for a reply with neither.
fn tree_of(frame: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(frame).unwrap();
    let payload = &v[4];
    match v[3].as_str().unwrap() {
        "diff" => Some(payload.clone()),
        "phx_reply" => {
            let resp = &payload["response"];
            resp.get("rendered").or(resp.get("diff")).cloned()
        }
        other => panic!("unexpected event {other}"),
    }
}

/// Joins with the first frame and merges the rest, returning the tree and
/// each step's text and change lines.
fn replay(frames: &[&str]) -> (Rendered, Vec<(String, Vec<String>)>) {
    let (mut r, _) = Rendered::join(&tree_of(frames[0]).unwrap()).unwrap();
    let mut steps = vec![(r.text(), Vec::new())];
    for f in &frames[1..] {
        let lines = match tree_of(f) {
            Some(diff) => {
                let u = r.merge(&diff).unwrap();
                u.changes.iter().map(ToString::to_string).collect()
            }
            None => Vec::new(),
        };
        steps.push((r.text(), lines));
    }
    (r, steps)
}

#[test]
fn join_renders_the_dead_render_in_both_versions() {
    for (frames, dead) in [(V020, DEAD_V020), (V11, DEAD_V11)] {
        let (r, u) = Rendered::join(&tree_of(frames[0]).unwrap()).unwrap();
        assert_eq!(squeeze(&r.dead_html()), dead);
        // No components on this page, so the browser's view is the same.
        assert_eq!(r.to_html(), r.dead_html());
        assert!(u.changes.is_empty() && u.events.is_empty() && u.title.is_none());
        assert_eq!(
            r.text(),
            "Count: 0 Ticks: 0 +1 -1 Set count 0",
            "the visible text of the page"
        );
    }
}

#[test]
fn v020_events_and_ticks() {
    let (r, steps) = replay(V020);
    let texts: Vec<&str> = steps.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Count: 0 Ticks: 0 +1 -1 Set count 0",
            "Count: 1 Ticks: 0 +1 -1 Set count 1 count 0",
            "Count: 2 Ticks: 0 +1 -1 Set count 2 count 1 count 0",
            "Count: 1 Ticks: 0 +1 -1 Set count 1 count 2 count 1",
            "Count: 42 Ticks: 0 +1 -1 Set count 42 count 1 count 2",
            "Count: 42 Ticks: 0 +1 -1 Set count 42 count 1 count 2",
            "Count: 42 Ticks: 1 +1 -1 Set count 42 count 1 count 2",
            "Count: 42 Ticks: 2 +1 -1 Set count 42 count 1 count 2",
        ]
    );
    // inc: the heading, the input's value attribute, a row at the top.
    assert_eq!(
        steps[1].1,
        [
            r#"~ h1 "Count: 0" → "Count: 1""#,
            r#"~ input[name=value] value="0" → value="1""#,
            r#"+ li "count 1""#,
        ]
    );
    // dec: 0.20 resends every row; aligned with the old ones, one row
    // came at the top and the last went.
    assert_eq!(
        steps[3].1,
        [
            r#"~ h1 "Count: 2" → "Count: 1""#,
            r#"~ input[name=value] value="2" → value="1""#,
            r#"+ li "count 1""#,
            r#"- li "count 0""#,
        ]
    );
    // set 42.
    assert_eq!(
        steps[4].1,
        [
            r#"~ h1 "Count: 1" → "Count: 42""#,
            r#"~ input[name=value] value="1" → value="42""#,
            r#"+ li "count 42""#,
            r#"- li "count 1""#,
        ]
    );
    // The server's ticks.
    assert_eq!(steps[6].1, [r#"~ p "Ticks: 0" → "Ticks: 1""#]);
    assert_eq!(steps[7].1, [r#"~ p "Ticks: 1" → "Ticks: 2""#]);
    assert!(steps[5].1.is_empty(), "an empty reply changes nothing");
    assert!(
        r.dead_html()
            .contains(r#"<input type="text" name="value" value="42">"#)
    );
}

#[test]
fn v11_keyed_events_and_ticks() {
    let (_, steps) = replay(V11);
    let texts: Vec<&str> = steps.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Count: 0 Ticks: 0 +1 -1 Set count 0",
            "Count: 1 Ticks: 0 +1 -1 Set count 1 count 0",
            "Count: 2 Ticks: 0 +1 -1 Set count 2 count 1 count 0",
            "Count: 42 Ticks: 0 +1 -1 Set count 42 count 2 count 1",
            "Count: 42 Ticks: 0 +1 -1 Set count 42 count 2 count 1",
            "Count: 42 Ticks: 1 +1 -1 Set count 42 count 2 count 1",
            "Count: 42 Ticks: 2 +1 -1 Set count 42 count 2 count 1",
        ]
    );
    // Every position is named from 0 to the end, so the rows compare as a
    // window: one row added at the top.
    assert_eq!(
        steps[1].1,
        [
            r#"~ h1 "Count: 0" → "Count: 1""#,
            r#"~ input[name=value] value="0" → value="1""#,
            r#"+ li "count 1""#,
        ]
    );
    assert_eq!(steps[2].1[2], r#"+ li "count 2""#);
    assert_eq!(
        steps[3].1,
        [
            r#"~ h1 "Count: 2" → "Count: 42""#,
            r#"~ input[name=value] value="2" → value="42""#,
            r#"+ li "count 42""#,
            r#"- li "count 0""#,
        ]
    );
    assert_eq!(steps[5].1, [r#"~ p "Ticks: 0" → "Ticks: 1""#]);
    assert_eq!(steps[6].1, [r#"~ p "Ticks: 1" → "Ticks: 2""#]);
    // The path stays with each change, for the JSON record.
    let (mut r, _) = replay(&V11[..1]);
    let u = r.merge(&tree_of(V11[1]).unwrap()).unwrap();
    let paths: Vec<String> = u
        .changes
        .iter()
        .map(|c| change::path_string(&c.path))
        .collect();
    assert_eq!(paths, ["0", "2", "3[0]"]);
}

/// The 1.1 tree after the same events renders what the 0.20 one does.
#[test]
fn both_formats_agree() {
    let (a, _) = replay(&[V020[0], V020[1], V020[2]]);
    let (b, _) = replay(&[V11[0], V11[1], V11[2]]);
    assert_eq!(a.dead_html(), b.dead_html());
}

fn keyed_list() -> Rendered {
    let (r, _) = Rendered::join(&json!({
        "0": {"k": {"0": {"0": "first", "1": "unchanged"},
                    "1": {"0": "second", "1": "old"}, "kc": 2},
              "s": ["<li>", " ", "</li>"]},
        "s": ["<ul>", "</ul>"]
    }))
    .unwrap();
    r
}

#[test]
fn keyed_moves_read_old_positions() {
    let mut r = keyed_list();
    let u = r
        .merge(&json!({"0": {"k": {"0": [1, {"1": "updated"}], "1": 0, "kc": 2, "km": true}}}))
        .unwrap();
    assert_eq!(
        r.dead_html(),
        "<ul><li>second updated</li><li>first unchanged</li></ul>"
    );
    let lines: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines, [r#"+ li "second updated""#, r#"- li "second old""#,]);
}

#[test]
fn keyed_count_drops_and_in_place_changes() {
    let mut r = keyed_list();
    let u = r.merge(&json!({"0": {"k": {"kc": 1}}})).unwrap();
    assert_eq!(r.dead_html(), "<ul><li>first unchanged</li></ul>");
    assert_eq!(u.changes[0].to_string(), r#"- li "second old""#);
    // A change to one entry, far from the end, is reported for that entry.
    let mut r = keyed_list();
    r.merge(&json!({"0": {"k": {"0": {"0": "1st"}, "kc": 3, "2": {"0": "c", "1": "d"}}}}))
        .map(|_| ())
        .unwrap();
    assert_eq!(
        r.dead_html(),
        "<ul><li>1st unchanged</li><li>second old</li><li>c d</li></ul>"
    );
}

#[test]
fn keyed_diff_touches_only_what_it_names() {
    let entries: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (i.to_string(), json!({"0": i.to_string()})))
        .chain([("kc".to_string(), json!(10_000))])
        .collect();
    let (mut r, _) =
        Rendered::join(&json!({"0": {"k": entries, "s": ["<p>", "</p>"]}, "s": ["", ""]})).unwrap();
    let u = r
        .merge(&json!({"0": {"k": {"5000": {"0": "changed"}, "kc": 10_000}}}))
        .unwrap();
    let lines: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines, [r#"~ p "5000" → "changed""#]);
    assert!(
        r.dead_html()
            .contains("<p>4999</p><p>changed</p><p>5001</p>")
    );
}

#[test]
fn long_d_lists_report_only_the_rows_that_changed() {
    // 600 rows: too many to align (600 × 600 pairs), so the rows between
    // the equal ends pair up by position; the equal pairs among them are
    // not changes.
    let rows = |changed: &[(usize, &str)]| -> Value {
        let d: Vec<Value> = (0..600)
            .map(|i| {
                let t = changed
                    .iter()
                    .find(|(c, _)| *c == i)
                    .map_or(i.to_string(), |(_, t)| t.to_string());
                json!([t])
            })
            .collect();
        Value::Array(d)
    };
    let (mut r, _) =
        Rendered::join(&json!({"0": {"d": rows(&[]), "s": ["<p>", "</p>"]}, "s": ["", ""]}))
            .unwrap();
    let u = r
        .merge(&json!({"0": {"d": rows(&[(3, "x"), (590, "y")])}}))
        .unwrap();
    let lines: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines, [r#"~ p "3" → "x""#, r#"~ p "590" → "y""#]);
}

#[test]
fn templates_resolve_integer_statics_at_any_level() {
    // An empty list renders as "" at the join; its statics come in a
    // diff-level "p" with the first rows (LiveView 1.1).
    let (mut r, _) = Rendered::join(&json!({
        "0": "", "1": {"0": "x", "s": 0},
        "p": {"0": ["<b>", "</b>"], "1": ["<main>", "", "</main>"]}, "s": 1
    }))
    .unwrap();
    assert_eq!(r.dead_html(), "<main><b>x</b></main>");
    let u = r
        .merge(&json!({
            "0": {"k": {"0": {"0": {"0": "a", "s": 1}}, "kc": 1}, "s": 0},
            "p": {"0": ["<li>", "</li>"], "1": ["<i>", "</i>"]}
        }))
        .unwrap();
    assert_eq!(r.dead_html(), "<main><li><i>a</i></li><b>x</b></main>");
    assert_eq!(u.changes[0].to_string(), r#"~ main "x" → "a x""#);
    // A later diff without a table keeps the resolved statics.
    r.merge(&json!({"0": {"k": {"0": {"0": {"0": "b"}}, "kc": 1}}}))
        .unwrap();
    assert_eq!(r.dead_html(), "<main><li><i>b</i></li><b>x</b></main>");
}

#[test]
fn v020_comprehension_templates_are_kept_for_later_rows() {
    let (mut r, _) = Rendered::join(&json!({
        "0": {"d": [[{"0": "a", "s": 0}]], "p": {"0": ["<i>", "</i>"]}, "s": ["<li>", "</li>"]},
        "s": ["<ul>", "</ul>"]
    }))
    .unwrap();
    assert_eq!(r.dead_html(), "<ul><li><i>a</i></li></ul>");
    r.merge(&json!({"0": {"d": [[{"0": "b", "s": 0}], [{"0": "c", "s": 0}]]}}))
        .unwrap();
    assert_eq!(r.dead_html(), "<ul><li><i>b</i></li><li><i>c</i></li></ul>");
}

#[test]
fn components_share_statics_and_get_their_attribute() {
    let (mut r, _) = Rendered::join(&json!({
        "0": 1, "1": 2,
        "c": {
            "1": {"0": "one", "s": ["<div class=\"c\">", "</div>"]},
            "2": {"0": "two", "s": 1}
        },
        "s": ["<main>", "", "</main>"]
    }))
    .unwrap();
    assert_eq!(
        r.dead_html(),
        r#"<main><div class="c">one</div><div class="c">two</div></main>"#
    );
    assert_eq!(
        r.to_html(),
        r#"<main><div data-phx-component="1" class="c">one</div><div data-phx-component="2" class="c">two</div></main>"#
    );
    // A new component sharing an old one's statics (negative cid), and an
    // old component changed in place.
    let u = r
        .merge(&json!({
            "1": 3,
            "c": {"3": {"0": "three", "s": -1}, "1": {"0": "uno"}}
        }))
        .unwrap();
    assert_eq!(
        r.dead_html(),
        r#"<main><div class="c">uno</div><div class="c">three</div></main>"#
    );
    let lines: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            r#"~ div.c "two" → "three""#,
            r#"~ div.c "one" → "uno""#,
            r#"+ div.c "three""#
        ]
    );
}

#[test]
fn title_events_and_reply_are_taken_off_the_top() {
    let mut r = keyed_list();
    let u = r
        .merge(&json!({"t": "New", "e": [["highlight", {"id": 1}]], "r": {"ok": true}}))
        .unwrap();
    assert_eq!(u.title.as_deref(), Some("New"));
    assert_eq!(r.title(), Some("New"));
    assert_eq!(
        u.events,
        [PushEvent {
            name: "highlight".into(),
            payload: json!({"id": 1})
        }]
    );
    assert_eq!(u.reply, Some(json!({"ok": true})));
    // At the join a bare 1 under "r" marks the template's single root.
    let (_, u) = Rendered::join(&json!({"r": 1, "s": ["<p>x</p>"]})).unwrap();
    assert_eq!(u.reply, None);
}

#[test]
fn bad_trees_are_errors() {
    let err = |v: Value| Rendered::join(&v).unwrap_err();
    assert!(matches!(
        err(json!({"0": {"0": "x", "s": 3}, "s": ["", ""]})),
        TreeError::MissingTemplate { index: 3, .. }
    ));
    assert!(matches!(
        err(json!({"0": "x"})),
        TreeError::MissingStatics { .. }
    ));
    assert!(matches!(
        err(json!({"s": ["a", "b"]})),
        TreeError::MissingDynamic { index: 0, .. }
    ));
    assert!(matches!(
        err(json!({"0": {"k": {"kc": 2, "0": {}}, "s": ["x"]}, "s": ["", ""]})),
        TreeError::MissingEntry { index: 1, .. }
    ));
    assert!(matches!(
        err(json!({"0": 5, "c": {"5": {"s": 9}}, "s": ["", ""]})),
        TreeError::MissingComponent { cid: 9, .. }
    ));
    assert!(matches!(
        err(json!({"0": 1, "c": {"1": {"s": 2}, "2": {"s": 1}}, "s": ["", ""]})),
        TreeError::Malformed { .. }
    ));
    let mut r = keyed_list();
    let e = r
        .merge(&json!({"0": {"k": {"0": 7, "kc": 2}}}))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "LiveView tree at 0: entry 0 moves from 7, not an old entry"
    );
    let e = r.merge(&json!({"9": "x"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "LiveView tree at root: dynamic 9 does not exist (the part has 1)"
    );
    assert!(matches!(
        r.merge(&json!([1])).unwrap_err(),
        TreeError::Shape { .. }
    ));
}

#[test]
fn text_of_decodes_and_hides() {
    assert_eq!(
        text_of(
            "<p>a &amp; b&nbsp;&lt;c&gt; &#65;&#x42; &bogus; &</p><script>x<y</script><b>d</b>e"
        ),
        "a & b <c> AB &bogus; & de"
    );
    assert_eq!(text_of("<li>one</li><li>two</li>"), "one two");
    assert_eq!(
        text_of("<a title=\"x>y\">link</a><!-- hidden -->!"),
        "link!"
    );
    assert_eq!(text_of("1 < 2"), "1 < 2");
}

/// A small deterministic generator (xorshift), so the fuzz test needs no
/// dependency and fails the same way every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    fn value(&mut self, depth: u32) -> Value {
        let keys = [
            "0", "1", "2", "s", "d", "k", "kc", "km", "p", "c", "r", "t", "e", "-1",
        ];
        match self.next() % if depth > 4 { 5 } else { 8 } {
            0 => Value::Null,
            1 => json!(self.next() % 4),
            2 => json!(-((self.next() % 3) as i64)),
            3 => json!(self.pick(&["", "<p>", "a", "</p>"])),
            4 => json!(self.next().is_multiple_of(2)),
            5 | 6 => {
                let n = self.next() % 5;
                let mut m = serde_json::Map::new();
                for _ in 0..n {
                    let k = self.pick(&keys).to_string();
                    m.insert(k, self.value(depth + 1));
                }
                Value::Object(m)
            }
            _ => {
                let n = self.next() % 4;
                Value::Array((0..n).map(|_| self.value(depth + 1)).collect())
            }
        }
    }
}

#[test]
fn garbled_input_never_panics() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let base = tree_of(V11[0]).unwrap();
    for _ in 0..8_000 {
        let v = g.value(0);
        if let Ok((r, _)) = Rendered::join(&v) {
            let _ = (r.to_html(), r.text());
        }
        let (mut r, _) = Rendered::join(&base).unwrap();
        for _ in 0..3 {
            let d = g.value(0);
            if let Ok(u) = r.merge(&d) {
                let _ = u.changes.iter().map(ToString::to_string).count();
            }
            let _ = (r.to_html(), r.text());
        }
    }
    // Garbled text: cut-off and bit-flipped frames.
    for f in V020.iter().chain(V11) {
        for cut in (0..f.len()).step_by(7) {
            if let Ok(v) = serde_json::from_str::<Value>(&f[..cut]) {
                let _ = Rendered::join(&v);
            }
        }
    }
    for _ in 0..2_000 {
        let mut bytes = V11[0].as_bytes().to_vec();
        let at = (g.next() % bytes.len() as u64) as usize;
        bytes[at] = b"{}[]\",:0123"[(g.next() % 11) as usize];
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            && let Ok((r, _)) = Rendered::join(&v["4"]["response"]["rendered"])
        {
            let _ = r.text();
        }
    }
}

#[test]
fn changes_come_in_page_order() {
    let tree: serde_json::Map<String, Value> = (0..12)
        .map(|i| (i.to_string(), json!("x")))
        .chain([("s".to_string(), json!(vec![" "; 13]))])
        .collect();
    let (mut r, _) = Rendered::join(&Value::Object(tree)).unwrap();
    let u = r.merge(&json!({"10": "b", "2": "a"})).unwrap();
    let paths: Vec<String> = u
        .changes
        .iter()
        .map(|c| change::path_string(&c.path))
        .collect();
    assert_eq!(paths, ["2", "10"]);
}

#[test]
fn shared_statics_reach_nested_trees_and_rows_hold_components() {
    let (mut r, _) = Rendered::join(&json!({
        "0": {"d": [[1]], "s": ["<li>", "</li>"]},
        "c": {"1": {"0": {"0": "a", "s": ["<i>", "</i>"]}, "s": ["<span>", "</span>"]}},
        "s": ["<ul>", "</ul>"]
    }))
    .unwrap();
    // Component 2 starts from component 1's tree: its nested part has no
    // statics of its own and merges into 1's.
    r.merge(&json!({
        "0": {"d": [[1], [2]]},
        "c": {"2": {"0": {"0": "b"}, "s": -1}}
    }))
    .unwrap();
    assert_eq!(
        r.dead_html(),
        "<ul><li><span><i>a</i></span></li><li><span><i>b</i></span></li></ul>"
    );
    assert_eq!(
        r.to_html(),
        "<ul><li><span data-phx-component=\"1\"><i>a</i></span></li>\
         <li><span data-phx-component=\"2\"><i>b</i></span></li></ul>"
    );
    assert_eq!(r.text(), "a b");
}

#[test]
fn a_new_root_template_starts_components_over() {
    let (mut r, _) = Rendered::join(&json!({
        "0": 1, "c": {"1": {"0": "a", "s": ["<b>", "</b>"]}}, "s": ["<p>", "</p>"]
    }))
    .unwrap();
    let u = r
        .merge(&json!({"0": 2, "c": {"2": {"0": "z", "s": ["<i>", "</i>"]}}, "s": ["<div>", "</div>"]}))
        .unwrap();
    assert_eq!(r.dead_html(), "<div><i>z</i></div>");
    assert_eq!(r.components().keys().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(u.changes[0].to_string(), r#"~ root "a" → "z""#);
    // Old components are gone: sharing their statics is an error.
    let e = r.merge(&json!({"0": 3, "c": {"3": {"0": "y", "s": -2}}, "s": ["", ""]}));
    assert!(matches!(e, Err(TreeError::MissingComponent { cid: 2, .. })));
}

fn lines(u: &Update) -> Vec<String> {
    u.changes.iter().map(ToString::to_string).collect()
}

#[test]
fn dynamics_of_one_element_make_one_line() {
    let (mut r, _) = Rendered::join(&json!({
        "0": "1", "1": "3", "2": " class=\"a\"",
        "s": ["<main><p id=\"status\">Showing ", " of ", "</p><b", ">x</b></main>"]
    }))
    .unwrap();
    let u = r.merge(&json!({"0": "2", "1": "4", "2": ""})).unwrap();
    assert_eq!(
        lines(&u),
        [
            r#"~ p#status "Showing 1 of 3" → "Showing 2 of 4""#,
            // Named as the tag is now: the class went.
            "~ b class=\"a\" → (none)",
        ]
    );
}

#[test]
fn a_change_of_markup_only_shows_the_html() {
    let (mut r, _) = Rendered::join(&json!({"0": "<b>a</b>", "s": ["<p>", "</p>"]})).unwrap();
    let u = r.merge(&json!({"0": "<i>a</i>"})).unwrap();
    assert_eq!(lines(&u), [r#"~ p html "<b>a</b>" → "<i>a</i>""#]);
}

#[test]
fn a_dynamic_that_is_one_element_names_itself() {
    // An `if` block's tree: the notice comes and goes inside a main that
    // is too long to read (past the budget).
    let long = "<p>filler</p>".repeat(400);
    let (mut r, _) = Rendered::join(&json!({
        "0": {"0": "Saved", "s": ["<p class=\"notice big\">", "</p>"]},
        "s": [format!("<main>{long}"), format!("{long}</main>")]
    }))
    .unwrap();
    let u = r.merge(&json!({"0": {"0": "Done"}})).unwrap();
    assert_eq!(lines(&u), [r#"~ p.notice "Saved" → "Done""#]);
    let u = r.merge(&json!({"0": ""})).unwrap();
    assert_eq!(lines(&u), [r#"~ p.notice "Done" → """#]);
}

#[test]
fn without_an_element_in_reach_the_path_is_shown() {
    // Text at the top level of the view: no element around it.
    let (mut r, _) = Rendered::join(&json!({"0": "a", "s": ["Hello ", "!"]})).unwrap();
    let u = r.merge(&json!({"0": "b"})).unwrap();
    assert_eq!(lines(&u), [r#"~ 0 "a" → "b""#]);
    assert!(u.changes[0].element.is_none());
    // An element whose start tag is farther than the budget.
    let long = "x".repeat(3000);
    let (mut r, _) =
        Rendered::join(&json!({"0": "a", "s": [format!("<div>{long}"), "</div>"]})).unwrap();
    let u = r.merge(&json!({"0": "b"})).unwrap();
    assert_eq!(lines(&u), [r#"~ 0 "a" → "b""#]);
    // A row that is not one element.
    let (mut r, _) =
        Rendered::join(&json!({"0": {"d": [["a"]], "s": ["", ", "]}, "s": ["<p>", "</p>"]}))
            .unwrap();
    let u = r.merge(&json!({"0": {"d": [["a"], ["b"]]}})).unwrap();
    assert_eq!(lines(&u), [r#"+ 0[1] "b,""#]);
}

#[test]
fn a_long_comprehension_is_not_read_past_the_budget() {
    // The heading's element is found; the ten thousand rows next to it
    // are rendered only as far as the budget.
    let entries: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (i.to_string(), json!({"0": i.to_string()})))
        .chain([("kc".to_string(), json!(10_000))])
        .collect();
    let (mut r, _) = Rendered::join(&json!({
        "0": "1", "1": {"k": entries, "s": ["<li>", "</li>"]},
        "s": ["<h2>Items: ", "</h2><ul>", "</ul>"]
    }))
    .unwrap();
    let u = r.merge(&json!({"0": "2"})).unwrap();
    assert_eq!(lines(&u), [r#"~ h2 "Items: 1" → "Items: 2""#]);
    // A change beside the rows inside the same element: the element's end
    // is past the budget, so the line keeps its path.
    let (mut r, _) = Rendered::join(&json!({
        "0": "1", "1": {"k": entries, "s": ["<li>", "</li>"]},
        "s": ["<ul><li>Items: ", "</li>", "</ul>"]
    }))
    .unwrap();
    let u = r.merge(&json!({"0": "2"})).unwrap();
    assert_eq!(lines(&u), [r#"~ li "Items: 1" → "Items: 2""#]);
    let (mut r, _) = Rendered::join(&json!({
        "0": "1", "1": {"k": {"0": {"0": "a"}, "kc": 1}, "s": ["<li>", "</li>"]},
        "s": ["<ul>Items: ", "", "</ul>"]
    }))
    .unwrap();
    let u = r.merge(&json!({"0": "2"})).unwrap();
    assert_eq!(lines(&u), [r#"~ ul "Items: 1 a" → "Items: 2 a""#]);
}

#[test]
fn changes_in_components_and_rows_name_their_elements() {
    let (mut r, _) = Rendered::join(&json!({
        "0": 1,
        "c": {"1": {"0": "Ann", "1": {"d": [["x"]], "s": ["<li class=\"tag\">", "</li>"]},
                    "s": ["<section id=\"card\"><h3>", "</h3><ul>", "</ul></section>"]}},
        "s": ["<main>", "</main>"]
    }))
    .unwrap();
    let u = r
        .merge(&json!({"c": {"1": {"0": "Bo", "1": {"d": [["x"], ["y"]]}}}}))
        .unwrap();
    assert_eq!(lines(&u), [r#"~ h3 "Ann" → "Bo""#, r#"+ li.tag "y""#]);
}

#[test]
fn long_texts_are_shown_from_near_their_difference() {
    let words = "word ".repeat(30);
    let (mut r, _) =
        Rendered::join(&json!({"0": "1", "s": [format!("<p>{words}count "), "</p>"]})).unwrap();
    let u = r.merge(&json!({"0": "2"})).unwrap();
    assert_eq!(
        lines(&u),
        [r#"~ p "…word word count 1" → "…word word count 2""#]
    );
}

#[test]
fn neighbours_changed_inside_are_read_as_they_were() {
    let (mut r, _) = Rendered::join(&json!({
        "0": "1", "1": 1,
        "c": {"1": {"0": "old", "s": ["<b>", "</b>"]}},
        "s": ["<p>", " ", "</p>"]
    }))
    .unwrap();
    let u = r
        .merge(&json!({"0": "2", "c": {"1": {"0": "new"}}}))
        .unwrap();
    assert_eq!(
        lines(&u),
        [r#"~ p "1 old" → "2 new""#, r#"~ b "old" → "new""#]
    );
    // Rows beside the dynamic changed too: what the element held before
    // is not known, so the line keeps its path.
    let (mut r, _) = Rendered::join(&json!({
        "0": "1", "1": {"d": [["a"]], "s": ["<li>", "</li>"]},
        "s": ["<ul>Items: ", "", "</ul>"]
    }))
    .unwrap();
    let u = r
        .merge(&json!({"0": "2", "1": {"d": [["a"], ["b"]]}}))
        .unwrap();
    assert_eq!(lines(&u), [r#"~ 0 "1" → "2""#, r#"+ li "b""#]);
}
