//! Where PINs come from: `--pin-fd`, else the environment, else a prompt
//! without echo on the terminal; never a wait on a non-terminal stdin.
//! Every secret is held in `Zeroizing` and never printed.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};

use zeroize::Zeroizing;

use crate::fail::{CliError, CliResult, EXIT_PIN};

/// The secrets a command may ask for: PINs and the backup passphrase
/// (asked twice when it protects a new backup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    UserPin,
    SoPin,
    NewUserPin,
    NewSoPin,
    BackupPassphrase,
    NewBackupPassphrase,
}

impl Secret {
    /// The environment variable that supplies it.
    pub fn env_var(self) -> &'static str {
        match self {
            Secret::UserPin => "KEYWARD_PIN",
            Secret::SoPin => "KEYWARD_SO_PIN",
            Secret::NewUserPin => "KEYWARD_NEW_PIN",
            Secret::NewSoPin => "KEYWARD_NEW_SO_PIN",
            Secret::BackupPassphrase | Secret::NewBackupPassphrase => "KEYWARD_BACKUP_PASSPHRASE",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Secret::UserPin => "user PIN",
            Secret::SoPin => "SO PIN",
            Secret::NewUserPin => "new user PIN",
            Secret::NewSoPin => "new SO PIN",
            Secret::BackupPassphrase => "backup passphrase",
            Secret::NewBackupPassphrase => "new backup passphrase",
        }
    }

    fn is_new(self) -> bool {
        matches!(
            self,
            Secret::NewUserPin | Secret::NewSoPin | Secret::NewBackupPassphrase
        )
    }
}

type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

/// The sources of secrets for one run of the CLI.
pub struct Secrets {
    /// `--pin-fd`: one secret a line, in the order the command documents.
    fd: Option<(u32, Box<dyn BufRead>)>,
    env: EnvLookup,
    /// stdin is a terminal, so prompting is allowed.
    interactive: bool,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("fd", &self.fd.as_ref().map(|(n, _)| n))
            .field("interactive", &self.interactive)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// Secrets from the real process: `pin_fd` if given, the environment
    /// and the terminal.
    pub fn from_process(pin_fd: Option<u32>) -> CliResult<Secrets> {
        let fd = match pin_fd {
            // Opening /dev/fd/N reaches the inherited descriptor without
            // `unsafe` (File::from_raw_fd is unsafe, and forbidden here).
            Some(n) => {
                let file = File::open(format!("/dev/fd/{n}")).map_err(|e| {
                    CliError::new(EXIT_PIN, format!("cannot read --pin-fd {n}: {e}"))
                })?;
                Some((n, Box::new(BufReader::new(file)) as Box<dyn BufRead>))
            }
            None => None,
        };
        Ok(Secrets {
            fd,
            env: Box::new(|name| std::env::var(name).ok()),
            interactive: std::io::stdin().is_terminal(),
        })
    }

    /// The secret `which`: the next line of `--pin-fd` when one was given,
    /// else its environment variable, else a prompt (twice for a new PIN).
    pub fn get(&mut self, which: Secret) -> CliResult<Zeroizing<String>> {
        if let Some((n, reader)) = &mut self.fd {
            return read_line(*n, reader.as_mut(), which);
        }
        if let Some(value) = (self.env)(which.env_var()) {
            return Ok(Zeroizing::new(value));
        }
        if !self.interactive {
            return Err(CliError::new(
                EXIT_PIN,
                format!(
                    "no {} given: set {} or pass --pin-fd (stdin is not a terminal)",
                    which.name(),
                    which.env_var()
                ),
            ));
        }
        let first = prompt(&format!("{}: ", capitalized(which.name())))?;
        if which.is_new() {
            let again = prompt(&format!("Repeat the {}: ", which.name()))?;
            if *again != *first {
                return Err(CliError::new(
                    EXIT_PIN,
                    format!("the two {}s differ", which.name()),
                ));
            }
        }
        Ok(first)
    }
}

fn read_line(fd: u32, reader: &mut dyn BufRead, which: Secret) -> CliResult<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    let n = reader
        .read_line(&mut line)
        .map_err(|e| CliError::new(EXIT_PIN, format!("cannot read --pin-fd {fd}: {e}")))?;
    if n == 0 {
        return Err(CliError::new(
            EXIT_PIN,
            format!("--pin-fd {fd} ended before the {}", which.name()),
        ));
    }
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

fn prompt(text: &str) -> CliResult<Zeroizing<String>> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| CliError::new(EXIT_PIN, format!("cannot read from the terminal: {e}")))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(fd: Option<&'static str>, env: &'static [(&'static str, &'static str)]) -> Secrets {
        Secrets {
            fd: fd.map(|text| (7, Box::new(text.as_bytes()) as Box<dyn BufRead>)),
            env: Box::new(move |name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }),
            interactive: false,
        }
    }

    #[test]
    fn fd_lines_come_in_order_and_win_over_env() {
        let mut s = secrets(Some("first\r\nsecond\n"), &[("KEYWARD_SO_PIN", "env")]);
        assert_eq!(*s.get(Secret::SoPin).unwrap(), "first");
        assert_eq!(*s.get(Secret::NewUserPin).unwrap(), "second");
        let e = s.get(Secret::UserPin).unwrap_err();
        assert_eq!(e.code, EXIT_PIN);
        assert!(
            e.message.contains("ended before the user PIN"),
            "{}",
            e.message
        );
    }

    #[test]
    fn env_then_clear_failure_without_terminal() {
        let mut s = secrets(None, &[("KEYWARD_PIN", "1234")]);
        assert_eq!(*s.get(Secret::UserPin).unwrap(), "1234");
        let e = s.get(Secret::NewSoPin).unwrap_err();
        assert_eq!(e.code, EXIT_PIN);
        assert!(e.message.contains("KEYWARD_NEW_SO_PIN"), "{}", e.message);
        assert!(!format!("{s:?}").contains("1234"));
    }
}
