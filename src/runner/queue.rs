//! The lines waiting to run: numbered as they arrive, with the lines of a
//! multi-line JSON payload joined into one command (see `multiline`).
//!
//! The queue only orders and joins text. Running a line, and giving its
//! read-ahead credit back, is the runner's; when a line runs is decided
//! by the step (see `flow`).

use std::collections::VecDeque;

use crate::lang::multiline;

/// A command waiting to run.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Line {
    /// The number of its first line, counted over all input.
    pub n: usize,
    pub text: String,
    /// From a script, -e or -f: it waits for its reply.
    pub scripted: bool,
}

#[derive(Debug, Default)]
pub(super) struct Queue {
    lines: VecDeque<Line>,
    /// A command whose JSON payload is not closed yet.
    partial: Option<Line>,
    /// Lines read so far, merged ones included.
    read: usize,
    /// No more lines will come: the runner closes once the queue is empty.
    pub eof: bool,
}

impl Queue {
    /// Queues a line, or joins it to the unfinished command before it.
    /// True when it was joined: it runs no command of its own.
    pub fn push(&mut self, part: String, scripted: bool) -> bool {
        self.read += 1;
        let n = self.read;
        if let Some(mut p) = self.partial.take() {
            if !multiline::starts_command(&part) {
                p.text.push('\n');
                p.text.push_str(&part);
                if multiline::is_incomplete(&p.text) {
                    self.partial = Some(p);
                } else {
                    self.lines.push_back(p);
                }
                return true;
            }
            self.lines.push_back(p);
        }
        let line = Line {
            n,
            text: part,
            scripted,
        };
        if multiline::is_incomplete(&line.text) {
            self.partial = Some(line);
        } else {
            self.lines.push_back(line);
        }
        false
    }

    /// Queues an unfinished command as it is (its parse error says why).
    pub fn end_partial(&mut self) {
        if let Some(p) = self.partial.take() {
            self.lines.push_back(p);
        }
    }

    pub fn pop(&mut self) -> Option<Line> {
        self.lines.pop_front()
    }

    /// Puts back a line that cannot run yet.
    pub fn put_back(&mut self, line: Line) {
        self.lines.push_front(line);
    }

    /// Drops the queued lines (not an unfinished one) and says how many.
    pub fn clear(&mut self) -> usize {
        let n = self.lines.len();
        self.lines.clear();
        n
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, text: &str) -> Line {
        Line {
            n,
            text: text.to_owned(),
            scripted: true,
        }
    }

    #[test]
    fn lines_are_numbered_as_they_arrive() {
        let mut q = Queue::default();
        assert!(!q.push("status".into(), true));
        assert!(!q.push("topics".into(), false));
        assert_eq!(q.pop(), Some(line(1, "status")));
        let second = q.pop().unwrap();
        assert_eq!((second.n, second.scripted), (2, false));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_multi_line_payload_is_one_command_numbered_by_its_first_line() {
        let mut q = Queue::default();
        assert!(!q.push("push room:a shout {".into(), true));
        assert!(q.is_empty());
        assert!(q.push(r#"  "a": 1"#.into(), true));
        assert!(q.push("}".into(), true));
        assert!(!q.push("status".into(), true));
        assert_eq!(q.pop(), Some(line(1, "push room:a shout {\n  \"a\": 1\n}")));
        assert_eq!(q.pop(), Some(line(4, "status")));
    }

    #[test]
    fn a_new_command_ends_an_unfinished_one() {
        let mut q = Queue::default();
        q.push("push room:a shout {".into(), true);
        assert!(!q.push("status".into(), true));
        assert_eq!(q.pop(), Some(line(1, "push room:a shout {")));
        assert_eq!(q.pop(), Some(line(2, "status")));
    }

    #[test]
    fn end_partial_queues_what_there_is() {
        let mut q = Queue::default();
        q.push("push room:a shout {".into(), true);
        q.end_partial();
        assert_eq!(q.pop(), Some(line(1, "push room:a shout {")));
    }

    #[test]
    fn clear_counts_and_put_back_goes_first() {
        let mut q = Queue::default();
        q.push("a".into(), true);
        q.push("b".into(), true);
        let a = q.pop().unwrap();
        q.put_back(a);
        assert_eq!(q.pop().unwrap().text, "a");
        assert_eq!(q.clear(), 1);
        assert!(q.is_empty());
    }
}
