//! How far the reader of a script may run ahead of the runner: credit
//! shared by the stdin thread and the runner, and the stdin thread itself
//! ([`spawn_stdin_reader`]).
//!
//! This file owns the counting, the wake-up and the reading; which lines
//! hold credit, and when it is given back, is the runner's business (see
//! `queue` and `Runner::run_line`).

use std::io::{self, BufRead, Read};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::Input;
use crate::lang::command;

/// How far the reader of a script may run ahead of the lines that ran,
/// in lines. The reader takes room for the lines it reads and the runner
/// gives it back line by line; a reader that ran out is woken only once
/// half the room is free again, so a long script costs the two threads one
/// wake-up per batch of lines instead of one per line.
pub struct ReadAhead {
    free: Mutex<usize>,
    freed: Condvar,
    size: usize,
}

impl ReadAhead {
    pub fn new(size: usize) -> ReadAhead {
        ReadAhead {
            free: Mutex::new(size.max(1)),
            freed: Condvar::new(),
            size: size.max(1),
        }
    }

    /// Below this much free room the reader waits.
    fn low_water(&self) -> usize {
        (self.size / 2).max(1)
    }

    /// For the reader: waits until there is room, and says how many lines
    /// it may read now.
    pub fn room(&self) -> usize {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if *free == 0 {
            while *free < self.low_water() {
                free = self
                    .freed
                    .wait(free)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        *free
    }

    /// For the reader: `lines` more are on their way to the runner.
    pub fn take(&self, lines: usize) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free = free.saturating_sub(lines);
    }

    /// For the runner: a line read ahead has run.
    pub fn give_back(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if *free < self.size {
            *free += 1;
            if *free == self.low_water() {
                self.freed.notify_one();
            }
        }
    }
}

/// Reads script lines on their own thread so frames keep printing while
/// the script's next line has not arrived yet. It stays at most
/// `read_ahead`'s room in lines ahead of the runner, and hands over the lines
/// already buffered together (as one multi-line input), so the runner is
/// not woken once per line while it waits for a reply.
pub fn spawn_stdin_reader(
    tx: mpsc::Sender<Input>,
    read_ahead: Arc<ReadAhead>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            // Our own buffer, so that what is already read can be looked at.
            let mut stdin = io::BufReader::with_capacity(64 * 1024, io::stdin().lock());
            let mut buf = Vec::new();
            let mut batch = String::new();
            // One byte over the limit is enough for the parser to refuse
            // the line; the rest of it is skipped, never held in memory.
            let keep = command::MAX_LINE_BYTES as u64 + 1;
            'read: loop {
                let room = read_ahead.room();
                batch.clear();
                let mut lines = 0;
                // The first line may block; the rest only if already buffered.
                while lines < room && (lines == 0 || stdin.buffer().contains(&b'\n')) {
                    buf.clear();
                    match (&mut stdin).take(keep).read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) if lines == 0 => break 'read,
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    if buf.len() as u64 == keep && !buf.ends_with(b"\n") {
                        skip_line(&mut stdin);
                    }
                    if lines > 0 {
                        batch.push('\n');
                    }
                    let line = String::from_utf8_lossy(&buf);
                    batch.push_str(line.trim_end_matches(['\n', '\r']));
                    lines += 1;
                }
                read_ahead.take(lines);
                if tx.send(Input::Line(std::mem::take(&mut batch))).is_err() {
                    return;
                }
            }
            let _ = tx.send(Input::Eof);
        })
}

/// Reads and drops input up to and including the next newline.
fn skip_line(input: &mut impl BufRead) {
    loop {
        let (done, used) = match input.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(chunk) => match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, chunk.len()),
            },
        };
        input.consume(used);
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_what_was_not_taken() {
        let r = ReadAhead::new(8);
        assert_eq!(r.room(), 8);
        r.take(3);
        assert_eq!(r.room(), 5);
        r.give_back();
        assert_eq!(r.room(), 6);
    }

    #[test]
    fn giving_back_never_exceeds_the_size() {
        let r = ReadAhead::new(2);
        r.give_back();
        r.give_back();
        assert_eq!(r.room(), 2);
        r.take(5);
        r.give_back();
        // One free line is the low water mark of a room of two: the reader
        // may go on.
        assert_eq!(r.room(), 1);
    }

    #[test]
    fn a_size_of_zero_still_lets_one_line_through() {
        let r = ReadAhead::new(0);
        assert_eq!(r.room(), 1);
    }
}
