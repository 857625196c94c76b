//! Dictionaries of words for the fuzzers: harvested from the code under
//! test ([`harvest`], with `syn`, for Rust; [`foreign`], with tree-sitter
//! grammars, for PHP, Python, JavaScript, TypeScript, Ruby, Go and Java),
//! read from and written to libFuzzer's
//! dictionary format ([`format`]), and handed to the built-in engine, the
//! libFuzzer custom mutator and `rowguard dict`.
//!
//! The token dictionary the generator is built on (`fuzz/rowguard.dict`,
//! quotes, comment markers, keywords) is [`crate::harness::scenario::dict`]; a
//! [`Dictionary`] holds the words that file does not: the ones a program
//! compares its input against, which no fixed table can know. A dictionary
//! is ranked: [`Rank::Compared`] words first.
//!
//! Three observers feed it (as AFL++'s CmpLog feeds comparison operands
//! back into mutation, without compiler instrumentation): the source
//! ([`harvest`]), the fixture's rows ([`fixture`]: every text value and key
//! of every table) and, in the built-in engine, the values the code under
//! test read through `Db` while running an input ([`Recent`]).
//! [`compose`] writes the compositions an engine without a run-time
//! composer needs (libFuzzer's `-dict=`).

use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod compose;
pub mod depth;
pub mod fixture;
mod fold;
pub mod foreign;
pub mod format;
pub mod generic;
pub mod harvest;
pub mod recent;
pub mod sources;

pub use recent::Recent;

pub use sources::harvest_sources;

/// Shortest word kept from splitting a long literal.
pub const MIN_FRAGMENT: usize = 3;
/// Most words a dictionary holds: past it the worst-ranked words are cut
/// (and counted). Entries are at most [`format::MAX_ENTRY`] bytes, so a
/// dictionary is at most 3.2 MB of words.
pub const MAX_WORDS: usize = 50_000;

/// How many ranks there are.
const RANKS: usize = 7;

/// How directly a word guards a branch of the code it came from (the order
/// is the priority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rank {
    /// A row-reference template: a prefix or pattern the code parses a
    /// number or key out of (`strip_prefix("see #")?.parse()`,
    /// `split_once("ref:")`, `Regex::new(r"ref:(\d+)")`). The engines write
    /// it followed by a key of the fixture or one the code read, keys of
    /// other rows than the operation's target first ([`compose::reference`]);
    /// it is also a compared word.
    Reference,
    /// Compared against (`==`, `contains`, a `match` arm, ...).
    Compared,
    /// Any other literal.
    Literal,
    /// A word out of a longer literal (SQL keywords and names, prose).
    Fragment,
    /// A text value of the fixture's rows (or a word out of one), or a
    /// value the code read from the database while running: what a branch
    /// gated by the database compares with ([`fixture`]).
    Stored,
    /// A key of the fixture's rows (an integer primary key, in decimal):
    /// what a reference to another row must name ([`fixture`]).
    Key,
    /// A composition: two words joined, a word with a key (`#12`,
    /// `order:12`) ([`compose`]), for engines that cannot compose at run
    /// time (libFuzzer's `-dict=`).
    Composed,
}

impl Rank {
    /// The name written before `=` in a dictionary line.
    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Reference => "reference",
            Rank::Compared => "compared",
            Rank::Literal => "literal",
            Rank::Fragment => "fragment",
            Rank::Stored => "stored",
            Rank::Key => "key",
            Rank::Composed => "composed",
        }
    }
}

/// One word and its rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    pub bytes: Vec<u8>,
    pub rank: Rank,
}

/// Ranked, deduplicated words: every `Reference` template, then `Compared`
/// word, then `Literal`, `Fragment`, ..., each in the order first seen.
/// Words of the shared token dictionary are left out (every engine has them
/// already), except reference templates (`#`: composed with keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dictionary {
    pub words: Vec<Word>,
    /// Values the code read while running, kept by the built-in engine as
    /// it goes (empty in a dictionary read or harvested).
    #[serde(skip)]
    pub recent: Recent,
}

/// A source file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// What a harvest read.
#[derive(Debug, Clone, Default)]
pub struct Harvested {
    pub dictionary: Dictionary,
    /// Source files parsed (Rust and the languages of [`foreign`]).
    pub files: usize,
    /// Files not harvested (not parseable, nested too deep, too large, not
    /// a regular file, past the harvest's byte budget): a warning each.
    pub skipped: Vec<Skipped>,
    /// Words harvested but left out because the dictionary was full
    /// ([`MAX_WORDS`]; each occurrence counts).
    pub cut: usize,
}

impl Dictionary {
    /// Ranks and deduplicates `words` (a word keeps its best rank); at most
    /// [`MAX_WORDS`], the best ranked kept.
    pub fn from_words(words: impl IntoIterator<Item = (Vec<u8>, Rank)>) -> Dictionary {
        Dictionary::capped(words).0
    }

    /// [`Dictionary::from_words`] and how many words were left out (each
    /// occurrence of a word that found no room counts). At
    /// most [`MAX_WORDS`] words of each rank are held while reading, so
    /// memory is bounded whatever `words` yields.
    pub fn capped(words: impl IntoIterator<Item = (Vec<u8>, Rank)>) -> (Dictionary, usize) {
        let base: std::collections::HashSet<&[u8]> = crate::harness::scenario::dict::tokens()
            .iter()
            .map(|t| t.as_bytes())
            .collect();
        let mut best: Vec<Word> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut per_rank = [0usize; RANKS];
        let mut cut = 0usize;
        for (bytes, rank) in words {
            // a reference template is kept even when it is a shared token
            // (`#`): the engines compose it with keys, the tokens alone
            let shared = rank != Rank::Reference && base.contains(&bytes[..]);
            if bytes.is_empty() || bytes.len() > format::MAX_ENTRY || shared {
                continue;
            }
            match index.get(&bytes) {
                Some(&i) => {
                    let w: &mut Word = &mut best[i];
                    w.rank = w.rank.min(rank);
                }
                None if per_rank[rank as usize] >= MAX_WORDS => cut += 1,
                None => {
                    per_rank[rank as usize] += 1;
                    index.insert(bytes.clone(), best.len());
                    best.push(Word { bytes, rank });
                }
            }
        }
        // stable: first-seen order within a rank
        best.sort_by_key(|w| w.rank);
        let over = best.len().saturating_sub(MAX_WORDS);
        best.truncate(MAX_WORDS);
        (
            Dictionary {
                words: best,
                recent: Recent::default(),
            },
            cut + over,
        )
    }

    /// `self` with what a dictionary file needs beyond the source's words:
    /// the fixture's words and keys of `domain` ([`fixture`]) and the
    /// compositions of both ([`compose::compositions`]); what `rowguard
    /// dict` writes and libFuzzer's `-dict=` reads.
    pub fn with_fixture(self, domain: &dyn crate::harness::domain::Domain) -> Dictionary {
        let both = Dictionary::merge([self, fixture::fixture_words(domain)]);
        let composed = compose::compositions(&both);
        Dictionary::from_words(
            both.words
                .into_iter()
                .map(|w| (w.bytes, w.rank))
                .chain(composed),
        )
    }

    /// Merges several dictionaries (best rank wins).
    pub fn merge(dicts: impl IntoIterator<Item = Dictionary>) -> Dictionary {
        Dictionary::from_words(
            dicts
                .into_iter()
                .flat_map(|d| d.words.into_iter().map(|w| (w.bytes, w.rank))),
        )
    }

    /// No word of any source (harvested, fixture, read).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.recent.is_empty()
    }

    /// Where the words a branch compares with are: the reference templates
    /// and the compared words (adjacent: they are the first two ranks).
    pub fn compared_span(&self) -> std::ops::Range<usize> {
        self.span(Rank::Reference).start..self.span(Rank::Compared).end
    }

    /// Words of one rank.
    pub fn ranked(&self, rank: Rank) -> impl Iterator<Item = &Word> {
        self.words[self.span(rank)].iter()
    }

    /// Where the words of `rank` are in [`Dictionary::words`] (they are
    /// sorted by rank): found in O(log n), for a mutator that picks a word
    /// of a rank at every call.
    pub fn span(&self, rank: Rank) -> std::ops::Range<usize> {
        let from = self.words.partition_point(|w| w.rank < rank);
        let to = self.words.partition_point(|w| w.rank <= rank);
        from..to
    }

    /// Reads a libFuzzer dictionary file: entries named after a rank
    /// (`reference`, `compared`, `fragment`, `stored`, `key`, `composed`)
    /// keep that rank, any other entry is a `Literal`. A line libFuzzer would reject is an error.
    pub fn load(path: &Path) -> crate::Result<Dictionary> {
        let bytes = crate::tools::input::read_file(path)?;
        let entries = format::parse(&bytes)
            .map_err(|e| crate::Error::Usage(format!("{}: {e}", path.display())))?;
        Ok(Dictionary::from_words(entries.into_iter().map(|e| {
            let rank = match e.name.as_deref() {
                Some("reference") => Rank::Reference,
                Some("compared") => Rank::Compared,
                Some("fragment") => Rank::Fragment,
                Some("stored") => Rank::Stored,
                Some("key") => Rank::Key,
                Some("composed") => Rank::Composed,
                _ => Rank::Literal,
            };
            (e.value, rank)
        })))
    }

    /// The dictionary as a libFuzzer file: its words, ranked, then the
    /// shared token dictionary (`fuzz/rowguard.dict`), so one `-dict=` file
    /// holds both.
    pub fn to_libfuzzer(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        let mut rank = None;
        for w in &self.words {
            if rank != Some(w.rank) {
                rank = Some(w.rank);
                out.push_str(&format!("\n# {} words\n", w.rank.as_str()));
            }
            if let Some(line) = format::write_entry(Some(w.rank.as_str()), &w.bytes) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out.push_str("\n# the shared token dictionary (fuzz/rowguard.dict)\n");
        for t in crate::harness::scenario::dict::tokens() {
            if let Some(line) = format::write_entry(None, t.as_bytes()) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranked_first_deduplicated_and_without_the_shared_tokens() {
        let d = Dictionary::from_words([
            (b"sql words".to_vec(), Rank::Fragment),
            (b"word".to_vec(), Rank::Literal),
            (b"'".to_vec(), Rank::Compared),
            (b"word".to_vec(), Rank::Compared),
            (b"other".to_vec(), Rank::Literal),
            (Vec::new(), Rank::Compared),
        ]);
        let many = (0..MAX_WORDS + 10).map(|i| (format!("w{i}").into_bytes(), Rank::Fragment));
        let first = [(b"kept".to_vec(), Rank::Compared)];
        let (big, cut) = Dictionary::capped(many.chain(first));
        assert_eq!((big.words.len(), cut), (MAX_WORDS, 11));
        assert_eq!(
            big.words[0].bytes, b"kept",
            "a compared word is never cut for fragments"
        );
        let got: Vec<(&[u8], Rank)> = d.words.iter().map(|w| (&w.bytes[..], w.rank)).collect();
        assert_eq!(
            got,
            vec![
                (&b"word"[..], Rank::Compared),
                (&b"other"[..], Rank::Literal),
                (&b"sql words"[..], Rank::Fragment)
            ]
        );
    }

    #[test]
    fn a_written_dictionary_reads_back_with_its_ranks() {
        let d = Dictionary::from_words([
            (b"see #".to_vec(), Rank::Reference),
            (b"#".to_vec(), Rank::Reference),
            (b"tele\"health\\".to_vec(), Rank::Compared),
            ("caf\u{e9}\0".as_bytes().to_vec(), Rank::Literal),
            (b"SELECTED".to_vec(), Rank::Fragment),
        ]);
        let text = d.to_libfuzzer("test\nsecond line");
        let dir = std::env::temp_dir().join(format!("rowguard-dict-test-{}", std::process::id()));
        std::fs::write(&dir, &text).unwrap();
        let back = Dictionary::load(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(back, d);
        let entries = format::parse(text.as_bytes()).unwrap();
        assert_eq!(
            entries.len(),
            5 + crate::harness::scenario::dict::tokens().len(),
            "{text}"
        );
    }
}
