//! A real test fleet: each host is its own unix user with a home, its own sshd on a loopback
//! port with its own host key, key-only authentication. Hosts can be stopped, restarted and
//! given a new host key. A pair of hosts in network namespaces the harness creates gives a
//! host reachable only through a jump host. Needs root and Debian's openssh-server (the test
//! command installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct FleetHost {
    pub user: String,
    /// Where Steward reaches it (127.0.0.1, or an address in a namespace).
    pub address: String,
    pub port: u16,
    pub dir: PathBuf,
    pub home: PathBuf,
    sshd: Option<Child>,
    /// The network namespace sshd runs in, if any.
    netns: Option<String>,
    _net: Option<std::sync::Arc<Namespaces>>,
}

/// Network namespaces and links made for a jump pair; deleted on drop.
struct Namespaces {
    names: Vec<String>,
    links: Vec<String>,
    routes: Vec<String>,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for route in &self.routes {
            let _ = Command::new("ip").args(["route", "del", "unreachable", route]).stderr(Stdio::null()).status();
        }
        for link in &self.links {
            let _ = Command::new("ip").args(["link", "del", link]).stderr(Stdio::null()).status();
        }
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).stderr(Stdio::null()).status();
        }
    }
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
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
        Self::start_in(authorized_key, "127.0.0.1", None, None)
    }

    /// A jump host reachable from here and a host reachable only through it: the jump host's
    /// sshd runs in namespace J linked to this one, the hidden host's in namespace H linked to
    /// J only, so nothing here has a route to it.
    pub fn start_jump_pair(authorized_key: &str) -> (Self, Self) {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}x{n}", std::process::id() % 10_000);
        let net = format!("10.{}.{}", 200 + std::process::id() % 50, n % 250);
        let (j, h) = (format!("stwj{tag}"), format!("stwh{tag}"));
        let (root_j, j_root, j_h, h_j) =
            (format!("sr{tag}"), format!("sj{tag}"), format!("sk{tag}"), format!("sh{tag}"));
        let hidden_net = format!("{net}.4/30");
        let spaces = std::sync::Arc::new(Namespaces {
            names: vec![j.clone(), h.clone()],
            links: vec![root_j.clone()],
            routes: vec![hidden_net.clone()],
        });
        // Nothing here may try the hidden network through a default route: it is unreachable.
        ip(&["route", "add", "unreachable", &hidden_net]);
        ip(&["netns", "add", &j]);
        ip(&["netns", "add", &h]);
        ip(&["link", "add", &root_j, "type", "veth", "peer", "name", &j_root]);
        ip(&["link", "set", &j_root, "netns", &j]);
        ip(&["netns", "exec", &j, "ip", "link", "add", &j_h, "type", "veth", "peer", "name", &h_j]);
        ip(&["netns", "exec", &j, "ip", "link", "set", &h_j, "netns", &h]);
        ip(&["addr", "add", &format!("{net}.1/30"), "dev", &root_j]);
        ip(&["link", "set", &root_j, "up"]);
        for (space, link, address) in
            [(&j, &j_root, format!("{net}.2/30")), (&j, &j_h, format!("{net}.5/30")), (&h, &h_j, format!("{net}.6/30"))]
        {
            ip(&["netns", "exec", space, "ip", "addr", "add", &address, "dev", link]);
            ip(&["netns", "exec", space, "ip", "link", "set", link, "up"]);
            ip(&["netns", "exec", space, "ip", "link", "set", "lo", "up"]);
        }
        let jump = Self::start_in(authorized_key, &format!("{net}.2"), Some(j), Some(spaces.clone()));
        let hidden = Self::start_in(authorized_key, &format!("{net}.6"), Some(h), Some(spaces));
        (jump, hidden)
    }

    fn start_in(
        authorized_key: &str,
        address: &str,
        netns: Option<String>,
        net: Option<std::sync::Arc<Namespaces>>,
    ) -> Self {
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
        let mut host =
            Self { user, address: address.to_owned(), port: free_port(), dir, home, sshd: None, netns, _net: net };
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
                "Port {port}\nListenAddress {address}\nHostKey {key}\nPidFile {pid}\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAllowUsers {user}\nAllowTcpForwarding yes\n\
                 AuthorizedKeysFile .ssh/authorized_keys\nSubsystem sftp internal-sftp\n",
                port = self.port,
                address = self.address,
                key = self.dir.join("host_key").display(),
                pid = self.dir.join("sshd.pid").display(),
                user = self.user,
            ),
        )
        .unwrap();
        let pid_file = self.dir.join("sshd.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut command = match &self.netns {
            Some(space) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", space, "/usr/sbin/sshd"]);
                c
            }
            None => Command::new("/usr/sbin/sshd"),
        };
        let child = command.arg("-D").arg("-f").arg(&config).arg("-E").arg(self.dir.join("sshd.log")).spawn().unwrap();
        self.sshd = Some(child);
        // sshd writes its pid file once it listens.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid_file.exists() {
            assert!(Instant::now() < deadline, "sshd did not start on {}:{}", self.address, self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops sshd and everything of the host's user (sessions, agents): the host is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("pkill").args(["-KILL", "-u", &self.user]).status();
    }

    /// Runs a command as the host's user (as someone logged in on it would) and returns stdout.
    pub fn run_as_user(&self, argv: &[&str]) -> String {
        let out = Command::new("runuser").args(["-u", &self.user, "--"]).args(argv).current_dir("/").output().unwrap();
        assert!(out.status.success(), "{argv:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts a real nginx run by the host's user, with prefix `~/nginx` and a config answering
    /// `body` on a loopback port; returns the site (nginx stops with the host's user).
    #[allow(dead_code)]
    pub fn start_nginx(&self, body: &str) -> NginxSite {
        let prefix = self.home.join("nginx");
        for dir in ["conf", "logs", "tmp"] {
            std::fs::create_dir_all(prefix.join(dir)).unwrap();
        }
        let site = NginxSite { prefix: prefix.display().to_string(), port: free_port() };
        std::fs::write(site.config_path(), site.config(body)).unwrap();
        run(Command::new("chown").args(["-R", &self.user]).arg(&prefix));
        let argv = site.command(&[]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.run_as_user(&argv);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", site.port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start on port {}", site.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        site
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

/// A real nginx on a test host: everything under `prefix`, listening on 127.0.0.1:`port`.
#[allow(dead_code)]
pub struct NginxSite {
    pub prefix: String,
    pub port: u16,
}

#[allow(dead_code)]
impl NginxSite {
    pub fn config_path(&self) -> String {
        format!("{}/conf/nginx.conf", self.prefix)
    }

    /// `/usr/sbin/nginx` with this site's prefix, error log and config, then `extra`.
    pub fn command(&self, extra: &[&str]) -> Vec<String> {
        let prefix = &self.prefix;
        let mut argv: Vec<String> = ["/usr/sbin/nginx", "-p", prefix, "-e", &format!("{prefix}/logs/error.log")]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        argv.extend(["-c".to_owned(), self.config_path()]);
        argv
    }

    /// A whole nginx.conf for this site whose one location answers `body` (a raw nginx value
    /// such as `200 "hello"`).
    pub fn config(&self, body: &str) -> String {
        format!(
            r#"worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/logs/error.log;
events {{ worker_connections 32; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type text/plain;
            return {body};
        }}
    }}
}}
"#,
            p = self.prefix,
            port = self.port
        )
    }

    /// What the site answers now: status and body.
    pub async fn get(&self) -> (u16, String) {
        let response = reqwest::get(format!("http://127.0.0.1:{}/", self.port)).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
