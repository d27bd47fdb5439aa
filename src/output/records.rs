//! The `--json` records: one `Serialize` struct per kind of line, field
//! names and order as documented in the README's "JSON output" section.
//!
//! Every line starts with `type` and `time` ([`push`]), then has the
//! record's own fields. Records borrow what they show; payloads are raw JSON text
//! ([`Payload`]). Turning them into text is `output::encode`'s job, and
//! which record an event becomes is `output::ndjson`'s.

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use crate::core::session::{TopicInfo, TopicStatus};
use crate::output::clock;
use crate::output::encode;
pub use crate::output::encode::{Ms, Payload};

/// A record of one `type`.
pub trait Record: Serialize {
    const TYPE: &'static str;
}

/// Appends `record` as one NDJSON line: `{"type":…,"time":…,` then the
/// record's own fields, stamped with the current time.
pub fn push<R: Record>(out: &mut String, record: &R) {
    clock::with_now(|now| push_at(out, record, now));
}

/// [`push`] with the time given, as [`clock::rfc3339`] writes it: records
/// written together (a run of messages) share one reading of the clock.
pub fn push_at<R: Record>(out: &mut String, record: &R, now: &str) {
    // The two fields every record starts with, written once here rather
    // than carried by each record (serde's `flatten` would do it at a
    // cost a flood of messages notices).
    let start = out.len();
    // A type is a plain word and the time is digits and punctuation:
    // nothing in them needs escaping.
    out.push_str("{\"type\":\"");
    out.push_str(R::TYPE);
    out.push_str("\",\"time\":\"");
    out.push_str(now);
    out.push('"');
    encode::push_fields(out, start, record);
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `sent`: a frame that went out.
#[derive(Serialize)]
pub struct Sent<'a> {
    pub join_ref: Option<&'a str>,
    #[serde(rename = "ref")]
    pub ref_: Option<&'a str>,
    pub topic: &'a str,
    pub event: &'a str,
    pub payload: Payload<'a>,
    /// A `cast`: no reply is awaited. Left out otherwise.
    #[serde(skip_serializing_if = "is_false")]
    pub cast: bool,
}

impl Record for Sent<'_> {
    const TYPE: &'static str = "sent";
}

/// `sent`: a line sent as it was typed (`raw`).
#[derive(Serialize)]
pub struct SentRaw<'a> {
    pub raw: &'a str,
}

impl Record for SentRaw<'_> {
    const TYPE: &'static str = "sent";
}

/// `reply`: the answer to a request.
#[derive(Serialize)]
pub struct Reply<'a> {
    pub join_ref: Option<&'a str>,
    #[serde(rename = "ref")]
    pub ref_: Option<&'a str>,
    pub topic: &'a str,
    pub status: Option<&'a str>,
    pub response: Payload<'a>,
    pub request: Option<&'a str>,
    pub latency_ms: Option<Ms>,
    #[serde(skip_serializing_if = "is_false")]
    pub late: bool,
}

impl Record for Reply<'_> {
    const TYPE: &'static str = "reply";
}

/// `message`: a push, a broadcast, or a channel's error or close.
#[derive(Serialize)]
pub struct Message<'a> {
    pub join_ref: Option<&'a str>,
    #[serde(rename = "ref")]
    pub ref_: Option<&'a str>,
    pub topic: &'a str,
    pub event: &'a str,
    pub payload: Payload<'a>,
    /// From an earlier instance of the channel.
    #[serde(skip_serializing_if = "is_false")]
    pub stale: bool,
}

impl Record for Message<'_> {
    const TYPE: &'static str = "message";
}

/// `error`: bad input, a rejected command, a failed step.
#[derive(Serialize)]
pub struct Error<'a> {
    pub message: &'a str,
    /// The script line, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Record for Error<'_> {
    const TYPE: &'static str = "error";
}

/// `error` of kind `timeout`: no reply in time.
#[derive(Serialize)]
pub struct Timeout<'a> {
    pub message: &'a str,
    kind: &'static str,
    #[serde(rename = "ref")]
    pub ref_: &'a str,
    pub topic: &'a str,
    pub event: &'a str,
    /// The script line of the request, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl<'a> Timeout<'a> {
    pub fn new(message: &'a str, ref_: &'a str, topic: &'a str, event: &'a str) -> Self {
        Timeout {
            message,
            kind: "timeout",
            ref_,
            topic,
            event,
            line: None,
        }
    }
}

impl Record for Timeout<'_> {
    const TYPE: &'static str = "error";
}

/// `error` of kind `protocol`: a frame that does not decode.
#[derive(Serialize)]
pub struct Protocol<'a> {
    pub message: &'a str,
    kind: &'static str,
    pub frame: &'a str,
}

impl<'a> Protocol<'a> {
    pub fn new(message: &'a str, frame: &'a str) -> Self {
        Protocol {
            message,
            kind: "protocol",
            frame,
        }
    }
}

impl Record for Protocol<'_> {
    const TYPE: &'static str = "error";
}

/// `error` of kind `expect`: an `expect`, or a `wait` with a payload,
/// that failed.
#[derive(Serialize)]
pub struct ExpectFailed<'a> {
    pub message: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub expected: &'a str,
    pub got: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

impl<'a> ExpectFailed<'a> {
    pub fn new(
        message: &'a str,
        line: Option<usize>,
        expected: &'a str,
        got: &'a str,
        detail: Option<&'a str>,
    ) -> Self {
        ExpectFailed {
            message,
            kind: "expect",
            line,
            expected,
            got,
            detail,
        }
    }
}

impl Record for ExpectFailed<'_> {
    const TYPE: &'static str = "error";
}

/// `presence`: what a `presence_state` or `presence_diff` changed.
#[derive(Serialize)]
pub struct PresenceDiff<'a> {
    pub topic: &'a str,
    pub joins: Payload<'a>,
    pub leaves: Payload<'a>,
}

impl Record for PresenceDiff<'_> {
    const TYPE: &'static str = "presence";
}

/// `presence`: who is present on a topic (the `presence` command).
#[derive(Serialize)]
pub struct PresenceState<'a> {
    pub topic: &'a str,
    pub state: Payload<'a>,
}

impl Record for PresenceState<'_> {
    const TYPE: &'static str = "presence";
}

/// An `info` record announced by the runner or `main`, which also write
/// its human line.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Info<'a> {
    Connected {
        url: &'a str,
        /// Absent on the first connection.
        #[serde(skip_serializing_if = "Option::is_none")]
        reconnects: Option<u32>,
    },
    Insecure,
    Interrupted,
    Bail,
    Display {
        timestamps: bool,
        pretty: bool,
        raw: bool,
        full: bool,
    },
    Record {
        /// Only when a recording starts.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<&'a str>,
    },
    Muted {
        muted: &'a [&'a str],
    },
    ServerStarted {
        url: &'a str,
    },
    /// One line of `clients`.
    Client {
        name: &'a str,
        url: &'a str,
        /// connecting, connected, reconnecting or closed.
        state: &'a str,
        topics: &'a [&'a str],
        /// Lines without `@NAME` go to it.
        current: bool,
    },
    /// `gql unsubscribe`, or `gql resubscribe` with nothing to do.
    Gql {
        what: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        subscription: Option<&'a str>,
    },
    /// `use NAME`.
    Using {
        client: &'a str,
    },
    /// A client was closed with `disconnect`.
    Disconnected {
        client: &'a str,
    },
    /// A push or cast went to a topic that is not joined.
    NotJoined {
        topic: &'a str,
        joined: &'a [String],
        suggestion: Option<&'a str>,
    },
}

impl Record for Info<'_> {
    const TYPE: &'static str = "info";
}

/// An `info` record about an event from the network thread, or about a
/// command whose answer is the record itself.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Notice<'a> {
    HeartbeatTimeout {
        after_ms: Ms,
    },
    Rejoining {
        topic: &'a str,
        attempt: u32,
    },
    Queued {
        topic: Option<&'a str>,
        until: &'a str,
    },
    Reconnecting {
        attempt: u32,
        delay_ms: u128,
        error: Option<&'a str>,
    },
    Status(Status<'a>),
    ChannelState {
        topic: &'a str,
        from: Option<&'a str>,
        to: &'a str,
        why: &'a str,
        rejoin_in_ms: Option<u128>,
    },
    Unanswered {
        #[serde(rename = "ref")]
        ref_: &'a str,
        topic: &'a str,
        request: &'a str,
        reason: &'a str,
        /// The script line of the request, when a script awaits it.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
    },
    Topics {
        topics: Topics<'a>,
    },
    Disconnected {
        code: Option<u16>,
        reason: &'a str,
        by_client: bool,
    },
    Help {
        text: &'a str,
    },
    /// An `expect` that passed: `expected` is the line after `expect `.
    ExpectPassed {
        /// The script line; absent at the prompt.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        expected: &'a str,
    },
    /// A `wait` that found its message.
    WaitPassed(WaitPassed<'a>),
    /// A `refute` whose window passed with nothing matching: `expected`
    /// is the line after `refute `.
    RefutePassed {
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        expected: &'a str,
    },
    /// `let NAME = PATH` kept `value` (as `${NAME}` substitutes it).
    Let {
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        name: &'a str,
        value: &'a str,
    },
}

/// `wait_passed`: a `wait` that found its message. The awaited event is
/// `awaited`, since `event` names the record.
#[derive(Serialize)]
pub struct WaitPassed<'a> {
    /// The script line; absent at the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The line after `wait ` as the human `✓ wait …` line shows it:
    /// `TOPIC EVENT [JSON]`.
    pub expected: &'a str,
    pub topic: &'a str,
    pub awaited: &'a str,
    /// The matched message's payload.
    pub payload: Payload<'a>,
}

/// `gql_result`: the answer to a `gql` document. For a subscription,
/// `subscription_id` and `short` (`s1`) name what its data will carry.
#[derive(Serialize)]
pub struct GqlResult<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub operation: &'a str,
    pub name: &'a str,
    /// `error` when the reply's status is, or when it carries `errors`.
    pub status: &'a str,
    pub data: Option<Payload<'a>>,
    pub errors: Option<Payload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<&'a str>,
    /// A subscription subscribed again (`gql resubscribe`, or after its
    /// control channel crashed): the id it had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<&'a str>,
}

impl Record for GqlResult<'_> {
    const TYPE: &'static str = "gql_result";
}

/// `gql_data`: one `subscription:data` push of a known subscription.
#[derive(Serialize)]
pub struct GqlData<'a> {
    pub short: &'a str,
    pub name: &'a str,
    pub subscription_id: &'a str,
    /// The root field's value (`data.messageAdded`), or null.
    pub value: Payload<'a>,
    /// The whole `result`: `data`, and `errors` if any.
    pub result: Payload<'a>,
}

impl Record for GqlData<'_> {
    const TYPE: &'static str = "gql_data";
}

/// `summary`: the last record of a `--json` run that printed a summary
/// line, with the same counts. Fields are only ever added.
#[derive(Serialize)]
pub struct Summary {
    pub commands: usize,
    pub replies: SummaryReplies,
    pub expectations: SummaryExpectations,
    /// Fan-out (`--clients N`) only, as are `latency_ms` and `frames`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<SummaryClients>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<SummaryLatency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<SummaryFrames>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
}

#[derive(Serialize)]
pub struct SummaryClients {
    pub total: usize,
    pub connected: usize,
    pub failed: usize,
}

/// Reply latency percentiles over every client.
#[derive(Serialize)]
pub struct SummaryLatency {
    pub p50: Ms,
    pub p95: Ms,
    pub p99: Ms,
    pub max: Ms,
}

#[derive(Serialize)]
pub struct SummaryFrames {
    pub r#in: u64,
    pub out: u64,
}

#[derive(Serialize)]
pub struct SummaryReplies {
    pub ok: usize,
    pub error: usize,
    pub timed_out: usize,
    pub unanswered: usize,
}

#[derive(Serialize)]
pub struct SummaryExpectations {
    pub passed: usize,
    pub failed: usize,
}

impl Record for Summary {
    const TYPE: &'static str = "summary";
}

impl Record for Notice<'_> {
    const TYPE: &'static str = "info";
}

/// The `status` answer.
#[derive(Serialize)]
pub struct Status<'a> {
    pub state: &'a str,
    pub url: &'a str,
    pub uptime_ms: Option<Ms>,
    pub session_ms: Ms,
    pub reconnects: u32,
    pub reconnect_attempt: Option<u32>,
    pub reconnect_in_ms: Option<Ms>,
    pub heartbeat_interval_ms: Option<Ms>,
    pub heartbeat_rtt_ms: Option<Ms>,
    pub heartbeats_missed: u64,
    pub heartbeat_waiting_ms: Option<Ms>,
    pub topics: StatusTopics<'a>,
}

/// `status`'s topics, each as `{topic, state, join_ref, payload,
/// rejoin_in_ms, rejoin_attempts}`.
pub struct StatusTopics<'a>(pub &'a [TopicStatus]);

impl Serialize for StatusTopics<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Topic<'a> {
            topic: &'a str,
            state: &'a str,
            join_ref: &'a str,
            payload: Payload<'a>,
            rejoin_in_ms: Option<Ms>,
            rejoin_attempts: u32,
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for t in self.0 {
            seq.serialize_element(&Topic {
                topic: &t.topic,
                state: t.state.as_str(),
                join_ref: &t.join_ref,
                payload: Payload::from(&t.payload),
                rejoin_in_ms: t.rejoin_in.map(Ms),
                rejoin_attempts: t.attempts,
            })?;
        }
        seq.end()
    }
}

/// `topics`' answer, each as `{topic, join_ref, state}`.
pub struct Topics<'a>(pub &'a [TopicInfo]);

impl Serialize for Topics<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Topic<'a> {
            topic: &'a str,
            join_ref: &'a str,
            state: &'a str,
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for t in self.0 {
            seq.serialize_element(&Topic {
                topic: &t.topic,
                join_ref: &t.join_ref,
                state: t.state.as_str(),
            })?;
        }
        seq.end()
    }
}
