//! Where PINs come from: `--pin-fd` or `--pin-file`, else the environment,
//! else systemd credentials (`$CREDENTIALS_DIRECTORY/keyward-pin`, …),
//! else a prompt without echo on the terminal; never a wait on a
//! non-terminal stdin. Every secret is held in `Zeroizing` and never
//! printed.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

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
    OfficerPassphrase,
    NewOfficerPassphrase,
    /// The auditor's passphrase (`audit verify --auditor`).
    AuditorPassphrase,
    /// A new auditor's passphrase (`auditor set`), asked twice.
    NewAuditorPassphrase,
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
            Secret::OfficerPassphrase => "KEYWARD_OFFICER_PASSPHRASE",
            Secret::NewOfficerPassphrase => "KEYWARD_NEW_OFFICER_PASSPHRASE",
            Secret::AuditorPassphrase => "KEYWARD_AUDITOR_PASSPHRASE",
            Secret::NewAuditorPassphrase => "KEYWARD_NEW_AUDITOR_PASSPHRASE",
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
            Secret::OfficerPassphrase => "officer passphrase",
            Secret::NewOfficerPassphrase => "new officer passphrase",
            Secret::AuditorPassphrase => "auditor passphrase",
            Secret::NewAuditorPassphrase => "new auditor passphrase",
        }
    }

    /// The systemd credential (LoadCredential=NAME:…) that supplies it.
    pub fn credential(self) -> &'static str {
        match self {
            Secret::UserPin => "keyward-pin",
            Secret::SoPin => "keyward-so-pin",
            Secret::NewUserPin => "keyward-new-pin",
            Secret::NewSoPin => "keyward-new-so-pin",
            Secret::BackupPassphrase | Secret::NewBackupPassphrase => "keyward-backup-passphrase",
            Secret::OfficerPassphrase => "keyward-officer-passphrase",
            Secret::NewOfficerPassphrase => "keyward-new-officer-passphrase",
            Secret::AuditorPassphrase => "keyward-auditor-passphrase",
            Secret::NewAuditorPassphrase => "keyward-new-auditor-passphrase",
        }
    }

    fn is_new(self) -> bool {
        matches!(
            self,
            Secret::NewUserPin
                | Secret::NewSoPin
                | Secret::NewBackupPassphrase
                | Secret::NewOfficerPassphrase
                | Secret::NewAuditorPassphrase
        )
    }
}

type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

/// The sources of secrets for one run of the CLI.
pub struct Secrets {
    /// `--pin-fd` or `--pin-file`: one secret a line, in the order the
    /// command documents; the text names the source in messages.
    fd: Option<(String, Box<dyn BufRead>)>,
    env: EnvLookup,
    /// `$CREDENTIALS_DIRECTORY`, set by systemd for LoadCredential=.
    credentials: Option<PathBuf>,
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
                Some((
                    format!("--pin-fd {n}"),
                    Box::new(BufReader::new(file)) as Box<dyn BufRead>,
                ))
            }
            None => None,
        };
        Ok(Secrets {
            fd,
            env: Box::new(|name| std::env::var(name).ok()),
            credentials: std::env::var_os("CREDENTIALS_DIRECTORY")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            interactive: std::io::stdin().is_terminal(),
        })
    }

    /// Secrets from `--pin-file FILE`: its lines, as `--pin-fd` would give
    /// them. A file others may read is refused: a PIN file readable by the
    /// group or the world is a PIN shared with them.
    pub fn from_file(path: &Path) -> CliResult<Secrets> {
        use std::os::unix::fs::PermissionsExt;
        let shown = path.display();
        let file = File::open(path)
            .map_err(|e| CliError::new(EXIT_PIN, format!("cannot read --pin-file {shown}: {e}")))?;
        let mode = file
            .metadata()
            .map_err(|e| CliError::new(EXIT_PIN, format!("cannot read --pin-file {shown}: {e}")))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CliError::new(
                EXIT_PIN,
                format!(
                    "--pin-file {shown} may be read by others (mode {:04o}); \
                     run `chmod 600 {shown}`",
                    mode & 0o7777
                ),
            ));
        }
        let mut secrets = Secrets::from_process(None)?;
        secrets.fd = Some((
            format!("--pin-file {shown}"),
            Box::new(BufReader::new(file)) as Box<dyn BufRead>,
        ));
        Ok(secrets)
    }

    /// A one-off secret (`what`, e.g. "key passphrase") asked on the
    /// terminal; without one, the error says `otherwise`.
    pub fn prompt_once(&self, what: &str, otherwise: &str) -> CliResult<Zeroizing<String>> {
        if !self.interactive {
            return Err(CliError::new(
                EXIT_PIN,
                format!("no {what} given: {otherwise} (stdin is not a terminal)"),
            ));
        }
        prompt(&format!("{}: ", capitalized(what)))
    }

    /// Whether secrets come as lines (--pin-fd, --pin-file).
    pub fn has_lines(&self) -> bool {
        self.fd.is_some()
    }

    /// Whether a prompt may be shown (stdin is a terminal).
    pub fn interactive(&self) -> bool {
        self.interactive
    }

    /// The secret `which`: the next line of `--pin-fd` when one was given,
    /// else its environment variable, else a prompt (twice for a new PIN).
    pub fn get(&mut self, which: Secret) -> CliResult<Zeroizing<String>> {
        if let Some((source, reader)) = &mut self.fd {
            return read_line(source, reader.as_mut(), which);
        }
        if let Some(value) = (self.env)(which.env_var()) {
            return Ok(Zeroizing::new(value));
        }
        if let Some(dir) = &self.credentials {
            let path = dir.join(which.credential());
            if path.exists() {
                return read_credential(&path);
            }
        }
        if !self.interactive {
            return Err(CliError::new(
                EXIT_PIN,
                format!(
                    "no {} given: set {}, pass --pin-fd or --pin-file, or provide the \
                     systemd credential {} (stdin is not a terminal)",
                    which.name(),
                    which.env_var(),
                    which.credential()
                ),
            ));
        }
        ask(which, &mut prompt)
    }
}

impl Secrets {
    /// The passphrase of custodian share `index` of a split backup (asked
    /// twice when it protects a new share): the next `--pin-fd` line, else
    /// `KEYWARD_SHARE_PASSPHRASE_<index>`, else a prompt.
    pub fn share_passphrase(&mut self, index: u8, new: bool) -> CliResult<Zeroizing<String>> {
        let name = format!("passphrase of share {index}");
        if let Some((source, reader)) = &mut self.fd {
            let mut line = Zeroizing::new(String::new());
            let n = reader
                .read_line(&mut line)
                .map_err(|e| CliError::new(EXIT_PIN, format!("cannot read {source}: {e}")))?;
            if n == 0 {
                return Err(CliError::new(
                    EXIT_PIN,
                    format!("{source} ended before the {name}"),
                ));
            }
            let end = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(end);
            return Ok(line);
        }
        let var = format!("KEYWARD_SHARE_PASSPHRASE_{index}");
        if let Some(value) = (self.env)(&var) {
            return Ok(Zeroizing::new(value));
        }
        if !self.interactive {
            return Err(CliError::new(
                EXIT_PIN,
                format!(
                    "no {name} given: set {var} or pass --pin-fd or --pin-file \
                     (stdin is not a terminal)"
                ),
            ));
        }
        let both = format!("two entries of the {name}");
        ask_twice(&name, new, &both, &mut prompt)
    }
}

/// How often a new secret may be mistyped before the command gives up.
const NEW_SECRET_TRIES: usize = 3;

/// Asks for `which` with `ask_once`; a new secret is asked twice, and
/// asked again (up to NEW_SECRET_TRIES times) when the two differ.
fn ask(
    which: Secret,
    ask_once: &mut dyn FnMut(&str) -> CliResult<Zeroizing<String>>,
) -> CliResult<Zeroizing<String>> {
    let name = which.name();
    ask_twice(name, which.is_new(), &format!("two {name}s"), ask_once)
}

/// Asks for the secret `name`; when `new`, asks again and starts over
/// (up to NEW_SECRET_TRIES times) while the two entries (`both`, as the
/// messages name them) differ.
fn ask_twice(
    name: &str,
    new: bool,
    both: &str,
    ask_once: &mut dyn FnMut(&str) -> CliResult<Zeroizing<String>>,
) -> CliResult<Zeroizing<String>> {
    for _ in 0..NEW_SECRET_TRIES {
        let first = ask_once(&format!("{}: ", capitalized(name)))?;
        if !new {
            return Ok(first);
        }
        let again = ask_once(&format!("Repeat the {name}: "))?;
        if *again == *first {
            return Ok(first);
        }
        eprintln!("the {both} differ; try again");
    }
    Err(CliError::new(
        EXIT_PIN,
        format!("the {both} differed {NEW_SECRET_TRIES} times"),
    ))
}

/// A systemd credential file: its content without the final newline.
fn read_credential(path: &Path) -> CliResult<Zeroizing<String>> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            EXIT_PIN,
            format!("cannot read the credential {}: {e}", path.display()),
        )
    })?);
    let end = text.trim_end_matches(['\n', '\r']).len();
    Ok(Zeroizing::new(text.get(..end).unwrap_or("").to_string()))
}

fn read_line(
    source: &str,
    reader: &mut dyn BufRead,
    which: Secret,
) -> CliResult<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    let n = reader
        .read_line(&mut line)
        .map_err(|e| CliError::new(EXIT_PIN, format!("cannot read {source}: {e}")))?;
    if n == 0 {
        return Err(CliError::new(
            EXIT_PIN,
            format!("{source} ended before the {}", which.name()),
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
            fd: fd.map(|text| {
                (
                    "--pin-fd 7".to_string(),
                    Box::new(text.as_bytes()) as Box<dyn BufRead>,
                )
            }),
            credentials: None,
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
    fn mismatched_repeats_ask_again() {
        let answers = ["a1", "b1", "c1", "c1"];
        let mut next = answers.iter();
        let mut asked = Vec::new();
        let mut ask_once = |q: &str| {
            asked.push(q.to_string());
            Ok(Zeroizing::new(next.next().unwrap().to_string()))
        };
        let got = ask(Secret::NewUserPin, &mut ask_once).unwrap();
        assert_eq!(*got, "c1");
        assert_eq!(asked.len(), 4);
        assert_eq!(asked[1], "Repeat the new user PIN: ");
        // Three mismatches end it.
        let mut n = 0;
        let mut differ = |_: &str| {
            n += 1;
            Ok(Zeroizing::new(n.to_string()))
        };
        let e = ask(Secret::NewSoPin, &mut differ).unwrap_err();
        assert_eq!(e.code, EXIT_PIN);
        assert_eq!(e.message, "the two new SO PINs differed 3 times");
        // An existing PIN is asked once.
        let mut once = |_: &str| Ok(Zeroizing::new("x".to_string()));
        assert_eq!(*ask(Secret::UserPin, &mut once).unwrap(), "x");
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

    #[test]
    fn auditor_passphrases_have_their_own_sources() {
        let mut s = secrets(None, &[("KEYWARD_AUDITOR_PASSPHRASE", "audit-pass")]);
        assert_eq!(*s.get(Secret::AuditorPassphrase).unwrap(), "audit-pass");
        let e = s.get(Secret::NewAuditorPassphrase).unwrap_err();
        assert_eq!(e.code, EXIT_PIN);
        assert!(
            e.message.contains("no new auditor passphrase given")
                && e.message.contains("KEYWARD_NEW_AUDITOR_PASSPHRASE")
                && e.message.contains("keyward-new-auditor-passphrase"),
            "{}",
            e.message
        );
        // A new one is asked twice; the existing one once.
        assert!(Secret::NewAuditorPassphrase.is_new());
        assert!(!Secret::AuditorPassphrase.is_new());
        assert_eq!(
            Secret::AuditorPassphrase.credential(),
            "keyward-auditor-passphrase"
        );
    }
}
