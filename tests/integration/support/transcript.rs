//! Lines many expected transcripts share, written once: what the human
//! output shows when the built-in server answers the join of a `room:*`
//! topic, and [`transcript`] to put an expected transcript together from
//! such parts. Comparing transcripts is left to `output`.

use super::dedent;

/// An expected transcript from its parts, each dedented (see [`dedent`])
/// and ended by a line break, so shared lines like [`lobby_joined`] sit
/// between indented blocks written in the test.
pub fn transcript(parts: &[&str]) -> String {
    parts.iter().map(|part| dedent(part)).collect()
}

/// `join room:lobby` as the first join of a socket without a `user`
/// param: the server names the socket `user-1` and its session `P1`.
pub fn lobby_joined() -> String {
    joined("room:lobby", "user-1", 1, "P1")
}

/// The join of a `room:*` topic by the only session of `user` there: the
/// join's reply (ref `join_ref`) comes first, then, as a Phoenix app's
/// `:after_join` sends them, the presence diff broadcast and the presence
/// state pushed, after which the client says who is present. The server
/// gives each session a presence ref `phx_ref` (`P1`, `P2`, …).
pub fn joined(topic: &str, user: &str, join_ref: u32, phx_ref: &str) -> String {
    let shown = format!("  {topic} + {user}\n");
    join(topic, user, join_ref, phx_ref, &shown)
}

/// The join's lines around `shown`, what the client prints of presence.
fn join(topic: &str, user: &str, join_ref: u32, phx_ref: &str, shown: &str) -> String {
    let metas = format!(r#"{{"{user}":{{"metas":[{{"phx_ref":"{phx_ref}"}}]}}}}"#);
    format!(
        "→ {topic} phx_join {{}}  (ref {join_ref})\n\
         ← {topic} reply ok to phx_join (ref {join_ref}, _) {{\"joined\":\"{topic}\"}}\n\
         ← {topic} broadcast presence_diff {{\"joins\":{metas},\"leaves\":{{}}}}\n\
         ← {topic} push presence_state {metas}\n\
         {shown}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lobby_join_reads_as_the_server_sends_it() {
        assert_eq!(
            lobby_joined(),
            dedent(
                r#"
                → room:lobby phx_join {}  (ref 1)
                ← room:lobby reply ok to phx_join (ref 1, _) {"joined":"room:lobby"}
                ← room:lobby broadcast presence_diff {"joins":{"user-1":{"metas":[{"phx_ref":"P1"}]}},"leaves":{}}
                ← room:lobby push presence_state {"user-1":{"metas":[{"phx_ref":"P1"}]}}
                  room:lobby + user-1
                "#
            )
        );
    }
}
