//! Mail: the outbox and test messages.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "list_outbox")]
pub async fn list_outbox(page: u32) -> Result<Page<OutboxEntry>, AppError> {
    run("list_outbox", Scope::Global, |b, _, caller| async move { b.list_outbox(&caller, page).await }).await
}

#[server(prefix = "/api", endpoint = "resend_mail")]
pub async fn resend_mail(mail_id: i64) -> Result<(), AppError> {
    run("resend_mail", Scope::Global, |b, _, caller| async move { b.resend_mail(&caller, mail_id).await }).await
}

#[server(prefix = "/api", endpoint = "send_test_mail")]
pub async fn send_test_mail(address: String) -> Result<String, AppError> {
    run("send_test_mail", Scope::Global, |b, _, caller| async move { b.send_test_mail(&caller, address).await }).await
}
