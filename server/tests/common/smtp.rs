//! A real SMTP server for the tests (aiosmtpd, `scripts/test-smtp.py`): STARTTLS with a
//! certificate from a throw-away CA, AUTH required, messages stored in a Maildir. It can be
//! stopped and started again on the same port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The CA that signed the server's certificate (Steward's `mail.ca_file`).
    pub ca_file: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl SmtpServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            dir.path(),
            &[
                &["req", "-x509"][..],
                &ec,
                &["-days", "2", "-subj", "/CN=Test CA", "-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat(),
        );
        openssl(
            dir.path(),
            &[&["req", "-new"][..], &ec, &["-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "req.pem"]].concat(),
        );
        std::fs::write(dir.path().join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
        openssl(
            dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                "req.pem",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "cert.pem",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self {
            port,
            user: "steward".into(),
            password: "mail server secret 42".into(),
            ca_file: dir.path().join("ca.pem"),
            dir,
            child: None,
        };
        server.resume();
        server
    }

    /// Starts (again) on the same port.
    pub fn resume(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-smtp.py");
        let dir = self.dir.path();
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &self.port.to_string(), "--user", &self.user, "--password", &self.password])
            .arg("--maildir")
            .arg(dir.join("Maildir"))
            .arg("--cert")
            .arg(dir.join("cert.pem"))
            .arg("--key")
            .arg(dir.join("key.pem"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the test SMTP server did not start (is aiosmtpd installed?)");
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// Points Steward's mail settings at this server (the password is read from the vault
    /// entry "smtp").
    pub fn configure(&self, mail: &mut steward::config::MailConfig) {
        mail.smtp_url = format!("smtp://127.0.0.1:{}", self.port);
        mail.username = self.user.clone();
        mail.password_credential = "smtp".into();
        mail.from = "Steward <steward@study.example.org>".into();
        mail.ca_file = self.ca_file.display().to_string();
        mail.timeout_secs = 5;
    }

    /// Every delivered message, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let mut all = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.path().join("Maildir").join(sub)) {
                for entry in entries.flatten() {
                    all.push(std::fs::read_to_string(entry.path()).unwrap());
                }
            }
        }
        all
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A header's value in a raw message (unfolded).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head =
        message.split("\n\n").next().unwrap_or_default().replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ");
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}
