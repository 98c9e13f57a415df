//! Mail (admins): send a test message and see the mail server's answer, and the outbox with
//! each message's status, attempts and last error, with resend.

use leptos::prelude::*;

use crate::api::{ResendMail, SendTestMail, list_outbox};
use crate::components::{
    ButtonForm, DataTable, Field, FormError, Loaded, LocalTime, PageHeader, last_error, successes,
};
use crate::contract::MailStatus;

#[component]
pub fn MailPage() -> impl IntoView {
    let test = ServerAction::<SendTestMail>::new();
    let resend = ServerAction::<ResendMail>::new();
    let test_error = last_error(test.value());
    let resend_error = last_error(resend.value());
    let outbox = Resource::new(
        {
            let changes = [successes(test.value()), successes(resend.value())];
            move || changes.map(|c| c.get())
        },
        |_| list_outbox(0),
    );
    view! {
        <PageHeader title="Mail" />
        <section class="panel">
            <h2>"Send a test message"</h2>
            <FormError error=test_error />
            {move || test.value().get().and_then(Result::ok).map(|reply| view! {
                <p class="banner banner-success" role="status" data-test="test-mail-result">{format!("Sent. The mail server answered: {reply}")}</p>
            })}
            <ActionForm action=test attr:class="form form-inline" attr:data-test="test-mail">
                <Field label="Address" name="address" error=test_error />
                <button type="submit" class="button">"Send test message"</button>
            </ActionForm>
        </section>
        <section class="panel">
            <h2>"Outbox"</h2>
            <p class="muted">"Every message is stored here first and sent with retries until the mail server takes it."</p>
            <FormError error=resend_error />
            <Loaded resource=outbox view=move |value| match value {
                        page if page.items.is_empty() => view! { <p class="empty">"No mail yet."</p> }.into_any(),
                        page => view! {
                            <DataTable test="outbox-table" columns=&["To", "Subject", "Status", "Attempts", "Last error", "Queued", ""]>
                                {page.items.into_iter().map(|m| {
                                    let class = if m.status == MailStatus::Sent { "badge badge-good" } else if m.last_error.is_empty() { "badge" } else { "badge badge-bad" };
                                    view! {
                                        <tr data-mail=m.id.to_string()>
                                            <td>{m.to.clone()}</td>
                                            <td>{m.subject.clone()}</td>
                                            <td><span class=class>{m.status.as_str()}</span>
                                                {m.next_attempt_at.map(|at| view! { " · next try " <LocalTime at /> })}</td>
                                            <td>{m.attempts}</td>
                                            <td>{m.last_error.clone()}</td>
                                            <td><LocalTime at=m.created_at /></td>
                                            <td class="row-actions">
                                                <ButtonForm action=resend fields=vec![("mail_id", m.id.to_string())] label="Resend" class="button-small" />
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </DataTable>
                        }.into_any(),
                    } />
        </section>
    }
}
