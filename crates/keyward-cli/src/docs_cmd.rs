//! `keyward completions SHELL` and `keyward manpages DIR`: shell
//! completion scripts and man pages generated from this very command
//! line's clap definitions, so they cannot drift from it. The Debian
//! package is built with both (packaging/deb.sh).

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::Cli;
use crate::fail::{CliError, CliResult};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> CliResult<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keyward", &mut out);
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| CliError::failure(format!("cannot write the completions: {e}")))
}

/// Writes keyward.1 and one page per subcommand (keyward-keys-generate.1,
/// …) into `dir`, which must exist.
pub fn manpages(dir: &Path) -> CliResult<()> {
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| {
        CliError::failure(format!(
            "cannot write the man pages into {}: {e}",
            dir.display()
        ))
    })
}
