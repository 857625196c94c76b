//! The appointments harness's generator: fuzz bytes as one operation on an
//! appointment that exists in the default fixture, on a valid day and slot,
//! its text fields [`arbitrary_text`] (anything, dictionary tokens likely).

use arbitrary::{Arbitrary, Unstructured};

use super::pipeline::{Op, DAYS, SLOTS};
use super::schema;
use crate::harness::scenario::arbitrary_text;

/// Generates one op on an appointment of the default fixture.
pub fn arbitrary_op(u: &mut Unstructured<'_>) -> arbitrary::Result<Op> {
    let id = u.int_in_range(1..=schema::DEFAULT_SIZE as i64)?;
    Ok(match u.int_in_range(0..=5)? {
        0..=2 => Op::Reschedule {
            id,
            day: u.int_in_range(1..=DAYS)?,
            slot: u.int_in_range(0..=SLOTS - 1)?,
            notes: arbitrary_text(u)?,
            reason: arbitrary_text(u)?,
        },
        3..=4 => Op::EditNotes {
            id,
            notes: arbitrary_text(u)?,
        },
        _ => Op::RescheduleSeries {
            id,
            slot: u.int_in_range(0..=SLOTS - 1)?,
            notes: arbitrary_text(u)?,
            reason: arbitrary_text(u)?,
        },
    })
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        arbitrary_op(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::harness;
    use crate::harness::scenario::decode;

    #[test]
    fn generated_ops_name_existing_appointments_and_valid_slots() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..500 {
            let bytes: Vec<u8> = (0..256)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for op in decode(harness(), &bytes).scenario.ops {
                let op: Op = serde_json::from_value(op).unwrap();
                assert!((1..=schema::DEFAULT_SIZE as i64).contains(&op.target()));
                op.validate().unwrap();
            }
        }
    }
}
