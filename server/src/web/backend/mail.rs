//! The outbox and test messages.

use super::*;
use crate::services::words::stored;

#[async_trait]
impl MailApi for WebBackend {
    async fn list_outbox(&self, _caller: &Caller, page: u32) -> Result<Page<OutboxEntry>> {
        const PER_PAGE: u32 = 50;
        let (rows, total) = self.state.mailer.outbox(page, PER_PAGE).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|row| OutboxEntry {
                    next_attempt_at: Mailer::next_attempt(&row),
                    id: row.id,
                    to: row.to_address,
                    subject: row.subject,
                    status: stored(&row.status, MailStatus::Pending),
                    attempts: row.attempts,
                    last_error: row.last_error,
                    created_at: row.created_at,
                    sent_at: row.sent_at,
                })
                .collect(),
            total: u64::try_from(total).unwrap_or(0),
            page,
            per_page: PER_PAGE,
        })
    }

    async fn resend_mail(&self, caller: &Caller, mail_id: i64) -> Result<()> {
        self.state.mailer.resend(mail_id).await?;
        self.state.audit.record(&actor(caller), "mail.resent", &format!("mail {mail_id}"), "").await;
        Ok(())
    }

    async fn send_test_mail(&self, caller: &Caller, address: String) -> Result<String> {
        let result = self.state.mailer.send_test(&address).await;
        let outcome = match &result {
            Ok(reply) => format!("sent: {reply}"),
            Err(err) => format!("failed: {err}"),
        };
        self.state.audit.record(&actor(caller), "mail.test", address.trim(), &outcome).await;
        Ok(result?)
    }
}
