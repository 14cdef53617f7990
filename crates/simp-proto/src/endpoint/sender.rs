//! The sending half of a chat (SPEC 2.2): a bounded in-order queue of messages, each split
//! into parts of at most `max-payload` bytes, with at most one part unacknowledged.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use crate::wire::Seq;
use crate::Instant;

/// A message accepted from the client and not yet fully acknowledged.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) id: String,
    text: String,
    /// Parts still to be sent or acknowledged; the front one may be in flight.
    parts: VecDeque<Range<usize>>,
    /// How many parts it had: fewer left means some went out.
    total: usize,
}

/// The part that is on the wire, waiting for its ACK.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The exact bytes, re-sent byte for byte.
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) seq: Seq,
    pub(crate) sent_at: Instant,
    /// When the last copy went out.
    pub(crate) last_sent: Instant,
    pub(crate) resends: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Sender {
    queue: VecDeque<Outgoing>,
    pub(crate) in_flight: Option<InFlight>,
}

impl Sender {
    /// Messages not yet delivered, the one in flight included.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn push(&mut self, id: String, text: String, max_payload: usize) {
        let parts: VecDeque<_> = split(text.as_bytes(), max_payload).collect();
        let total = parts.len();
        self.queue.push_back(Outgoing { id, text, parts, total });
    }

    /// The payload of the next part to send, if nothing is in flight.
    pub(crate) fn next_payload(&self) -> Option<&[u8]> {
        if self.in_flight.is_some() {
            return None;
        }
        let msg = self.queue.front()?;
        let range = msg.parts.front()?.clone();
        msg.text.as_bytes().get(range)
    }

    /// The in-flight part was acknowledged; returns the message id if that was its last part.
    pub(crate) fn acknowledged(&mut self) -> Option<String> {
        self.in_flight = None;
        let msg = self.queue.front_mut()?;
        msg.parts.pop_front();
        if msg.parts.is_empty() {
            self.queue.pop_front().map(|m| m.id)
        } else {
            None
        }
    }

    /// Keeps only the message being sent (a part of it in flight or acknowledged) and takes
    /// the rest out of the queue, oldest first: none of their bytes has left.
    pub(crate) fn keep_started(&mut self) -> Vec<String> {
        let started = self.in_flight.is_some() || self.queue.front().is_some_and(|m| m.parts.len() < m.total);
        let keep = usize::from(started).min(self.queue.len());
        self.queue.drain(keep..).map(|m| m.id).collect()
    }

    /// Empties the queue, giving the ids of every message not delivered.
    pub(crate) fn drain_ids(&mut self) -> impl Iterator<Item = String> + '_ {
        self.in_flight = None;
        self.queue.drain(..).map(|m| m.id)
    }
}

/// Splits a payload into parts of at most `max` bytes, cutting after the last space before the
/// limit where there is one (SPEC 1), so the parts concatenate back to the text. An empty text
/// is one empty part. A cut never falls inside a UTF-8 character (SPEC 1, "Beyond ASCII"), so
/// each datagram is valid UTF-8 on its own, unless `max` is below one character's length.
pub(crate) fn split(text: &[u8], max: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let max = max.max(1);
    let mut start = 0;
    let mut first = true;
    std::iter::from_fn(move || {
        if start >= text.len() && !first {
            return None;
        }
        first = false;
        let rest = &text[start..];
        let len = if rest.len() <= max {
            rest.len()
        } else {
            match rest[..max].iter().rposition(|&b| b == b' ') {
                Some(space) if space > 0 => space + 1,
                _ => char_boundary(rest, max),
            }
        };
        let range = start..start + len;
        start += len;
        Some(range)
    })
}

/// The last cut at or before `at` (`at < text.len()`) that does not fall before a UTF-8
/// continuation byte; `at` itself when a character is longer than `at` bytes.
fn char_boundary(text: &[u8], at: usize) -> usize {
    let is_continuation = |b: u8| b & 0xc0 == 0x80;
    match (1..=at).rev().find(|&i| !is_continuation(text[i])) {
        Some(cut) => cut,
        None => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str, max: usize) -> Vec<&str> {
        split(text.as_bytes(), max).map(|r| &text[r]).collect()
    }

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(parts("hello", 985), ["hello"]);
        assert_eq!(parts("", 985), [""]);
    }

    #[test]
    fn splits_after_the_last_space_before_the_limit() {
        assert_eq!(parts("aaa bbb ccc", 9), ["aaa bbb ", "ccc"]);
        assert_eq!(parts("aaaaaaaaaaaa", 5), ["aaaaa", "aaaaa", "aa"]);
        assert_eq!(parts(" aaaaaa", 3), [" aa", "aaa", "a"]);
    }

    #[test]
    fn parts_concatenate_to_the_text_and_respect_the_limit() {
        let text = "lorem ipsum dolor sit amet ".repeat(100);
        for max in [1, 7, 30, 985] {
            let p = parts(&text, max);
            assert!(p.iter().all(|s| s.len() <= max && !s.is_empty()));
            assert_eq!(p.concat(), text);
        }
    }

    #[test]
    fn utf8_is_never_cut_inside_a_character() {
        assert_eq!(parts("ééé", 5), ["éé", "é"]);
        assert_eq!(parts("aé€𝄞", 4), ["aé", "€", "𝄞"]);
        let text = "€uro 𝄞😀é".repeat(50) + &"é".repeat(700);
        for max in 4..=40 {
            let p = split(text.as_bytes(), max).collect::<Vec<_>>();
            assert!(p.iter().all(|r| r.len() <= max && text.is_char_boundary(r.end)), "max {max}");
            assert_eq!(p.iter().map(|r| &text[r.clone()]).collect::<String>(), text);
        }
        // Below one character's length there is no whole cut: the bytes still all go, in order.
        let bytes = split("€".as_bytes(), 2).collect::<Vec<_>>();
        assert_eq!(bytes, [0..2, 2..3]);
    }

    #[test]
    fn acknowledging_the_last_part_completes_the_message() {
        let mut s = Sender::default();
        s.push("1".into(), "aaa bbb".into(), 4);
        s.push("2".into(), "c".into(), 4);
        assert_eq!(s.next_payload(), Some(&b"aaa "[..]));
        assert_eq!(s.acknowledged(), None);
        assert_eq!(s.next_payload(), Some(&b"bbb"[..]));
        assert_eq!(s.acknowledged(), Some("1".into()));
        assert_eq!(s.len(), 1);
        assert_eq!(s.drain_ids().collect::<Vec<_>>(), ["2"]);
        assert!(s.is_idle());
    }

    #[test]
    fn only_a_message_with_a_part_out_is_kept_when_sending_stops() {
        let in_flight = || InFlight {
            bytes: Arc::from(&b""[..]),
            seq: Seq::Zero,
            sent_at: Instant::ZERO,
            last_sent: Instant::ZERO,
            resends: 0,
        };
        let mut s = Sender::default();
        s.push("1".into(), "aaa bbb".into(), 4);
        s.push("2".into(), "c".into(), 4);
        assert_eq!(s.keep_started(), ["1", "2"], "nothing went out yet");
        s.push("1".into(), "aaa bbb".into(), 4);
        s.push("2".into(), "c".into(), 4);
        s.in_flight = Some(in_flight());
        assert_eq!(s.keep_started(), ["2"], "the first part of 1 is in flight");
        assert_eq!(s.acknowledged(), None);
        assert_eq!(s.keep_started(), Vec::<String>::new(), "1 is half delivered: its second part still goes");
        assert_eq!(s.next_payload(), Some(&b"bbb"[..]));
    }
}
