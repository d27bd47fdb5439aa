//! How far the reader of a script may run ahead of the runner: credit
//! shared by the stdin thread (in `main`) and the runner.
//!
//! This file owns only the counting and the wake-up; which lines hold
//! credit, and when it is given back, is the runner's business (see
//! `queue` and `Runner::run_line`).

use std::sync::{Condvar, Mutex, PoisonError};

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
