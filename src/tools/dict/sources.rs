//! Harvesting a source tree (`dict --source`, `fuzz --source`, the gate's
//! default): which files are read, and the bounds that keep a hostile tree
//! from crashing or ballooning the harvest. Rust files (`.rs`) are read with
//! `syn` ([`harvest`]); PHP, Python, JavaScript, TypeScript, Ruby, Go and
//! Java files (the extensions of [`foreign::EXTENSIONS`]) with their
//! tree-sitter grammars ([`foreign`]), under the same bounds; in a folder,
//! those files are not read inside the [`THIRD_PARTY`] folders of installed
//! packages (`node_modules`, `vendor`, ...) nor when minified (`.min.js`). Every file comes through the
//! one file-input layer ([`crate::tools::input`]): folders by its bounded walk,
//! files opened as regular files only and read up to [`MAX_SOURCE`] bytes
//! actually read.
//!
//! Skipped with a warning (in [`Harvested::skipped`]), never a crash: a
//! file that does not parse, one nested past [`depth::MAX_DEPTH`] or holding
//! more than [`depth::MAX_TOKENS`] tokens (Rust), one whose parse takes
//! longer than [`foreign::PARSE_TIME`] (the other languages), one larger
//! than [`MAX_SOURCE`], an entry with one of those extensions that is not a
//! regular file (FIFO, device, `/proc`), and every file after
//! [`MAX_HARVEST`] bytes in all. Each file is parsed and visited on a
//! thread of its own with a [`PARSE_STACK`] stack (a Rust file tokenized
//! and checked first), so even the bounded depth cannot overflow it. The
//! dictionary is capped at [`super::MAX_WORDS`] words ([`Harvested::cut`]).
//!
//! A missing path, a binary file, a root on `/proc`, or no source file
//! rowguard reads at all is an error (exit 2).
//!
//! The folders a harness declares ([`crate::harness::domain::Harness::sources`])
//! are best written with [`sources!`](crate::sources), which makes each one
//! absolute in the harness crate's own directory at compile time, so the
//! gate harvests the same words from whatever folder it is started in;
//! [`declared`] refuses a declared folder that is missing (the gate fails
//! closed, never passes on no words).

use std::path::{Path, PathBuf};

use super::depth::{self, TooMuch};
use super::{foreign, generic, harvest, Dictionary, Harvested, Rank, Skipped};

/// The source folders of a harness, each absolute in the directory of the
/// crate that writes the macro (its `CARGO_MANIFEST_DIR`, at compile time):
/// what `Harness::sources` returns, so the gate finds them from any folder.
///
/// ```
/// struct Billing;
/// impl Billing {
///     fn sources(&self) -> &'static [&'static str] {
///         rowguard::sources!["src", "examples"]
///     }
/// }
/// let dirs = Billing.sources();
/// assert!(dirs.iter().all(|d| std::path::Path::new(d).is_absolute()));
/// assert!(std::path::Path::new(dirs[0]).ends_with("src"));
/// ```
#[macro_export]
macro_rules! sources {
    ($($path:literal),* $(,)?) => {
        &[$(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)),*]
    };
}

/// The folders harness `harness` declares, resolved: every one must exist.
/// A declared folder that is missing is an error (exit 2): a gate run
/// without the words of the code under test would pass what it cannot
/// find, so it fails closed, and the message says how to declare folders
/// that resolve from anywhere ([`sources!`](crate::sources)).
pub fn declared(harness: &str, folders: Vec<PathBuf>) -> crate::Result<Vec<PathBuf>> {
    for folder in &folders {
        if !folder.exists() {
            return Err(crate::Error::Usage(format!(
                "{}: a source folder the {harness} harness declares (Harness::sources) does not exist, so its words \
                 cannot be harvested; fix sources() (rowguard::sources![...] resolves in the harness crate's own directory) or give --source PATH",
                folder.display()
            )));
        }
    }
    Ok(folders)
}

/// Largest source file read (a Rust file larger than this is not
/// hand-written code: sqlparser's whole parser is 0.9 MB).
pub const MAX_SOURCE: u64 = 2 << 20;
/// Most bytes of source one harvest reads in all (16 MiB of literal-dense
/// source took 6.9 s to parse in a release build on a loaded 2-core machine).
pub const MAX_HARVEST: u64 = 8 << 20;
/// Stack of the thread a file is parsed on (reserved, not committed: only
/// what the parse touches is memory).
pub const PARSE_STACK: usize = 512 << 20;

/// The extension of a file a grammar other than Rust's reads.
fn foreign_extension(p: &Path) -> Option<&str> {
    p.extension()
        .and_then(|e| e.to_str())
        .filter(|e| foreign::reads(e))
}

/// The extension of a file only quoted strings are read from ([`generic`]).
fn generic_extension(p: &Path) -> Option<&str> {
    p.extension()
        .and_then(|e| e.to_str())
        .filter(|e| generic::EXTENSIONS.contains(e))
}

/// Folders of other people's code an application keeps beside its own
/// (packages installed by npm, Composer, Bundler, pip, Go): a file of
/// another language under one is not read, so they neither fill the
/// harvest's byte budget nor bury the application's words.
pub const THIRD_PARTY: &[&str] = &[
    "node_modules",
    "bower_components",
    "vendor",
    "site-packages",
    "__pycache__",
];

/// Whether file `p` of a folder walked from `root` is read: Rust, or a
/// language of [`foreign`] outside [`THIRD_PARTY`] folders and minified
/// scripts (`.min.js`).
fn is_source(root: &Path, p: &Path) -> bool {
    if p.extension().is_some_and(|e| e == "rs") {
        return true;
    }
    if foreign_extension(p).is_none() && generic_extension(p).is_none() {
        return false;
    }
    let minified = p
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with(".min"));
    let third_party = p.strip_prefix(root).unwrap_or(p).components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|c| THIRD_PARTY.contains(&c))
    });
    !minified && !third_party
}

/// The extensions read, for messages: `.rs .php .py ...`.
fn extensions() -> String {
    std::iter::once("rs")
        .chain(foreign::EXTENSIONS.iter().copied())
        .chain(generic::EXTENSIONS.iter().copied())
        .map(|e| format!(".{e}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The source files under `path` (itself when it is a file), sorted, and
/// the entries with a source file's extension that are not regular files.
fn source_files(path: &Path) -> crate::Result<(Vec<PathBuf>, Vec<Skipped>)> {
    let meta = std::fs::metadata(path).map_err(|e| crate::Error::io(path, e))?;
    if !meta.is_dir() {
        // a named file must be one: a FIFO or device given by name is refused
        crate::tools::input::open_regular(path)?;
        return Ok((vec![path.to_path_buf()], Vec::new()));
    }
    let w = crate::tools::input::walk::walk(path)?;
    let special = w
        .special
        .into_iter()
        .filter(|(p, _)| is_source(path, p))
        .map(|(path, reason)| Skipped { path, reason })
        .collect();
    Ok((
        w.files.into_iter().filter(|p| is_source(path, p)).collect(),
        special,
    ))
}

/// Reads one source file: `Ok(Err(why))` when it is skipped (too large).
fn read_source(f: &Path) -> crate::Result<Result<String, String>> {
    let file = crate::tools::input::open_regular(f)?;
    let bytes = match crate::tools::input::read_open_file(file, f, MAX_SOURCE) {
        Ok(b) => b,
        Err(_) => return Ok(Err(format!("larger than {MAX_SOURCE} bytes"))),
    };
    match String::from_utf8(bytes) {
        Ok(t) if !t.contains('\0') => Ok(Ok(t)),
        _ => Err(crate::Error::Usage(format!(
            "{}: binary file, not source code",
            f.display()
        ))),
    }
}

/// Tokenizes, bounds, parses and harvests `text`, the text of file `f`, on
/// a thread with a [`PARSE_STACK`] stack; `Err` says why the file is
/// skipped. A file a grammar of [`foreign`] reads is parsed with it; any
/// other is Rust.
fn harvest_bounded(f: &Path, text: String) -> Result<Vec<(Vec<u8>, Rank)>, String> {
    let other = foreign_extension(f).map(str::to_string);
    // a language no grammar here reads: its quoted strings; a file named
    // with no known extension at all is read that way too
    let generic = other.is_none()
        && (generic_extension(f).is_some() || f.extension().is_none_or(|e| e != "rs"));
    let work = move || {
        if let Some(ext) = other {
            return foreign::harvest(&ext, &text);
        }
        if generic {
            return Ok(generic::harvest(&text));
        }
        let tokens: proc_macro2::TokenStream = text.parse().map_err(|e| format!("{e:?}"))?;
        match depth::check(tokens) {
            Err(TooMuch::Depth) => {
                return Err(format!(
                    "nested deeper than rowguard parses (depth estimate over {})",
                    depth::MAX_DEPTH
                ))
            }
            Err(TooMuch::Tokens) => return Err(format!("more than {} tokens", depth::MAX_TOKENS)),
            Ok(()) => {}
        }
        harvest::harvest(&text).map_err(|e| format!("not parseable Rust ({e})"))
    };
    std::thread::Builder::new()
        .name("rowguard-harvest".into())
        .stack_size(PARSE_STACK)
        .spawn(work)
        .map_err(|e| format!("no thread to parse it on: {e}"))?
        .join()
        .unwrap_or_else(|_| Err("the parser panicked".into()))
}

/// Harvests every source file under `paths` (files or folders); see the
/// module doc for what is read, what is skipped and what is an error.
pub fn harvest_sources(paths: &[PathBuf]) -> crate::Result<Harvested> {
    if paths.is_empty() {
        return Err(crate::Error::Usage("no source path given".into()));
    }
    let mut words = Vec::new();
    let mut out = Harvested::default();
    let mut read = 0u64;
    for root in paths {
        let (files, special) = source_files(root)?;
        if files.is_empty() && special.is_empty() {
            return Err(crate::Error::Usage(format!(
                "{}: no source file rowguard reads ({}) in it",
                root.display(),
                extensions()
            )));
        }
        out.skipped.extend(special);
        for f in files {
            if crate::guard::interrupt::requested() {
                return Err(crate::Error::Usage(
                    "interrupted (SIGINT, SIGTERM or SIGHUP) while harvesting".into(),
                ));
            }
            if read >= MAX_HARVEST {
                let reason = format!("past the harvest's {MAX_HARVEST} bytes in all");
                out.skipped.push(Skipped { path: f, reason });
                continue;
            }
            let text = match read_source(&f)? {
                Ok(t) => t,
                Err(reason) => {
                    out.skipped.push(Skipped { path: f, reason });
                    continue;
                }
            };
            read += text.len() as u64;
            match harvest_bounded(&f, text) {
                Ok(w) => {
                    words.extend(w);
                    out.files += 1;
                }
                Err(reason) => out.skipped.push(Skipped { path: f, reason }),
            }
            // dedupe and cap as we go: memory follows the dictionary, not the sources
            if words.len() > 4 * super::MAX_WORDS {
                let (d, cut) = Dictionary::capped(std::mem::take(&mut words));
                out.cut += cut;
                words = d.words.into_iter().map(|w| (w.bytes, w.rank)).collect();
            }
        }
    }
    let (d, cut) = Dictionary::capped(words);
    out.dictionary = d;
    out.cut += cut;
    Ok(out)
}
