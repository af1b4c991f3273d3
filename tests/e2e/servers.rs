//! Real servers for the tests, started on 127.0.0.1 and stopped when dropped: an rsync daemon with
//! one writable module on a temporary folder, and an sshd on a high port with a throwaway host key
//! and one authorized client key (and the client configuration that trusts it).

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP port nothing listens on right now (the kernel's pick).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("local address").port()
}

/// Waits until something accepts connections on `port`, or the child exits (its stderr is shown).
fn wait_listening(child: &mut Child, port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited at start ({status}): {log}");
        }
        assert!(Instant::now() < deadline, "{what} is not listening on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// An rsync daemon serving module `dp` (read-write) from a folder.
pub struct RsyncDaemon {
    child: Child,
    /// Its port.
    pub port: u16,
    /// The module's folder.
    pub module_dir: PathBuf,
}

impl RsyncDaemon {
    /// Starts `rsync --daemon --no-detach` with a configuration in `work`.
    pub fn start(work: &Path) -> RsyncDaemon {
        let module_dir = work.join("rsync-module");
        std::fs::create_dir_all(&module_dir).unwrap();
        // Write as the user running the tests (a root daemon would otherwise switch to nobody).
        let meta = std::fs::metadata(&module_dir).unwrap();
        let conf = work.join("rsyncd.conf");
        let log = work.join("rsyncd.log");
        std::fs::write(
            &conf,
            format!(
                "pid file = {w}/rsyncd.pid\nuse chroot = false\nlog file = {l}\n\n[dp]\n  path = {m}\n  read only = false\n  uid = {u}\n  gid = {g}\n",
                w = work.display(),
                l = log.display(),
                m = module_dir.display(),
                u = meta.uid(),
                g = meta.gid()
            ),
        )
        .unwrap();
        let port = free_port();
        let mut child = Command::new("rsync")
            .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
            .arg(format!("--config={}", conf.display()))
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run rsync --daemon (scripts/install-deps.sh installs rsync)");
        wait_listening(&mut child, port, "rsync --daemon", &log);
        RsyncDaemon { child, port, module_dir }
    }

    /// The DP URL of folder `sub` of the module.
    pub fn url(&self, sub: &str) -> String {
        format!("rsync://127.0.0.1:{}/dp/{sub}", self.port)
    }
}

impl Drop for RsyncDaemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// An sshd accepting one throwaway key for the current user.
pub struct Sshd {
    child: Child,
    /// Its port.
    pub port: u16,
    /// The user the tests log in as.
    pub user: String,
    /// `WIMPATCH_SSH` for wimpatch: ssh with a configuration naming the key and the host key.
    pub ssh_command: String,
}

const SSHD: &str = "/usr/sbin/sshd";

impl Sshd {
    /// Starts `sshd -D` on a free port, or returns `None` (after printing why) where openssh-server
    /// is not installed.
    pub fn start(work: &Path, test: &str) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            println!("skipped: {test}: {SSHD} is not installed (scripts/install-deps.sh installs openssh-server)");
            return None;
        }
        let keygen = |file: &Path| {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(file)
                .status()
                .expect("run ssh-keygen");
            assert!(ok.success(), "ssh-keygen failed");
        };
        let (host_key, client_key) = (work.join("ssh_host_key"), work.join("client_key"));
        keygen(&host_key);
        keygen(&client_key);
        std::fs::copy(work.join("client_key.pub"), work.join("authorized_keys")).unwrap();
        // sshd started as root insists on its privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = work.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {w}/sshd.pid\nAuthorizedKeysFile {w}/authorized_keys\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nLogLevel ERROR\n",
                hk = host_key.display(),
                w = work.display()
            ),
        )
        .unwrap();
        let log = work.join("sshd.log");
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-p")
            .arg(port.to_string())
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run sshd");
        wait_listening(&mut child, port, "sshd", &log);
        let host_pub = std::fs::read_to_string(work.join("ssh_host_key.pub")).unwrap();
        let known = work.join("known_hosts");
        std::fs::write(&known, format!("[127.0.0.1]:{port} {host_pub}")).unwrap();
        let client_config = work.join("ssh_config");
        std::fs::write(
            &client_config,
            format!(
                "Host *\n  IdentityFile {k}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
                k = client_key.display(),
                kh = known.display()
            ),
        )
        .unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().expect("run id").stdout)
            .unwrap()
            .trim()
            .to_owned();
        Some(Sshd { child, port, user, ssh_command: format!("ssh -F {}", client_config.display()) })
    }

    /// The DP URL of folder `dir` on this host.
    pub fn url(&self, dir: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, dir.display())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
