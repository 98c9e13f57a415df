//! Mail: every message goes to the outbox in the database first; a worker sends due messages
//! over SMTP (lettre, one transport built from the configuration and reused), retrying with
//! growing pauses, so an SMTP outage, bad credentials or a restart lose nothing. Each message
//! keeps the Message-ID it got when queued, so a resend after a crash at the worst moment is
//! recognisable as the same message.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use steward_frontend::contract::CredentialKind;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::{ConfigError, MailConfig};
use crate::services::error::Error;
use crate::services::vault::Vault;
use crate::services::workers::Worker;
use crate::store::{NewMail, OutboxRow, Store};

/// How long a worker may take to send one message before another may try.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Pauses between attempts: 15 s, 1 min, 4 min... at most 30 min.
fn backoff(attempts: i64) -> chrono::Duration {
    let step = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    chrono::Duration::seconds((15 * 4_i64.pow(step)).min(30 * 60))
}

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Stands in a queued message's body for its acknowledge link, made only when it is sent: the
/// outbox never holds a usable token.
pub const ACK_LINK: &str = "{{acknowledge-link}}";
/// How long an acknowledge link works.
pub const ACK_LINK_LIFETIME: chrono::Duration = chrono::Duration::days(7);

struct Inner {
    base_url: String,
    store: Store,
    clock: SharedClock,
    vault: Vault,
    config: MailConfig,
    from: Option<Mailbox>,
    /// Built on first use (the password comes from the vault) and kept.
    transport: Mutex<Option<Transport>>,
    wake: Notify,
}

#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("smtp_url", &self.inner.config.smtp_url).finish_non_exhaustive()
    }
}

/// Checks a typed address; the error names the field.
pub fn parse_address(field: &str, text: &str) -> Result<Mailbox, Error> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|err| Error::invalid(field, format!("{:?} is not an e-mail address ({err})", text.trim())))
}

impl Mailer {
    /// Checks the mail settings (the transport itself is built on first use).
    pub fn new(
        store: Store,
        clock: SharedClock,
        vault: Vault,
        config: MailConfig,
        base_url: String,
    ) -> Result<Self, ConfigError> {
        let from = if config.smtp_url.is_empty() {
            None
        } else {
            url::Url::parse(&config.smtp_url).map_err(|err| {
                ConfigError::new("mail.smtp_url", format!("{err}"), "Use smtp://HOST:PORT or smtps://HOST:PORT.")
            })?;
            let from = config.from.parse::<Mailbox>().map_err(|err| {
                ConfigError::new(
                    "mail.from",
                    format!("{:?} is not a sender address ({err})", config.from),
                    "Set it to an address like Steward <steward@example.org> (STEWARD_MAIL__FROM).",
                )
            })?;
            Some(from)
        };
        Ok(Self {
            inner: Arc::new(Inner {
                base_url,
                store,
                clock,
                vault,
                config,
                from,
                transport: Mutex::new(None),
                wake: Notify::new(),
            }),
        })
    }

    pub fn enabled(&self) -> bool {
        self.inner.from.is_some()
    }

    async fn password(&self) -> Result<String, String> {
        let name = &self.inner.config.password_credential;
        if name.is_empty() {
            return Ok(String::new());
        }
        let entry = self
            .inner
            .vault
            .list()
            .await
            .map_err(|err| err.to_string())?
            .into_iter()
            .find(|c| &c.name == name && c.kind == CredentialKind::SmtpPassword)
            .ok_or_else(|| format!("the vault has no smtp-password entry named {name:?} (mail.password_credential)"))?;
        let secret = self.inner.vault.reveal(entry.id).await.map_err(|err| err.to_string())?;
        String::from_utf8(secret.to_vec()).map_err(|_| "the SMTP password is not text".to_owned())
    }

    async fn build_transport(&self) -> Result<Transport, String> {
        let config = &self.inner.config;
        let url = url::Url::parse(&config.smtp_url).map_err(|err| format!("mail.smtp_url: {err}"))?;
        let host = url.host_str().ok_or("mail.smtp_url has no host")?.trim_matches(['[', ']']).to_owned();
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let plain = url.query_pairs().any(|(k, v)| k == "tls" && v == "none");
        let mut tls = TlsParameters::builder(host.clone());
        if !config.ca_file.is_empty() {
            let pem =
                std::fs::read(&config.ca_file).map_err(|err| format!("mail.ca_file {}: {err}", config.ca_file))?;
            let cert = Certificate::from_pem(&pem).map_err(|err| format!("mail.ca_file {}: {err}", config.ca_file))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build().map_err(|err| format!("TLS setup: {err}"))?;
        let (tls, default_port) = match (url.scheme(), plain) {
            ("smtps", _) => (Tls::Wrapper(tls), 465),
            ("smtp", false) => (Tls::Required(tls), 587),
            ("smtp", true) if loopback => (Tls::None, 25),
            ("smtp", true) => return Err("plain SMTP (tls=none) is only allowed to a loopback address".into()),
            (other, _) => return Err(format!("mail.smtp_url: unknown scheme {other}; use smtp or smtps")),
        };
        let mut builder = Transport::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if !config.username.is_empty() {
            // PLAIN over TLS only: no second mechanism tried after a refusal (whose answer is
            // what the admin needs to see).
            builder = builder
                .credentials(Credentials::new(config.username.clone(), self.password().await?))
                .authentication(vec![Mechanism::Plain]);
        }
        Ok(builder.build())
    }

    async fn transport(&self) -> Result<Transport, String> {
        let mut slot = self.inner.transport.lock().await;
        if let Some(transport) = slot.as_ref() {
            return Ok(transport.clone());
        }
        let transport = self.build_transport().await?;
        *slot = Some(transport.clone());
        Ok(transport)
    }

    fn message(&self, message_id: &str, to: &str, subject: &str, text: &str, html: &str) -> Result<Message, String> {
        let from = self.inner.from.clone().ok_or("mail is not configured (mail.smtp_url)")?;
        let to: Mailbox = to.parse().map_err(|err| format!("bad recipient {to:?}: {err}"))?;
        let builder = Message::builder().from(from).to(to).subject(subject).message_id(Some(message_id.to_owned()));
        let message = if html.is_empty() {
            builder.header(ContentType::TEXT_PLAIN).body(text.to_owned())
        } else {
            builder.multipart(MultiPart::alternative_plain_html(text.to_owned(), html.to_owned()))
        };
        message.map_err(|err| format!("cannot build the message: {err}"))
    }

    /// Sends now, bypassing the outbox; returns the server's answer (for "send test mail").
    pub async fn send_now(&self, to: &str, subject: &str, text: &str) -> Result<String, String> {
        let id = format!("<{}@steward>", uuid::Uuid::new_v4().simple());
        let message = self.message(&id, to, subject, text, "")?;
        let transport = self.transport().await?;
        match transport.send(message).await {
            Ok(response) => Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))),
            Err(err) => {
                // Credentials or TLS may have been fixed since: build afresh next time.
                *self.inner.transport.lock().await = None;
                Err(describe(&err))
            }
        }
    }

    /// A test message to `to`, with the SMTP server's answer or its refusal.
    pub async fn send_test(&self, to: &str) -> Result<String, Error> {
        parse_address("address", to)?;
        if !self.enabled() {
            return Err(Error::invalid("address", "Mail is not configured: set mail.smtp_url and mail.from"));
        }
        let text = format!(
            "This is a test message from Steward at {}.\nIf you read this, alerts can reach you.\n",
            self.inner.clock.now().to_rfc3339()
        );
        self.send_now(to.trim(), "[Steward] test message", &text).await.map_err(|message| Error::Remote { message })
    }

    /// Queues a message; the worker sends it. With `ack_alert_id`, [`ACK_LINK`] in the bodies
    /// becomes a one-time link acknowledging that alert, made at send time.
    pub async fn queue(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
        ack_alert_id: Option<i64>,
    ) -> Result<i64, Error> {
        parse_address("to", to)?;
        let message_id = format!("<{}@steward>", uuid::Uuid::new_v4().simple());
        let mail = NewMail { message_id: &message_id, to: to.trim(), subject, text, html, ack_alert_id };
        let id = self.inner.store.queue_mail(&mail, self.inner.clock.now()).await?;
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Sends every due message; returns how many were sent, or why sending stopped (the
    /// message that failed is due again after its backoff).
    pub async fn deliver_due(&self) -> Result<usize, DeliveryError> {
        if !self.enabled() {
            return Ok(0);
        }
        let mut sent = 0;
        loop {
            let now = self.inner.clock.now();
            let row = match self.inner.store.lease_mail(now, now + LEASE).await {
                Ok(Some(row)) => row,
                Ok(None) => return Ok(sent),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the outbox");
                    return Err(DeliveryError { message: "cannot read the outbox".into(), retry_in: LEASE });
                }
            };
            // The server refuses or is down: the others would fail the same way now.
            self.deliver(&row).await?;
            sent += 1;
        }
    }

    /// The message's bodies with its acknowledge link made now (a fresh one per attempt).
    async fn bodies(&self, row: &OutboxRow) -> Result<(String, String), String> {
        let Some(alert_id) = row.ack_alert_id else { return Ok((row.body_text.clone(), row.body_html.clone())) };
        let token = crate::auth::tokens::new_token();
        let expires = self.inner.clock.now() + ACK_LINK_LIFETIME;
        self.inner
            .store
            .insert_alert_link(&crate::auth::tokens::hash_token(&token), alert_id, &row.to_address, expires)
            .await
            .map_err(|err| format!("cannot make the acknowledge link: {err}"))?;
        let link = format!("{}/alerts/ack?token={token}", self.inner.base_url);
        let html_link = link.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
        Ok((row.body_text.replace(ACK_LINK, &link), row.body_html.replace(ACK_LINK, &html_link)))
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError> {
        let message = match self.bodies(row).await {
            Ok((text, html)) => self.message(&row.message_id, &row.to_address, &row.subject, &text, &html),
            Err(err) => Err(err),
        };
        let result = match message {
            Ok(message) => match self.transport().await {
                Ok(transport) => transport.send(message).await.map(drop).map_err(|err| describe(&err)),
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        let now = self.inner.clock.now();
        match result {
            Ok(()) => {
                if let Err(err) = self.inner.store.mail_sent(row.id, now).await {
                    tracing::error!(mail = row.id, error = %err, "sent a message but could not mark it sent");
                }
                Ok(())
            }
            Err(error) => {
                *self.inner.transport.lock().await = None;
                tracing::warn!(mail = row.id, attempt = row.attempts, %error, "mail not sent; will retry");
                let pause = backoff(row.attempts);
                if let Err(err) = self.inner.store.mail_failed(row.id, &error, now + pause).await {
                    tracing::error!(mail = row.id, error = %err, "could not record a failed send");
                }
                Err(DeliveryError { message: error, retry_in: pause })
            }
        }
    }

    /// The outbox worker: sends due mail now and then, and at once when mail is queued here.
    /// A message being sent when shutdown comes is finished (and marked sent).
    pub async fn run(self, shutdown: CancellationToken, worker: Worker) {
        loop {
            worker.busy();
            match self.deliver_due().await {
                Ok(_) => worker.idle(),
                Err(err) => worker.failed(&err.message, err.retry_in.to_std().unwrap_or_default()),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
        worker.stopped();
    }

    pub async fn resend(&self, id: i64) -> Result<(), Error> {
        if !self.inner.store.resend_mail(id, self.inner.clock.now()).await? {
            return Err(Error::not_found("The message"));
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    pub async fn outbox(&self, page: u32, per_page: u32) -> Result<(Vec<OutboxRow>, i64), Error> {
        self.inner.store.outbox(i64::from(per_page), i64::from(page) * i64::from(per_page)).await.map_err(Error::from)
    }

    pub fn next_attempt(row: &OutboxRow) -> Option<DateTime<Utc>> {
        (row.status != "sent").then_some(row.next_attempt_at)
    }
}

/// Why the outbox stopped sending for now, and when the failed message is due again.
#[derive(Debug, Clone)]
pub struct DeliveryError {
    pub message: String,
    pub retry_in: chrono::Duration,
}

/// The SMTP server's reply when there is one, else the transport's error.
fn describe(err: &lettre::transport::smtp::Error) -> String {
    match err.status() {
        Some(code) => format!("the mail server answered {code}: {err}"),
        None => format!("{err}"),
    }
}
