//! A real PostgreSQL server for one test: `initdb` into a temporary directory, `pg_ctl start` on
//! a free loopback port (its unix socket in the same directory), stopped when dropped.
//!
//! The server programs come from Debian's `postgresql` package (`/usr/lib/postgresql/<version>/
//! bin`, the newest version there; `PG_BIN` overrides). PostgreSQL refuses to run as root, and
//! CI runs as root: then the directory is given to the `postgres` system user (created by that
//! package) and `initdb` and `pg_ctl` run as that user through `runuser`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as, when the tests run as root.
    user: Option<String>,
}

/// The directory of `initdb` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PG_BIN") {
        return PathBuf::from(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server programs are not installed: apt-get install postgresql \
             (scripts/test.sh does), or set PG_BIN"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, user]).output().unwrap();
    assert!(
        out.status.success(),
        "running as root needs the `{user}` system user (the postgresql package creates it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

impl Postgres {
    /// A new cluster, started.
    pub fn start() -> Postgres {
        Self::start_with(|_| {})
    }

    /// A new cluster serving TLS with this certificate chain and key (PEM), and only TLS over
    /// TCP (`hostssl` in `pg_hba.conf`; its unix socket stays plain). With `client_ca` (PEM),
    /// a TCP client must also show a certificate that CA signed, for the user its CN names
    /// (`cert` authentication).
    pub fn start_tls_only(cert_pem: &str, key_pem: &str, client_ca: Option<&str>) -> Postgres {
        Self::start_tls(cert_pem, key_pem, true, client_ca)
    }

    /// A new cluster offering TLS with this certificate and key (PEM) and taking plain TCP too.
    pub fn start_tls_or_plain(cert_pem: &str, key_pem: &str) -> Postgres {
        Self::start_tls(cert_pem, key_pem, false, None)
    }

    fn start_tls(cert_pem: &str, key_pem: &str, only: bool, client_ca: Option<&str>) -> Postgres {
        Self::start_with(|pg| {
            let data = pg.data();
            pg.write(&data.join("server.crt"), cert_pem, 0o644);
            pg.write(&data.join("server.key"), key_pem, 0o600);
            let conf = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).unwrap();
            text.push_str(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            );
            if let Some(ca) = client_ca {
                pg.write(&data.join("client-ca.crt"), ca, 0o644);
                text.push_str("ssl_ca_file = 'client-ca.crt'\n");
            }
            pg.write(&conf, &text, 0o600);
            let hba = data.join("pg_hba.conf");
            let method = if client_ca.is_some() { "cert" } else { "trust" };
            let text: String = std::fs::read_to_string(&hba)
                .unwrap()
                .lines()
                .map(|l| match l.strip_prefix("host ") {
                    Some(rest) if only => format!("hostssl {}\n", rest.replace("trust", method)),
                    _ => format!("{l}\n"),
                })
                .collect();
            pg.write(&hba, &text, 0o600);
        })
    }

    /// Write a file of the cluster's, owned by the server's user.
    fn write(&self, path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        if let Some(u) = &self.user {
            std::os::unix::fs::chown(path, Some(id_of(u, "-u")), Some(id_of(u, "-g"))).unwrap();
        }
    }

    /// A new cluster, `setup` run on it after `initdb`, started.
    fn start_with(setup: impl FnOnce(&Postgres)) -> Postgres {
        let bin = bin_dir();
        let user = is_root().then(|| "postgres".to_string());
        // Under root, in /tmp: the server's user must reach it (TMPDIR may be in root's home).
        let mut b = tempfile::Builder::new();
        b.prefix("rest2mcp-pg");
        let dir = match user {
            Some(_) => b.tempdir_in("/tmp"),
            None => b.tempdir(),
        }
        .unwrap();
        if let Some(u) = &user {
            std::os::unix::fs::chown(dir.path(), Some(id_of(u, "-u")), Some(id_of(u, "-g")))
                .unwrap();
        }
        let mut pg = Postgres {
            port: super::free_port(),
            dir,
            bin,
            user,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "rest2mcp",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        setup(&pg);
        // The free port may be taken by the time the server binds it: try another.
        for _ in 0..3 {
            if pg.try_start().is_ok() {
                return pg;
            }
            pg.port = super::free_port();
        }
        pg.start_again();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// A connection URL for the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://rest2mcp@127.0.0.1:{}/postgres", self.port)
    }

    /// The directory of the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Start the server (again), on the same port; returns once it accepts connections.
    pub fn start_again(&self) {
        if let Err(e) = self.try_start() {
            panic!("{e}");
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=60 \
             -c shared_buffers=16MB",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        ))
    }

    /// Stop the server (`fast`: sessions are ended, as in a restart or a failover).
    pub fn stop(&self) {
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}
