//! A team's binary whose harness declares a source folder that does not
//! exist (`rowguard::sources!["no-such-folder"]`): `tests/team_words.rs`
//! runs its gate, which must stop with one line and exit 2, never pass on
//! no words. Built as the example `missing_sources` (Cargo.toml).

use rowguard::guard::{Db, DbError, Policy};
use rowguard::harness::domain::{register, Fixture, Harness, Version};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, arbitrary::Arbitrary)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Touch {
    Touch { id: i64 },
}

struct Gone;

impl Harness for Gone {
    type Op = Touch;
    fn name(&self) -> &'static str {
        "gone"
    }
    fn fixture(&self) -> Fixture {
        Fixture::sql("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
    }
    fn policy(&self, _op: &Touch, _db: &mut dyn Db) -> Result<Policy, DbError> {
        Ok(Policy::new("t", "id").key(1))
    }
    fn versions(&self) -> Vec<Version<Touch>> {
        vec![Version::new("safe", |_: &Touch, _: &mut dyn Db| Ok(()))]
    }
    fn example(&self) -> Touch {
        Touch::Touch { id: 1 }
    }
    fn sources(&self) -> &'static [&'static str] {
        rowguard::sources!["no-such-folder"]
    }
}

fn main() -> std::process::ExitCode {
    rowguard::cli::main(vec![register(Gone)])
}
