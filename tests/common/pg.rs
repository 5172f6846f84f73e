//! A throw-away PostgreSQL 15 cluster for the PostgreSQL row-store tests,
//! one per test process: initdb as an unprivileged user (initdb refuses
//! root) in a temporary directory, a unix socket there and TLS on
//! 127.0.0.1 and 127.0.0.2 (a throw-away CA and server certificate made
//! with openssl, SAN `localhost` and `127.0.0.1` only), a password role.
//! Shared by the core's unit tests (`#[path]`) and the integration suite,
//! so it uses std, tempfile and the system's tools only, and no unsafe.
//!
//! The cluster stops when the test process ends, whichever way it ends:
//! a watchdog shell started with it polls the test process's pid and then
//! runs `pg_ctl stop -m immediate` and removes the directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// `runuser -u nobody --` when running as root.
    as_user: Vec<String>,
    pub port: u16,
    pub password: String,
    pub role: String,
    pub db: String,
    /// Readers: tests that need the server up; the writer: a test that
    /// stops and restarts it.
    gate: RwLock<()>,
}

const BIN_DIRS: &[&str] = &["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"];

fn find_bin() -> Option<PathBuf> {
    // Through a symlink (/usr/local/bin here) to the real directory,
    // which also holds psql.
    BIN_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .map(|d| {
            std::fs::canonicalize(d.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or(d)
        })
}

/// The process's cluster, started on first use; None (and SKIP printed)
/// when PostgreSQL is not installed, a panic instead under CI=true.
pub fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| match find_bin() {
            None => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "PostgreSQL (initdb, pg_ctl) is not installed, and CI=true"
                );
                eprintln!("SKIP: PostgreSQL is not installed (initdb/pg_ctl not found)");
                None
            }
            Some(bin) => Some(Cluster::start_new(bin)),
        })
        .as_ref()
}

/// A schema name no other test of any process uses.
pub fn fresh_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `program` run as the cluster's user (`runuser -u nobody --` as root).
fn cmd_as(as_user: &[String], program: &Path) -> Command {
    match as_user.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args));
}

/// A self-signed CA (`name`.crt/.key) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "3",
            "-subj",
            &format!("/CN=keyward test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

impl Cluster {
    fn start_new(bin: PathBuf) -> Cluster {
        let uid = run(Command::new("id").arg("-u"));
        let root = uid.trim() == "0";
        let dir = tempfile::Builder::new()
            .prefix("kwpg-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let as_user: Vec<String> = if root {
            vec!["runuser".into(), "-u".into(), "nobody".into(), "--".into()]
        } else {
            Vec::new()
        };

        // Certificates: a CA that signed the server's, and another CA.
        make_ca(&dir, "ca");
        make_ca(&dir, "wrong-ca");
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "3",
                "-extfile",
                "server.ext",
            ],
        );

        let password = format!("pw-{}-{}", std::process::id(), fresh_schema());
        std::fs::write(dir.join("pwfile"), "admin-unused\n").expect("pwfile");
        std::fs::create_dir(dir.join("sock")).expect("sock dir");
        if root {
            let ids = |flag: &str| -> u32 {
                run(Command::new("id").args([flag, "nobody"]))
                    .trim()
                    .parse()
                    .expect("numeric id")
            };
            let (u, g) = (ids("-u"), ids("-g"));
            for p in [
                dir.clone(),
                dir.join("sock"),
                dir.join("server.key"),
                dir.join("server.crt"),
                dir.join("pwfile"),
            ] {
                std::os::unix::fs::chown(&p, Some(u), Some(g)).expect("chown to nobody");
            }
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod server.key");

        let data = dir.join("data");
        run(cmd_as(&as_user, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "pgadmin",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["-E", "UTF8", "--no-sync", "--no-instructions"])
            .stdout(Stdio::null()));

        let port = free_port();
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1,127.0.0.2'\nport = {port}\n\
             unix_socket_directories = '{sock}'\nssl = on\n\
             ssl_cert_file = '{d}/server.crt'\nssl_key_file = '{d}/server.key'\n\
             fsync = off\nfull_page_writes = off\nmax_connections = 200\n",
            sock = dir.join("sock").display(),
            d = dir.display()
        );
        let mut pgconf = std::fs::read_to_string(data.join("postgresql.conf")).expect("conf");
        pgconf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pgconf).expect("write conf");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all pgadmin trust\nlocal all all scram-sha-256\n\
             hostssl all all 127.0.0.0/8 scram-sha-256\n",
        )
        .expect("write hba");

        let cluster = Cluster {
            dir,
            bin,
            as_user,
            port,
            password,
            role: "keyward_test".into(),
            db: "keyward_test".into(),
            gate: RwLock::new(()),
        };
        cluster.pg_ctl(&["start", "-w", "-t", "60"]);
        cluster.watchdog();
        let psql = |sql: &str| {
            let psql = cluster.bin.join("psql");
            let psql = if psql.is_file() {
                psql
            } else {
                PathBuf::from("psql")
            };
            run(Command::new(psql)
                .args([
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-U",
                    "pgadmin",
                    "-d",
                    "postgres",
                ])
                .arg("-h")
                .arg(cluster.dir.join("sock"))
                .arg("-p")
                .arg(cluster.port.to_string())
                .arg("-c")
                .arg(sql));
        };
        psql(&format!(
            "CREATE ROLE {} LOGIN PASSWORD '{}'",
            cluster.role, cluster.password
        ));
        psql(&format!(
            "CREATE DATABASE {} OWNER {}",
            cluster.db, cluster.role
        ));
        cluster
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut cmd = cmd_as(&self.as_user, &self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(args)
            .stdout(Stdio::null());
        run(&mut cmd);
    }

    /// Stops the cluster when this process is gone.
    fn watchdog(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {user} '{pg_ctl}' -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            user = self.as_user.join(" "),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        // Detached (the outer shell exits at once): nothing to wait for.
        run(Command::new("sh")
            .args(["-c", &format!("( {script} ) </dev/null >/dev/null 2>&1 &")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()));
    }

    /// Holds the server up for the guard's life (shared with other tests).
    pub fn up(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive use, for a test that stops and restarts the server.
    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the server (`-m fast`: sessions are cut) until the guard's
    /// [`Down::start`], or its drop (so a failing test leaves the server
    /// up for the others).
    pub fn stop(&self) -> Down<'_> {
        self.pg_ctl(&["stop", "-w", "-m", "fast"]);
        Down {
            cluster: self,
            up: false,
        }
    }

    pub fn start(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60"]);
    }

    /// Runs `sql` in database `db` as the cluster's superuser (what a
    /// database operator can do); its output, tuples only.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let psql = self.bin.join("psql");
        let psql = if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        };
        let out = Command::new(psql)
            .args([
                "-X",
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "pgadmin",
                "-d",
                db,
            ])
            .arg("-h")
            .arg(self.socket_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    pub fn wrong_ca_file(&self) -> PathBuf {
        self.dir.join("wrong-ca.crt")
    }

    /// The unix-socket URL (no TLS), password given separately.
    pub fn url(&self) -> String {
        format!(
            "postgresql://{}@/{}?host={}&port={}&sslmode=disable",
            self.role,
            self.db,
            self.socket_dir().display(),
            self.port
        )
    }

    /// A TLS URL to `host` with `sslmode` and the given root file.
    pub fn tls_url(&self, host: &str, sslmode: &str, root: &Path) -> String {
        format!(
            "postgresql://{}@{host}:{}/{}?sslmode={sslmode}&sslrootcert={}",
            self.role,
            self.port,
            self.db,
            root.display()
        )
    }
}

/// The server stopped by [`Cluster::stop`].
pub struct Down<'a> {
    cluster: &'a Cluster,
    up: bool,
}

impl Down<'_> {
    pub fn start(mut self) {
        self.cluster.start();
        self.up = true;
    }
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if !self.up {
            self.cluster.start();
        }
    }
}
