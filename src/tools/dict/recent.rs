//! Words the code read: the values the code under test received through
//! `Db` (`query_row` results) while running an input, offered to the next
//! mutations of the same run, the way AFL++'s CmpLog offers the operands
//! of the comparisons an input made, without compiler instrumentation.
//!
//! Bounded: the [`MAX_RECENT`] most recent distinct texts (each at most
//! [`super::format::MAX_ENTRY`] bytes; a longer one is cut at a char
//! boundary) and as many integers (keys the code looked up). What is kept
//! depends on the inputs run and their order only, so a run with one job
//! and a seed repeats exactly.

use crate::guard::Value;

/// Most texts (and most integers) kept.
pub const MAX_RECENT: usize = 32;

/// The most recent distinct values the code read, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recent {
    pub texts: Vec<Vec<u8>>,
    pub keys: Vec<Vec<u8>>,
}

fn keep(ring: &mut Vec<Vec<u8>>, value: Vec<u8>) {
    if value.is_empty() {
        return;
    }
    if let Some(i) = ring.iter().position(|v| *v == value) {
        // seen again: the newest now
        let v = ring.remove(i);
        ring.push(v);
        return;
    }
    if ring.len() >= MAX_RECENT {
        ring.remove(0);
    }
    ring.push(value);
}

impl Recent {
    /// Keeps the values of one run (in the order read).
    pub fn observe<'a>(&mut self, values: impl IntoIterator<Item = &'a Value>) {
        for v in values {
            match v {
                Value::Text(t) => {
                    let mut end = t.len().min(super::format::MAX_ENTRY);
                    while !t.is_char_boundary(end) {
                        end -= 1;
                    }
                    keep(&mut self.texts, t.as_bytes()[..end].to_vec());
                }
                Value::Integer(i) => keep(&mut self.keys, i.to_string().into_bytes()),
                _ => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty() && self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_deduplicated_newest_last() {
        let mut r = Recent::default();
        let vals: Vec<Value> = (0..100)
            .map(|i| Value::Text(format!("w{}", i % 40)))
            .chain([Value::Integer(7), Value::Null, Value::Text("é".repeat(100))])
            .collect();
        r.observe(&vals);
        assert_eq!(r.texts.len(), MAX_RECENT);
        assert_eq!(r.keys, vec![b"7".to_vec()]);
        let last = r.texts.last().unwrap();
        assert!(last.len() <= crate::tools::dict::format::MAX_ENTRY);
        assert!(std::str::from_utf8(last).is_ok());
    }
}
