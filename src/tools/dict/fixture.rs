//! Words from the fixture: the engine owns the database every input runs
//! against, so every text value of its rows is a word a branch may be
//! gated by (a clinician, a room, a tag configured in a table), and every
//! integer primary key a row a reference in free text may name.
//!
//! Read generically from any harness's fixture: built on an in-memory
//! SQLite connection, every table of `sqlite_master` read with `SELECT *`,
//! smallest tables first (configuration and lookup tables are small; a
//! gate word is more likely there than in the biggest table). Text values
//! holding a letter are [`Rank::Stored`] words, whole and split into words
//! (runs of letters, digits, `_`); values without a letter (timestamps,
//! phone numbers, amounts) are left out. Integer values of primary-key
//! columns are [`Rank::Key`]s. Bounded: [`MAX_ROWS`] rows a table,
//! [`MAX_STORED`] words and [`MAX_KEYS`] keys in all; the order is the
//! fixture's, so a run repeats.

use std::collections::HashSet;

use super::{format, Dictionary, Rank, MIN_FRAGMENT};
use crate::harness::domain::Domain;

/// Most rows read from one table.
pub const MAX_ROWS: usize = 10_000;
/// Most words taken from the fixture's text values.
pub const MAX_STORED: usize = 4_096;
/// Most keys taken from the fixture.
pub const MAX_KEYS: usize = 1_024;

/// The words and keys of `domain`'s fixture (empty when it cannot be built:
/// the engine then fuzzes without them, as before).
pub fn fixture_words(domain: &dyn Domain) -> Dictionary {
    read(domain).unwrap_or_default()
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn read(domain: &dyn Domain) -> rusqlite::Result<Dictionary> {
    let conn = rusqlite::Connection::open_in_memory()?;
    (domain.fixture().sqlite)(&conn)?;
    let mut tables: Vec<(i64, String)> = Vec::new();
    {
        let mut names = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?;
        let names: Vec<String> = names
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for name in names {
            let n: i64 = conn.query_row(
                &format!("SELECT count(*) FROM {}", quoted(&name)),
                [],
                |r| r.get(0),
            )?;
            tables.push((n, name));
        }
    }
    // smallest tables first; ties by name
    tables.sort();
    let mut words: Vec<(Vec<u8>, Rank)> = Vec::new();
    let mut seen = HashSet::new();
    let (mut stored, mut keys) = (0usize, 0usize);
    for (_, table) in &tables {
        let pk: HashSet<String> = {
            let mut info = conn.prepare(&format!("PRAGMA table_info({})", quoted(table)))?;
            let cols = info.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)?)))?;
            cols.filter_map(Result::ok)
                .filter(|(_, pk)| *pk > 0)
                .map(|(name, _)| name)
                .collect()
        };
        let mut select =
            conn.prepare(&format!("SELECT * FROM {} LIMIT {MAX_ROWS}", quoted(table)))?;
        let columns: Vec<String> = select.column_names().map(str::to_string).collect();
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            for (i, column) in columns.iter().enumerate() {
                match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(t) => {
                        if !t.iter().any(u8::is_ascii_alphabetic) && t.is_ascii() {
                            continue;
                        }
                        let mut offer = |w: &[u8]| {
                            if stored < MAX_STORED
                                && !w.is_empty()
                                && w.len() <= format::MAX_ENTRY
                                && seen.insert(w.to_vec())
                            {
                                stored += 1;
                                words.push((w.to_vec(), Rank::Stored));
                            }
                        };
                        offer(t);
                        for w in
                            t.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80))
                        {
                            if w.len() >= MIN_FRAGMENT {
                                offer(w);
                            }
                        }
                    }
                    rusqlite::types::ValueRef::Integer(k) if pk.contains(column) => {
                        let k = k.to_string().into_bytes();
                        if keys < MAX_KEYS && seen.insert(k.clone()) {
                            keys += 1;
                            words.push((k, Rank::Key));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(Dictionary::from_words(words))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::harness;

    #[test]
    fn the_appointments_fixture_gives_its_names_and_keys_smallest_table_first() {
        let d = fixture_words(harness());
        let stored: Vec<&[u8]> = d.ranked(Rank::Stored).map(|w| &w.bytes[..]).collect();
        assert_eq!(
            stored[0], b"Dr. Ada Okafor",
            "practitioners is the smallest table"
        );
        for w in [
            &b"Dr. Dana Ruiz"[..],
            b"Ruiz",
            b"Client 07",
            b"allergic to latex",
            b"booked",
        ] {
            assert!(stored.contains(&w), "{:?}", String::from_utf8_lossy(w));
        }
        // timestamps and phone numbers hold no letter
        assert!(
            !stored.iter().any(|w| w.starts_with(b"2026-")),
            "{stored:?}"
        );
        let keys: Vec<&[u8]> = d.ranked(Rank::Key).map(|w| &w.bytes[..]).collect();
        for k in [&b"1"[..], b"7", b"240"] {
            assert!(keys.contains(&k));
        }
        assert!(keys.len() <= MAX_KEYS && stored.len() <= MAX_STORED);
        assert_eq!(d, fixture_words(harness()), "the same every time");
    }
}
