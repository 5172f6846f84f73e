//! Connecting to PostgreSQL: the target URL (its `sslmode` and
//! `sslrootcert`, which the client crate does not take), TLS through
//! rustls with certificate verification, the session settings every
//! connection of a token gets, and errors carrying the server's message.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// How long a connection attempt may take before the call answers
/// DEVICE_ERROR.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Session bounds, so that no statement, lock wait or half-finished
/// transaction of another host hangs a caller (or keeps the token's write
/// lock) forever. The writer lock is an advisory lock: `lock_timeout`
/// bounds the wait for it too.
const SESSION_SETTINGS: &str = "SET statement_timeout = '30s';
     SET lock_timeout = '20s';
     SET idle_in_transaction_session_timeout = '60s';";

/// The `sslmode` values kept (libpq's names). `prefer` and `allow` are
/// refused: a downgrade an attacker on the path may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsMode {
    /// No TLS: only for unix-socket hosts.
    Disable,
    /// TLS, the chain checked against the roots, any host name (libpq's
    /// `require` with a root file is `verify-ca`; here `require` always
    /// verifies the chain: a connection nobody can authenticate is refused).
    VerifyCa,
    /// TLS, the chain and the host name checked (the default).
    VerifyFull,
}

/// Everything needed to open one connection of a token.
pub(super) struct ConnSpec {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    /// `SET search_path` and the session bounds, run on every connection.
    setup: String,
    describe: String,
}

impl ConnSpec {
    /// Parses `url` (a `postgres://` or `postgresql://` URL) for `schema`.
    pub(super) fn new(url: &str, password: Option<&str>, schema: &str) -> Result<ConnSpec> {
        let parsed = split_url(url)?;
        let mut config: Config = parsed
            .rest
            .parse()
            .map_err(|e| bad_target(&format_args!("{}", cause_of(&e))))?;
        if let Some(pw) = password {
            config.password(pw.as_bytes());
        }
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(15))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("keyward");
        }
        let hosts = config.get_hosts();
        if hosts.is_empty() {
            return Err(bad_target(&"the URL names no host"));
        }
        let all_unix = hosts.iter().all(|h| matches!(h, Host::Unix(_)));
        let mode = match parsed.sslmode.as_deref() {
            None | Some("verify-full") => TlsMode::VerifyFull,
            Some("verify-ca" | "require") => TlsMode::VerifyCa,
            Some("disable") => TlsMode::Disable,
            Some(other) => {
                return Err(bad_target(&format_args!(
                    "sslmode={other} is not supported (disable for a unix socket, \
                     require, verify-ca or verify-full)"
                )));
            }
        };
        if mode == TlsMode::Disable && !all_unix {
            return Err(bad_target(
                &"sslmode=disable is only allowed for a unix-socket host",
            ));
        }
        let describe = describe(&config, schema);
        // PostgreSQL speaks no TLS on a unix socket (neither does libpq):
        // the socket's file permissions are its protection.
        let tls = if all_unix {
            config.ssl_mode(SslMode::Disable);
            None
        } else {
            config.ssl_mode(SslMode::Require);
            let root = parsed.sslrootcert.as_deref().map(Path::new);
            Some(MakeRustlsConnect::new(tls_config(mode, root)?))
        };
        Ok(ConnSpec {
            config,
            tls,
            setup: format!(
                "SET search_path = {}; {SESSION_SETTINGS}",
                quote_ident(schema)
            ),
            describe,
        })
    }

    /// Opens one connection with the session settings applied.
    pub(super) fn connect(&self) -> Result<Client> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        let mut client = connected.map_err(|e| {
            Error::DeviceError.because(&format_args!("{}: {}", self.describe, cause_of(&e)))
        })?;
        client
            .batch_execute(&self.setup)
            .map_err(|e| pg_error(&e))?;
        Ok(client)
    }

    pub(super) fn describe(&self) -> &str {
        &self.describe
    }
}

/// Host, port, database and schema: never the user's password.
fn describe(config: &Config, schema: &str) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    format!(
        "postgresql://{}/{} (schema {schema})",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

struct SplitUrl {
    /// The URL without `sslmode` and `sslrootcert`.
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query: the client
/// crate knows neither `verify-ca`/`verify-full` nor root files.
fn split_url(url: &str) -> Result<SplitUrl> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad_target(
            &"the target must be a postgres:// or postgresql:// URL",
        ));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut sslmode = None;
    let mut sslrootcert = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => sslmode = Some(percent_decode(value)?),
            "sslrootcert" => sslrootcert = Some(PathBuf::from(percent_decode(value)?)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(SplitUrl {
        rest,
        sslmode,
        sslrootcert,
    })
}

fn percent_decode(s: &str) -> Result<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: Vec<u8> = bytes.by_ref().take(2).collect();
            let v = std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(|_| hex.len() == 2)
                .ok_or_else(|| bad_target(&"bad percent-encoding in the URL"))?;
            out.push(v);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| bad_target(&"the URL is not UTF-8"))
}

/// rustls (ring provider) trusting the root file, or the system roots.
fn tls_config(mode: TlsMode, root_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    // ring rather than aws-lc-rs: no cmake in the build. rustls 0.23.48
    // deprecates it for lacking post-quantum key exchange; what crosses
    // this link is sealed (object blobs, wrapped master keys) or public.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match root_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad_target(&format_args!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    bad_target(&format_args!("sslrootcert {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    bad_target(&format_args!("sslrootcert {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            // Unreadable or unparsable system certificates are skipped;
            // an empty store is refused below.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(bad_target(
            &"no trusted root certificate (sslrootcert or the system's)",
        ));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad_target(&e))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        TlsMode::VerifyCa => Arc::new(AnyName(webpki)),
        TlsMode::VerifyFull | TlsMode::Disable => webpki,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad_target(&e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // No session resumption: its cache sits behind a mutex shared by every
    // connection made with this config, which a fork could copy held by a
    // parent thread mid-handshake; the child's first connection would then
    // wait forever. Connections are long-lived, so a full handshake each
    // costs nothing that matters.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// `verify-ca`: the whole web-PKI check (chain to a trusted root,
/// validity, key usage, signatures) but the host name. webpki checks the
/// name last, after the chain, so its name error means "chain good".
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A schema name is an identifier we quote ourselves: lower-case ASCII
/// letters, digits and `_`, not starting with a digit, at most 63 bytes
/// (PostgreSQL's limit). Nothing else, so no quoting subtleties and no
/// case folding surprises.
pub(super) fn check_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && !schema.starts_with("pg_")
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(bad_target(&format_args!(
            "schema name {schema:?} is not [a-z_][a-z0-9_]* of at most 63 bytes (nor pg_*)"
        )))
    }
}

pub(super) fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn bad_target(why: &dyn std::fmt::Display) -> Error {
    Error::DeviceError.because(&format_args!("PostgreSQL target: {why}"))
}

/// The client's error with every cause under it: the server's message
/// (severity, SQLSTATE, text), or the I/O or TLS error. The client never
/// puts the password in an error.
pub(super) fn cause_of(e: &postgres::Error) -> String {
    let mut out = e.to_string();
    if let Some(db) = e.as_db_error() {
        out.push_str(&format!(
            ": {} {}: {}",
            db.severity(),
            db.code().code(),
            db.message()
        ));
        return out;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// DEVICE_ERROR with the client's error as the cause.
pub(super) fn pg_error(e: &postgres::Error) -> Error {
    Error::DeviceError.because(&format_args!("PostgreSQL: {}", cause_of(e)))
}

/// Removes a password from a URL for messages: `user:secret@` becomes
/// `user@`, and a `password=` query parameter is dropped.
pub(super) fn redact_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest
                .split_once('/')
                .map_or((rest, None), |(a, p)| (a, Some(p)));
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    format!("{user}@{hosts}")
                }
                None => authority.to_string(),
            };
            match path {
                Some(p) => format!("{scheme}://{authority}/{p}"),
                None => format!("{scheme}://{authority}"),
            }
        }
        None => "(not a URL)".to_string(),
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("password="))
        .collect();
    if kept.is_empty() {
        base
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// `split_url` for the tests: the URL left, `sslmode`, `sslrootcert`.
#[cfg(test)]
pub(super) fn split_url_for_tests(url: &str) -> Result<(String, Option<String>, Option<PathBuf>)> {
    split_url(url).map(|s| (s.rest, s.sslmode, s.sslrootcert))
}
