//! `keyward`: the admin CLI. It drives the token in-process through the
//! same safe façade (`keyward::api::Library`) the PKCS#11 module runs, so
//! every rule and audit record applies; this file holds the command line
//! and the dispatch.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod admin_cmd;
mod audit_cmd;
mod auditor_cmd;
mod backup_shares;
mod certs_cmd;
mod client;
mod csr;
mod docs_cmd;
mod doctor;
mod fail;
mod generate_checks;
mod health;
mod inventory;
mod key_passphrase;
mod keyinfo;
mod keys_cmd;
mod lifecycle_cmd;
mod metrics;
mod migrate_cmd;
mod output;
mod pin_cmd;
mod pins;
mod quorum_cmd;
mod restore_cmd;
mod token_cmd;
mod x509;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fail::{CliError, CliResult, EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE};
use keys_cmd::{ClassArg, GenerateArgs};
use pins::Secrets;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Administer Keyward tokens: initialization, PINs, keys and their lifecycle, audit trail, backups and master key",
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    /// Slot to act on (default: the first configured slot).
    #[arg(long, global = true, value_name = "N")]
    slot: Option<u64>,
    /// Read PINs from file descriptor N, one a line, in the order the
    /// command documents.
    #[arg(long, global = true, value_name = "N")]
    pin_fd: Option<u32>,
    /// Read PINs from FILE (mode 0600 or stricter), one a line, in the
    /// order the command documents. Under systemd, LoadCredential= files in
    /// $CREDENTIALS_DIRECTORY (keyward-pin, keyward-so-pin, …) are read
    /// without this option.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "pin_fd")]
    pin_file: Option<std::path::PathBuf>,
    /// Print data as JSON; errors too, as {"error": …, "code": …} on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// Answer yes to confirmations.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Token initialization and information.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Set, change or unlock PINs.
    #[command(subcommand)]
    Pin(PinCmd),
    /// Inventory, generation, import/export, state changes, rotation and
    /// destruction of keys (logs in as the user).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Certificates of keys: import one and bind it to its key version.
    #[command(subcommand)]
    Certs(certs_cmd::CertsCmd),
    #[command(flatten)]
    Admin(admin_cmd::AdminCmd),
    /// Officers who approve sensitive operations (separation of duties).
    #[command(subcommand)]
    Officer(quorum_cmd::OfficerCmd),
    /// The approval rules: which operations need how many officers.
    #[command(subcommand)]
    Quorum(quorum_cmd::QuorumCmd),
    /// Ask the officers to approve one operation on one target; prints the
    /// request's id. OP: destroy, export or modify KEY (label, id:HEX,
    /// obj:N; logs in as the user to find it), restore BACKUP-FILE,
    /// rotate-master-key, init, unlock, or policy CHANGE
    /// (officer-add:NAME, officer-remove:NAME, rule:CLASS=M[,CLASS=M…]
    /// with M a number or none, auditor-set:NAME, auditor-remove). Once approved,
    /// the operation itself (by the CLI or any application) uses it up.
    Request {
        /// The operation: destroy, export, modify, restore,
        /// rotate-master-key, init, unlock or policy.
        op: String,
        /// What it is done to: a key, a backup file or a policy change
        /// (none for rotate-master-key, init and unlock).
        target: Option<String>,
        /// Why: shown to the officers and kept in the audit trail.
        #[arg(long, default_value = "")]
        reason: String,
        /// How long the request stays open: Ns, Nm, Nh or Nd (at most 30d).
        #[arg(long, default_value = "24h", value_parser = quorum_cmd::parse_expiry)]
        expires: i64,
    },
    /// List open requests with their approvals, or show request ID.
    Requests {
        /// Show this request in full.
        id: Option<i64>,
        /// Also executed, denied and expired requests.
        #[arg(long)]
        all: bool,
    },
    /// Approve request ID as officer NAME, signing it with the key your
    /// passphrase derives (KEYWARD_OFFICER_PASSPHRASE, --pin-fd, or asked).
    Approve {
        /// The request's id (`keyward requests` lists them).
        id: i64,
        /// Your officer name.
        #[arg(long)]
        officer: String,
    },
    /// Deny request ID as officer NAME (one denial vetoes the request).
    Deny {
        /// The request's id.
        id: i64,
        /// Your officer name.
        #[arg(long)]
        officer: String,
    },
    /// Check this host's Keyward: configuration, store, each token, PIN
    /// tries left, keys near or past their end date, last backup, audit
    /// trail, row integrity (with --login) and the module's p11-kit
    /// registration. Exit code 9 when anything is a problem.
    Doctor {
        /// Log in as the user (KEYWARD_PIN, --pin-fd, --pin-file, the
        /// keyward-pin credential or a prompt) to include private and
        /// secret keys, verify the audit MACs and scan every row. Never
        /// tried when one wrong PIN would lock it.
        #[arg(long)]
        login: bool,
    },
    /// Write the tokens' health as OpenMetrics text (keys by type and
    /// state, keys due, PIN tries left, lockouts, audit trail, last
    /// backup, use counts) for node_exporter's textfile collector or any
    /// Prometheus scraper. Needs no PIN: the public inventory.
    Metrics {
        /// Replace FILE atomically instead of printing (e.g.
        /// /var/lib/prometheus/node-exporter/keyward.prom).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Log in as the user to count private and secret keys too (adds
        /// a login record to the audit trail at every run).
        #[arg(long)]
        login: bool,
    },
    /// Print the completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell): e.g. `keyward completions bash > /etc/bash_completion.d/keyward`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (keyward.1 and one per subcommand) into DIR.
    #[command(hide = true)]
    Manpages {
        /// The directory to write them into (it must exist).
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Initialize (or re-initialize, destroying every object) the token.
    /// A fresh token takes a new SO PIN (KEYWARD_NEW_SO_PIN); re-initializing
    /// needs the current one (KEYWARD_SO_PIN), which stays. --pin-fd lines:
    /// the SO PIN, then the user PIN.
    Init {
        /// Token label, at most 32 bytes.
        #[arg(long)]
        label: String,
        /// Also set the user PIN (prompted, or KEYWARD_NEW_PIN; setting
        /// KEYWARD_NEW_PIN alone also sets it).
        #[arg(long)]
        user_pin: bool,
    },
    /// Recover from a locked SO PIN: crypto-erase every key and PIN and
    /// set a new SO PIN (KEYWARD_NEW_SO_PIN; --pin-fd: its line). Needs no
    /// PIN; --label must name the token, and the label is asked back on
    /// the terminal unless --yes-erase-all-keys. Audited (token_reset).
    Reset {
        /// The token's current label.
        #[arg(long)]
        label: String,
        /// Confirm the erasure without a terminal (scripts).
        #[arg(long)]
        yes_erase_all_keys: bool,
    },
    /// Show the token of the slot.
    Info,
    /// List every configured slot and its token.
    List,
    /// Check every object row's integrity as the user (KEYWARD_PIN); each
    /// damaged row is listed and recorded in the audit trail, and any
    /// damage ends with exit code 5.
    Check,
    /// Copy the token into another store — a directory (its SQLite file)
    /// or a PostgreSQL database shared by many hosts — as sealed bytes,
    /// verify every object opens there, and record the move on both audit
    /// trails. Needs the SO PIN (KEYWARD_SO_PIN). The source stays as it
    /// was; point the slot at the target with the printed configuration.
    Migrate {
        /// A directory, or postgres://user@host[:port]/db[?sslmode=…&sslrootcert=…]
        /// (no password in the URL).
        #[arg(long)]
        to: String,
        /// The PostgreSQL schema to create the token in (default
        /// keyward_slot_<id>).
        #[arg(long)]
        schema: Option<String>,
        /// A file (mode 0600) holding the database password (default:
        /// KEYWARD_STORE_PASSWORD).
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PinCmd {
    /// First-time setup: the SO sets the user PIN of a token that has none
    /// yet (KEYWARD_SO_PIN, KEYWARD_NEW_PIN; --pin-fd lines: the SO PIN,
    /// then the new user PIN). Refuses when a user PIN is already set: use
    /// `pin change`, or `pin unlock` to replace a locked or lost one.
    Init,
    /// Change the user PIN (KEYWARD_PIN → KEYWARD_NEW_PIN), or with --so
    /// the SO PIN (KEYWARD_SO_PIN → KEYWARD_NEW_SO_PIN). --pin-fd lines:
    /// the current PIN, then the new one.
    Change {
        /// Change the SO PIN.
        #[arg(long)]
        so: bool,
    },
    /// The SO replaces a locked or forgotten user PIN, unlocking it
    /// (KEYWARD_SO_PIN, KEYWARD_NEW_PIN). --pin-fd lines: the SO PIN, then
    /// the new user PIN.
    Unlock,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// List keys and certificates; JSON is sorted by label, then id, then
    /// class (private, secret, public, cert); missing values are null and
    /// object ids are strings.
    List {
        /// Only objects of this class.
        #[arg(long, value_enum, default_value = "all")]
        class: ClassArg,
        /// Only objects with this label.
        #[arg(long)]
        label: Option<String>,
        /// Without any PIN: what a session that is not logged in sees
        /// (public keys, certificates and other non-private objects with
        /// their labels, types, states and dates), for monitoring.
        /// Private and secret keys are private objects and stay hidden.
        #[arg(long)]
        public: bool,
        /// Also list the older (non-primary) versions of rotated keys.
        #[arg(long)]
        all_versions: bool,
    },
    /// Show one key.
    Show {
        /// The key: its label (the primary version of a rotated key;
        /// LABEL@N for version N), id:HEX (its CKA_ID) or #OBJECT_ID. Quote
        /// '#OBJECT_ID' in a shell (an unquoted # starts a comment), or
        /// write obj:OBJECT_ID, which needs no quotes.
        key: String,
    },
    /// Generate a key (a pair shares label and id) in the token.
    Generate(GenerateArgs),
    /// Destroy a key with its public half and certificates sharing its id,
    /// then wait (up to --wait seconds) until its sealed bytes are erased
    /// from the token files; exit code 7 if readers still hold them.
    Destroy {
        /// The key: label, id:HEX, '#OBJECT_ID' (quoted) or obj:OBJECT_ID.
        key: String,
        /// Seconds to wait for the erasure to complete (0: check once).
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Finish erasing destroyed objects from the token files (after a
    /// destroy that exited with code 7).
    Erase {
        /// Seconds to wait for the erasure to complete (0: check once).
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    #[command(flatten)]
    Lifecycle(lifecycle_cmd::LifecycleCmd),
    #[command(flatten)]
    Csr(csr::CsrCmd),
}

/// What every command gets: the global options and the secret sources.
pub struct Ctx {
    pub slot: Option<u64>,
    pub json: bool,
    pub yes: bool,
    pub secrets: Secrets,
}

fn run(cli: Cli) -> CliResult<()> {
    let secrets = match &cli.pin_file {
        Some(path) => Secrets::from_file(path)?,
        None => Secrets::from_process(cli.pin_fd)?,
    };
    let mut ctx = Ctx {
        slot: cli.slot,
        json: cli.json,
        yes: cli.yes,
        secrets,
    };
    let ctx = &mut ctx;
    match cli.command {
        Command::Token(TokenCmd::Init { label, user_pin }) => {
            token_cmd::init(ctx, &label, user_pin)
        }
        Command::Token(TokenCmd::Reset {
            label,
            yes_erase_all_keys,
        }) => token_cmd::reset(ctx, &label, yes_erase_all_keys),
        Command::Token(TokenCmd::Info) => token_cmd::info(ctx),
        Command::Token(TokenCmd::List) => token_cmd::list(ctx),
        Command::Token(TokenCmd::Check) => token_cmd::check(ctx),
        Command::Token(TokenCmd::Migrate {
            to,
            schema,
            password_file,
        }) => migrate_cmd::migrate(
            ctx,
            &migrate_cmd::Target {
                to,
                schema,
                password_file,
            },
        ),
        Command::Pin(PinCmd::Change { so }) => pin_cmd::change(ctx, so),
        Command::Pin(PinCmd::Init) => pin_cmd::init(ctx),
        Command::Pin(PinCmd::Unlock) => pin_cmd::unlock(ctx),
        Command::Keys(KeysCmd::List {
            class,
            label,
            public: true,
            ..
        }) => inventory::list_public(ctx, class, label.as_deref()),
        Command::Keys(KeysCmd::List {
            class,
            label,
            all_versions,
            ..
        }) => keys_cmd::list(ctx, class, label.as_deref(), all_versions),
        Command::Keys(KeysCmd::Show { key }) => keys_cmd::show(ctx, &key),
        Command::Keys(KeysCmd::Generate(args)) => keys_cmd::generate(ctx, &args),
        Command::Keys(KeysCmd::Destroy { key, wait }) => keys_cmd::destroy(ctx, &key, wait),
        Command::Keys(KeysCmd::Erase { wait }) => keys_cmd::erase(ctx, wait),
        Command::Keys(KeysCmd::Lifecycle(cmd)) => lifecycle_cmd::run(ctx, cmd),
        Command::Keys(KeysCmd::Csr(cmd)) => csr::run(ctx, cmd),
        Command::Certs(cmd) => certs_cmd::run(ctx, cmd),
        Command::Admin(cmd) => admin_cmd::run(ctx, cmd),
        Command::Officer(cmd) => quorum_cmd::officer(ctx, cmd),
        Command::Quorum(cmd) => quorum_cmd::quorum(ctx, cmd),
        Command::Request {
            op,
            target,
            reason,
            expires,
        } => quorum_cmd::request(ctx, &op, target.as_deref(), &reason, expires),
        Command::Requests { id, all } => quorum_cmd::requests(ctx, id, all),
        Command::Approve { id, officer } => {
            quorum_cmd::vote(ctx, id, &officer, keyward::quorum::Decision::Approve)
        }
        Command::Deny { id, officer } => {
            quorum_cmd::vote(ctx, id, &officer, keyward::quorum::Decision::Deny)
        }
        Command::Doctor { login } => doctor::doctor(ctx, login),
        Command::Metrics { out, login } => metrics::metrics(ctx, login, out.as_deref()),
        Command::Completions { shell } => docs_cmd::completions(shell),
        Command::Manpages { dir } => docs_cmd::manpages(&dir),
    }
}

fn main() -> ExitCode {
    fail::note_start();
    output::exit_quietly_on_closed_pipe();
    // Whether errors are JSON is decided before parsing, so that a usage
    // error of a `--json` run is JSON too.
    let json = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version are "errors" that exit 0.
            let _ = e.print();
            return ExitCode::from(EXIT_OK);
        }
        Err(e) if json => {
            let message = e.render().to_string();
            let first = message.lines().next().unwrap_or("usage error");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            fail::report(&CliError::usage(first), true);
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(err) => {
            let err = fail::with_refusal_rule(err);
            fail::report(&err, json);
            ExitCode::from(err.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every argument of every subcommand says what it is for in --help.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        let mut cmd = Cli::command();
        cmd.build();
        walk(&cmd, "keyward", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }

    #[test]
    fn parses_globals_after_subcommands() {
        let cli = Cli::try_parse_from([
            "keyward",
            "keys",
            "generate",
            "--type",
            "rsa-2048",
            "--label",
            "a",
            "--usage",
            "sign,decrypt",
            "--json",
            "--slot",
            "3",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.slot, Some(3));
        let cli = Cli::try_parse_from([
            "keyward",
            "keys",
            "generate",
            "--type",
            "aes-128",
            "--label",
            "a",
            "--id",
            "0a0b",
            "--start-date",
            "2030-01-02",
        ])
        .unwrap();
        let Command::Keys(KeysCmd::Generate(args)) = cli.command else {
            panic!("not generate");
        };
        assert_eq!(args.id, Some(keys_cmd::Bytes(vec![10, 11])));
        assert_eq!(args.start_date, Some(keys_cmd::Bytes(b"20300102".to_vec())));
        let e = Cli::try_parse_from(["keyward", "keys", "generate", "--type", "rsa-1024"]);
        assert!(e.is_err());
    }
}
