//! Following the guide (docs/servers.md) never breaks the user's shell: the server scripts
//! it says to `source` (`.ci/postgres.sh`, `.ci/mariadb.sh`) leave the
//! sourcing shell's options, functions and variables as they were but for
//! what they export, and a failure is a return code, never an exit of the
//! shell. (Starting a server is what `.ci/run` does with them, checking the
//! same around each start.)

use std::process::Command;

use crate::util::root;

/// Runs `script` in a bash that records its state before and after, and
/// prints `rc=<code> same=<yes|no>` when the shell survives.
fn sourced(shell_options: &str, script: &str) -> String {
    let program = format!(
        r#"{shell_options}
state() {{ set +o; shopt -p; declare -F; declare -p | grep -v -E '^declare (-[a-zA-Z-]+ )?(BASH_|FUNCNAME|LINENO|RANDOM|SECONDS|SRANDOM|EPOCH|_=|PIPESTATUS|BASHPID|OLDPWD|before=|rc=)'; }}
before=$(state)
rc=0
{script} || rc=$?
after=$(state)
[ "$before" = "$after" ] && same=yes || {{ same=no; diff <(echo "$before") <(echo "$after") >&2; }}
echo "rc=$rc same=$same""#
    );
    let o = Command::new("bash")
        .args(["-c", &program])
        .current_dir(root())
        .env_remove("PG_SCRATCH")
        .env_remove("MARIADB_SCRATCH")
        .output()
        .expect("bash runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn sourcing_a_server_script_leaves_the_shell_as_it_was() {
    for script in [".ci/postgres.sh", ".ci/mariadb.sh"] {
        // a usage error: a return code of 2, the shell and its options
        // intact, whatever options the shell had
        for options in ["set +euo pipefail", "set -u", "set -euo pipefail"] {
            let out = sourced(
                options,
                &format!("source {script} no-such-command 2>/dev/null"),
            );
            assert!(
                out.contains("rc=2 same=yes"),
                "{script} under `{options}`: {out}"
            );
        }
        // stopping a server that is not there: nothing to do, success
        let out = sourced(
            "set +euo pipefail",
            &format!("source {script} stop /nonexistent-rowguard-dir"),
        );
        assert!(out.contains("rc=0 same=yes"), "{script} stop: {out}");
    }
}
