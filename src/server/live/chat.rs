//! The chat page, `/chat`: one room for the whole server. Each view shows
//! who it is and every message so far; a `send` form (`body=…`) adds a
//! message, which the sender gets as the diff of its reply and every other
//! chat view as a pushed `diff`, as a LiveView that updates its assigns
//! and broadcasts through PubSub does.
//!
//! The statics are constants and the first render is HTML written out by
//! hand ([`dead_render`]) with the user and messages spliced in.

use serde_json::Value;

use super::counter::NoClause;
use super::diff::{Dyn, Dynamics, Template, escape};

pub const TEMPLATE: Template = Template {
    root: &[
        "<h1>Chat</h1>\n<p>You are <b>",
        "</b></p>\n<ul id=\"messages\">\n  ",
        "\n</ul>\n<form phx-submit=\"send\">\n  <input type=\"text\" name=\"body\" value=\"\">\n  <button type=\"submit\">Send</button>\n</form>",
    ],
    lists: &[&["\n    <li><b>", "</b>: ", "</li>\n  "]],
};

/// The page's `<title>`.
pub const TITLE: &str = "Chat";

/// Messages the room keeps; older ones are dropped.
pub const KEEP: usize = 50;

/// One message of the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub user: String,
    pub body: String,
}

/// The inner HTML of the page's main element for `user` seeing
/// `messages`. Written by hand, not rendered from [`TEMPLATE`].
pub fn dead_render(user: &str, messages: &[Message]) -> String {
    let mut html = format!(
        "<h1>Chat</h1>\n<p>You are <b>{}</b></p>\n<ul id=\"messages\">\n  ",
        escape(user)
    );
    for m in messages {
        html.push_str(&format!(
            "\n    <li><b>{}</b>: {}</li>\n  ",
            escape(&m.user),
            escape(&m.body)
        ));
    }
    html.push_str(
        r#"
</ul>
<form phx-submit="send">
  <input type="text" name="body" value="">
  <button type="submit">Send</button>
</form>"#,
    );
    html
}

/// A chat view's assigns.
#[derive(Debug)]
pub struct Chat {
    pub user: String,
    messages: Vec<Message>,
}

/// What a `send` asks of the room.
#[derive(Debug, PartialEq, Eq)]
pub enum Post {
    /// Nothing to post (an empty body): reply `{}`.
    Nothing,
    /// Append this message.
    Message(Message),
}

impl Chat {
    pub fn mount(user: String, messages: Vec<Message>) -> Chat {
        Chat { user, messages }
    }

    pub fn render(&self) -> Dynamics {
        vec![
            Dyn::Text(escape(&self.user)),
            Dyn::Rows {
                list: 0,
                rows: self
                    .messages
                    .iter()
                    .map(|m| vec![escape(&m.user), escape(&m.body)])
                    .collect(),
            },
        ]
    }

    /// `handle_event/3`: what `send` posts; anything else crashes.
    pub fn event(&self, name: &str, value: &Value) -> Result<Post, NoClause> {
        if name != "send" {
            return Err(NoClause);
        }
        let form = value.as_str().ok_or(NoClause)?;
        let body = url::form_urlencoded::parse(form.as_bytes())
            .find(|(k, _)| k == "body")
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        Ok(if body.is_empty() {
            Post::Nothing
        } else {
            Post::Message(Message {
                user: self.user.clone(),
                body,
            })
        })
    }

    /// The room changed (`handle_info` of the PubSub message).
    pub fn refresh(&mut self, messages: Vec<Message>) {
        self.messages = messages;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::live::diff::{Format, rendered};
    use serde_json::json;

    #[test]
    fn send_posts_the_trimmed_body_and_ignores_an_empty_one() {
        let chat = Chat::mount("ana".into(), Vec::new());
        assert_eq!(
            chat.event("send", &json!("body=hi+there")),
            Ok(Post::Message(Message {
                user: "ana".into(),
                body: "hi there".into()
            }))
        );
        assert_eq!(chat.event("send", &json!("body=+")), Ok(Post::Nothing));
        assert_eq!(chat.event("boom", &json!({})), Err(NoClause));
    }

    #[test]
    fn user_text_is_escaped_in_the_tree() {
        let m = Message {
            user: "<b>".into(),
            body: "a&b".into(),
        };
        let chat = Chat::mount("x\"y".into(), vec![m]);
        let (tree, _) = rendered(Format::V0_20, &TEMPLATE, &chat.render());
        assert!(tree.contains(r#""0":"x&quot;y""#), "{tree}");
        assert!(tree.contains(r#"[["&lt;b&gt;","a&amp;b"]]"#), "{tree}");
    }
}
