//! A real test fleet: each host is its own unix user with a home, its own sshd on a loopback
//! port with its own host key, key-only authentication. Hosts can be stopped, restarted and
//! given a new host key. Needs root and Debian's openssh-server (the test command installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct FleetHost {
    pub user: String,
    pub port: u16,
    pub dir: PathBuf,
    sshd: Option<Child>,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|err| panic!("{cmd:?}: {err}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl FleetHost {
    /// A new host that accepts `authorized_key` (an OpenSSH public key line).
    pub fn start(authorized_key: &str) -> Self {
        assert!(Path::new("/usr/sbin/sshd").exists(), "the test fleet needs openssh-server (/usr/sbin/sshd)");
        std::fs::create_dir_all("/run/sshd").unwrap();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let user = format!("stwf{}h{n}", std::process::id() % 100_000);
        let root = PathBuf::from("/tmp/steward-fleet");
        std::fs::create_dir_all(&root).unwrap();
        let home = root.join(&user);
        let _ = Command::new("userdel").args(["-r", &user]).stderr(Stdio::null()).status();
        run(Command::new("useradd").args(["-m", "-d"]).arg(&home).args(["-p", "*", "-s", "/bin/sh", &user]));
        let ssh_dir = home.join(".ssh");
        std::fs::create_dir_all(&ssh_dir).unwrap();
        std::fs::write(ssh_dir.join("authorized_keys"), format!("{authorized_key}\n")).unwrap();
        run(Command::new("chown").args(["-R", &format!("{user}:{user}")]).arg(&ssh_dir));
        run(Command::new("chmod").arg("700").arg(&ssh_dir));
        run(Command::new("chmod").arg("600").arg(ssh_dir.join("authorized_keys")));
        let dir = root.join(format!("{user}-sshd"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut host = Self { user, port: free_port(), dir, sshd: None };
        host.new_host_key();
        host.start_sshd();
        host
    }

    /// Generates a new host key (the next start presents it).
    pub fn new_host_key(&self) {
        let key = self.dir.join("host_key");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(self.dir.join("host_key.pub"));
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key));
    }

    /// SHA256 fingerprint of the host key, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen").arg("-lf").arg(self.dir.join("host_key.pub")).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned()
    }

    pub fn start_sshd(&mut self) {
        let config = self.dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {pid}\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAllowUsers {user}\nAllowTcpForwarding yes\n\
                 AuthorizedKeysFile .ssh/authorized_keys\nSubsystem sftp internal-sftp\n",
                port = self.port,
                key = self.dir.join("host_key").display(),
                pid = self.dir.join("sshd.pid").display(),
                user = self.user,
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(self.dir.join("sshd.log"))
            .spawn()
            .unwrap();
        self.sshd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts with a freshly generated host key.
    pub fn swap_host_key(&mut self) {
        self.stop();
        self.new_host_key();
        self.start_sshd();
    }
}

impl Drop for FleetHost {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("userdel").args(["-r", &self.user]).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
