//! Test certificate authorities and a PostgreSQL cluster with TLS on (feature `tls`).
//!
//! [`TestCa`] makes a CA and issues server and client certificates (rcgen), written as PEM files into a temporary
//! folder. [`TlsPostgres`] starts a second PostgreSQL cluster (initdb into a temporary folder, `ssl` on, a free
//! port) with the CA's server certificate, for the storage backend's TLS tests; as root the server runs as the
//! `postgres` user (`setpriv`), since PostgreSQL refuses to run as root. The cluster is shut down (immediate mode)
//! and its folder removed when the value is dropped.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A certificate authority for one test, with its files in a temporary folder.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    dir: tempfile::TempDir,
    ca_path: PathBuf,
}

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name` (its PEM certificate at [`TestCa::ca_path`]).
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("temporary folder for certificates");
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, cert.pem()).expect("write CA certificate");
        TestCa { issuer: Issuer::new(params, key), dir, ca_path }
    }

    /// The CA certificate (PEM file).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// A server certificate for `names` (DNS names or IP addresses), written as `<stem>.crt` / `<stem>.key`.
    pub fn server_cert(&self, stem: &str, names: &[&str]) -> CertFiles {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("server certificate parameters");
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        self.issue(stem, params)
    }

    /// A client certificate whose common name is `user` (PostgreSQL's `cert` authentication matches it).
    pub fn client_cert(&self, stem: &str, user: &str) -> CertFiles {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client certificate parameters");
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(stem, params)
    }

    fn issue(&self, stem: &str, params: CertificateParams) -> CertFiles {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign certificate");
        let files = CertFiles {
            cert: self.dir.path().join(format!("{stem}.crt")),
            key: self.dir.path().join(format!("{stem}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The folder with `initdb` and `postgres`: `AUTHVEX_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
fn postgres_bin() -> PathBuf {
    #[allow(clippy::disallowed_methods)]
    if let Ok(dir) = std::env::var("AUTHVEX_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin; install the \
             postgresql package or set AUTHVEX_TEST_PG_BIN"
        )
    })
}

/// `program` run as the `postgres` user when this process is root.
fn server_command(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command.args(["--reuid", "postgres", "--regid", "postgres", "--init-groups", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A PostgreSQL cluster of its own with TLS on, for one test binary.
pub struct TlsPostgres {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// The user that authenticates with a client certificate (`hostssl … cert` in pg_hba.conf).
pub const CERT_USER: &str = "certuser";

impl TlsPostgres {
    /// initdb + start with `server` as the server certificate and `ca` trusted for client certificates.
    /// pg_hba: [`CERT_USER`] only with a client certificate over TLS; everyone else trusted, with or without TLS.
    pub fn start(server: &CertFiles, ca: &Path) -> TlsPostgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("temporary folder for the cluster");
        let data = dir.path().join("data");
        if is_root() {
            run(Command::new("chown").args(["postgres:postgres"]).arg(dir.path()), "chown the cluster folder");
        }
        run(
            server_command(&bin.join("initdb"))
                .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-instructions", "-D"])
                .arg(&data),
            "initdb",
        );
        for (from, to) in [(&server.cert, "server.crt"), (&server.key, "server.key"), (&ca.to_path_buf(), "root.crt")] {
            std::fs::copy(from, data.join(to)).expect("copy certificate into the cluster");
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600))
                .expect("key permissions");
        }
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 hostssl all {CERT_USER} 127.0.0.1/32 cert\n\
                 hostssl all {CERT_USER} ::1/128 cert\n\
                 host all {CERT_USER} 0.0.0.0/0 reject\n\
                 host all all 127.0.0.1/32 trust\n\
                 host all all ::1/128 trust\n"
            ),
        )
        .expect("write pg_hba.conf");
        let port = free_port();
        let mut conf =
            std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).expect("open postgresql.conf");
        use std::io::Write;
        // Set in the file (not with -c) so ALTER SYSTEM can turn ssl off later.
        write!(
            conf,
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\n\
             ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\nfsync = off\n\
             shared_buffers = 16MB\nmax_connections = 60\n",
            dir.path().display()
        )
        .expect("write postgresql.conf");
        drop(conf);
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()), "chown the cluster");
        }
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let child = server_command(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let cluster = TlsPostgres { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                panic!("the TLS PostgreSQL cluster did not start; its log:\n{}", cluster.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `postgres://<user>@<host>:<port>/postgres?<params>`.
    pub fn url(&self, user: &str, host: &str, params: &str) -> String {
        let query = if params.is_empty() { String::new() } else { format!("?{params}") };
        format!("postgres://{user}@{host}:{}/postgres{query}", self.port)
    }

    /// An admin connection without TLS.
    pub async fn admin(&self) -> tokio_postgres::Client {
        let url = self.url("postgres", "127.0.0.1", "sslmode=disable");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("admin");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Turns TLS on or off (ALTER SYSTEM + reload) and waits until new connections see it.
    pub async fn set_ssl(&self, on: bool) {
        let admin = self.admin().await;
        let value = if on { "on" } else { "off" };
        // Two statements: ALTER SYSTEM may not run inside the implicit transaction of a multi-statement string.
        admin.batch_execute(&format!("ALTER SYSTEM SET ssl = {value}")).await.expect("set ssl");
        admin.batch_execute("SELECT pg_reload_conf()").await.expect("reload");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fresh = self.admin().await;
            let row = fresh.query_one("SHOW ssl", &[]).await.expect("show ssl");
            if row.get::<_, String>(0) == value {
                return;
            }
            assert!(Instant::now() < deadline, "ssl did not become {value}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown (the folder is thrown away anyway).
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|error| panic!("{what}: cannot run: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}
