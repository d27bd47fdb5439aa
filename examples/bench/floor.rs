//! The floor: the least a client that understands Phoenix frames must do.
//! Run as `bench floor MODE URL N`, its own process measured like the
//! others, it owns one WebSocket, parses each frame's five-element
//! envelope and writes one line per frame. It also probes, in the
//! benchmark's own process, whether the server makes realistic frames.
//! Measuring it is left to `measure`.

use std::io::{self, BufWriter, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::error::BenchError;
use crate::{BODY_FIELD, Frames, JOIN_FRAME};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// The five-element envelope, borrowed from the frame's text. The server
/// under test escapes nothing in topics and events.
#[derive(Deserialize)]
struct Envelope<'a>(
    serde::de::IgnoredAny,
    Option<&'a str>,
    &'a str,
    &'a str,
    &'a RawValue,
);

/// What the floor does once connected.
enum Mode {
    /// Joins `flood:N` and prints every frame.
    Flood(Frames),
    /// Joins `flood:N` and discards every frame unparsed.
    Drain,
    /// N sequential pushes, each waiting for its reply.
    RoundTrips,
    /// One join and its reply.
    Join,
}

impl Mode {
    fn parse(mode: &str) -> Result<Mode, BenchError> {
        Ok(match mode {
            "flood" => Mode::Flood(Frames::Counter),
            "flood-body" => Mode::Flood(Frames::Realistic),
            "drain" => Mode::Drain,
            "round-trips" => Mode::RoundTrips,
            "join" => Mode::Join,
            other => return Err(BenchError::UnknownFloorMode(other.to_owned())),
        })
    }
}

/// The `MODE` of `bench floor MODE URL N` that reads a flood of `frames`.
pub fn flood_mode(frames: Frames) -> &'static str {
    match frames {
        Frames::Counter => "flood",
        Frames::Realistic => "flood-body",
    }
}

/// `bench floor MODE URL N`.
pub fn run(args: &[String]) -> Result<(), BenchError> {
    let [mode, url, n] = args else {
        return Err(BenchError::Usage("floor MODE URL N"));
    };
    let mode = Mode::parse(mode)?;
    let n: u64 = n.parse()?;
    let mut ws = connect(url)?;
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    match mode {
        Mode::Flood(frames) => flood(&mut ws, n, frames, &mut out, true)?,
        Mode::Drain => flood(&mut ws, n, Frames::Counter, &mut out, false)?,
        Mode::RoundTrips => round_trips(&mut ws, n, &mut out)?,
        Mode::Join => {
            send(&mut ws, JOIN_FRAME)?;
            until_reply(&mut ws, "1", &mut out)?;
        }
    }
    out.flush()?;
    close(&mut ws)
}

/// Reads a realistic flood of one and checks its push carries the body:
/// a server that ignores the join's payload sends bare counters, and the
/// realistic rows would measure those under the wrong name.
pub fn probe_body(url: &str) -> Result<(), BenchError> {
    let mut ws = connect(url)?;
    // A server that answers in an unexpected way must not hang the run.
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
    }
    flood(&mut ws, 1, Frames::Realistic, &mut io::sink(), true)?;
    close(&mut ws)
}

fn connect(url: &str) -> Result<Socket, BenchError> {
    let (ws, _) = tungstenite::connect(url)?;
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_nodelay(true)?;
    }
    Ok(ws)
}

fn send(ws: &mut Socket, text: &str) -> Result<(), BenchError> {
    Ok(ws.send(Message::text(text))?)
}

/// Writes one line per frame: `topic event payload`.
fn print(out: &mut impl Write, env: &Envelope<'_>) -> io::Result<()> {
    out.write_all(env.2.as_bytes())?;
    out.write_all(b" ")?;
    out.write_all(env.3.as_bytes())?;
    out.write_all(b" ")?;
    out.write_all(env.4.get().as_bytes())?;
    out.write_all(b"\n")
}

/// Joins a flood of `n` `frames` and reads it to its `done`, printing each
/// frame when `parse`. Realistic frames are checked up to the first push
/// (the join must be answered ok, the push must carry the body); bare
/// ones are not checked, so the floor's own cost stays what it was.
fn flood(
    ws: &mut Socket,
    n: u64,
    frames: Frames,
    out: &mut impl Write,
    parse: bool,
) -> Result<(), BenchError> {
    send(ws, &frames.join_frame(n))?;
    let mut checking = parse && frames == Frames::Realistic;
    // The join reply, n pushes and `done`.
    let mut left = n + 2;
    while left > 0 {
        match ws.read()? {
            Message::Text(text) => {
                left -= 1;
                if parse {
                    let env: Envelope<'_> = serde_json::from_str(&text)?;
                    if checking {
                        checking = check_realistic(&env)?;
                    }
                    print(out, &env)?;
                }
            }
            Message::Close(_) => return Err(BenchError::ClosedByServer),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a frame of a realistic flood; false once the first push has
/// passed, as later ones come from the same join.
fn check_realistic(env: &Envelope<'_>) -> Result<bool, BenchError> {
    let payload = env.4.get();
    match env.3 {
        "phx_reply" if !payload.contains(r#""status":"ok""#) => {
            Err(BenchError::JoinRefused(payload.to_owned()))
        }
        "msg" if !payload.contains(BODY_FIELD) => Err(BenchError::NoBody(payload.to_owned())),
        "msg" => Ok(false),
        _ => Ok(true),
    }
}

fn round_trips(ws: &mut Socket, n: u64, out: &mut impl Write) -> Result<(), BenchError> {
    send(ws, r#"["1","1","room:bench","phx_join",{}]"#)?;
    until_reply(ws, "1", out)?;
    for i in 2..n + 2 {
        let ref_ = i.to_string();
        send(
            ws,
            &format!(r#"["1","{ref_}","room:bench","echo",{{"n":{i}}}]"#),
        )?;
        until_reply(ws, &ref_, out)?;
    }
    Ok(())
}

/// Reads (and prints) frames until the reply with `ref_`.
fn until_reply(ws: &mut Socket, ref_: &str, out: &mut impl Write) -> Result<(), BenchError> {
    loop {
        match ws.read()? {
            Message::Text(text) => {
                let env: Envelope<'_> = serde_json::from_str(&text)?;
                print(out, &env)?;
                if env.3 == "phx_reply" && env.1 == Some(ref_) {
                    return Ok(());
                }
            }
            Message::Close(_) => return Err(BenchError::ClosedByServer),
            _ => {}
        }
    }
}

/// A normal close, waiting for the server's answer.
fn close(ws: &mut Socket) -> Result<(), BenchError> {
    ws.close(None)?;
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(frame: &str) -> Result<bool, BenchError> {
        let env: Envelope<'_> = serde_json::from_str(frame).unwrap();
        check_realistic(&env)
    }

    #[test]
    fn a_realistic_flood_is_checked_up_to_its_first_push() {
        let ok = r#"["1","1","flood:1","phx_reply",{"status":"ok","response":{}}]"#;
        assert!(check(ok).unwrap());
        let push = r#"["1",null,"flood:1","msg",{"i":1,"body":"hello world"}]"#;
        assert!(!check(push).unwrap());
    }

    #[test]
    fn bare_counters_or_a_refused_join_are_errors() {
        let bare = r#"["1",null,"flood:1","msg",{"i":1}]"#;
        assert!(matches!(check(bare), Err(BenchError::NoBody(p)) if p == r#"{"i":1}"#));
        let refused = r#"["1","1","flood:1","phx_reply",{"status":"error","response":{}}]"#;
        assert!(matches!(check(refused), Err(BenchError::JoinRefused(_))));
    }
}
