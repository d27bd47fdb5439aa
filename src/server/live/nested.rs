//! The smaller views: the nested LiveView that `/demo` renders inside
//! itself (a counter of `bump`s, joined on its own `lv:demo-child` topic
//! as a browser joins a child), and the two pages of the sign-in flow:
//! `/login`, where an unsigned visitor of `/private` is sent, and
//! `/private` itself (docs/PROTOCOL.md §10).
//!
//! Statics are constants and first renders are written out by hand.

use serde_json::Value;

use super::counter::NoClause;
use super::diff::{Dyn, Dynamics, Template, escape};

/// The nested view's statics.
pub const CHILD: Template = Template {
    root: &[
        "<p>Child bumps: ",
        "</p>\n<button phx-click=\"bump\">Bump</button>",
    ],
    lists: &[],
};

/// A nested view's assigns.
#[derive(Debug, Default)]
pub struct Child {
    bumps: u64,
}

impl Child {
    pub fn render(&self) -> Dynamics {
        vec![Dyn::Text(self.bumps.to_string())]
    }

    /// `handle_event/3`: `bump`, else a crash.
    pub fn event(&mut self, name: &str, _value: &Value) -> Result<(), NoClause> {
        if name != "bump" {
            return Err(NoClause);
        }
        self.bumps += 1;
        Ok(())
    }
}

/// `/login`: no dynamics at all.
pub const LOGIN: Template = Template {
    root: &[LOGIN_RENDER],
    lists: &[],
};

/// The login page's first render (its whole template).
pub const LOGIN_RENDER: &str = r#"<h1>Log in</h1>
<p>This page is for signed-in users only.</p>
<p>The built-in server signs you in by the cookie <code>_phx_repl_user=NAME</code>.</p>"#;

pub const LOGIN_TITLE: &str = "Log in";

/// `/private`: who is signed in.
pub const PRIVATE: Template = Template {
    root: &["<h1>Private</h1>\n<p>Signed in as <b>", "</b></p>"],
    lists: &[],
};

pub const PRIVATE_TITLE: &str = "Private";

/// The private page's first render for `user`. Written by hand.
pub fn private_render(user: &str) -> String {
    format!(
        "<h1>Private</h1>\n<p>Signed in as <b>{}</b></p>",
        escape(user)
    )
}

/// The private page's dynamics.
pub fn private_dynamics(user: &str) -> Dynamics {
    vec![Dyn::Text(escape(user))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_child_counts_bumps_and_crashes_on_anything_else() {
        let mut c = Child::default();
        c.event("bump", &json!({})).unwrap();
        assert_eq!(c.render(), vec![Dyn::Text("1".into())]);
        assert_eq!(c.event("inc", &json!({})), Err(NoClause));
    }
}
