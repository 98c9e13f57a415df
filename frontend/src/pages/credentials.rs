//! Admin page: the vault. Names, kinds, public keys and fingerprints only; secrets never come
//! to the browser.

use leptos::prelude::*;

use crate::api::{
    DeleteCredential, GenerateSshKey, ImportSshKey, ShareCredential, StoreSecret, list_credentials, list_studies,
};
use crate::components::{ButtonForm, DataTable, Field, FormError, Loaded, LocalTime, PageHeader, TextArea, last_error};
use crate::contract::{CredentialKind, CredentialSummary};

#[component]
pub fn CredentialsPage() -> impl IntoView {
    let generate = ServerAction::<GenerateSshKey>::new();
    let import = ServerAction::<ImportSshKey>::new();
    let store = ServerAction::<StoreSecret>::new();
    let delete = ServerAction::<DeleteCredential>::new();
    let share = ServerAction::<ShareCredential>::new();
    let list = Resource::new(
        move || {
            (
                generate.version().get(),
                import.version().get(),
                store.version().get(),
                delete.version().get(),
                share.version().get(),
            )
        },
        |_| list_credentials(),
    );
    let studies = Resource::new(|| (), |_| list_studies());
    let share_error = last_error(share.value());
    let generate_error = last_error(generate.value());
    let import_error = last_error(import.value());
    let store_error = last_error(store.value());
    let delete_error = last_error(delete.value());
    let new_key = Signal::derive(move || {
        generate.value().get().and_then(Result::ok).or_else(|| import.value().get().and_then(Result::ok))
    });
    view! {
        <PageHeader title="Credentials" />
        <p class="lead">"Secrets are encrypted with the vault's master key and used only on the server. Here you see names, public keys and fingerprints."</p>
        {move || new_key.get().map(|key: CredentialSummary| view! {
            <div class="banner banner-success" role="status" data-test="new-key">
                <p>{format!("SSH key {} is ready. Add this line to ~/.ssh/authorized_keys of the SSH user on each host:", key.name)}</p>
                <code class="public-key">{key.public_key}</code>
                <p>{format!("Fingerprint: {}", key.fingerprint)}</p>
            </div>
        })}
        <FormError error=delete_error />
        <FormError error=share_error />
        <section class="panel">
            <Loaded resource=list view=move |value| match value {
                        items if items.is_empty() => view! { <p class="empty">"The vault is empty. Generate an SSH key for Steward below."</p> }.into_any(),
                        items => view! {
                            <DataTable test="credentials-table" columns=&["Name", "Kind", "Public key / fingerprint", "Used by", "Shared with", "Added", ""]>
                                {items.into_iter().map(|c| view! {
                                    <tr data-credential=c.name.clone()>
                                        <td>{c.name.clone()}</td>
                                        <td><span class="badge">{c.kind.as_str()}</span></td>
                                        <td>
                                            {(!c.public_key.is_empty()).then(|| view! { <code class="public-key">{c.public_key.clone()}</code> })}
                                            {(!c.fingerprint.is_empty()).then(|| view! { <code>{c.fingerprint.clone()}</code> })}
                                        </td>
                                        <td>{format!("{} host(s)", c.used_by_hosts)}</td>
                                        <td>{(c.kind == CredentialKind::SshKey).then(|| view! {
                                            <ShareCell credential=c.clone() share studies />
                                        })}</td>
                                        <td><LocalTime at=c.created_at /></td>
                                        <td class="row-actions">
                                            <ButtonForm action=delete fields=vec![("credential_id", c.id.to_string())] label="Delete" class="button-small" />
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </DataTable>
                        }.into_any(),
                    } />
        </section>
        <section class="panel">
            <h2>"Generate an SSH key"</h2>
            <p class="muted">"An ed25519 key made here; only its public half is ever shown."</p>
            <FormError error=generate_error />
            <ActionForm action=generate attr:class="form form-inline" attr:data-test="generate-key">
                <Field label="Name" name="name" required=true error=generate_error />
                <button type="submit" class="button button-primary">"Generate"</button>
            </ActionForm>
        </section>
        <section class="panel">
            <h2>"Import an SSH key"</h2>
            <FormError error=import_error />
            <ActionForm action=import attr:class="form form-grid" attr:data-test="import-key">
                <Field label="Name" name="name" required=true error=import_error />
                <Field label="Passphrase" name="passphrase" kind="password" autocomplete="off" error=import_error hint="If the key has one." />
                <TextArea label="Private key (OpenSSH format)" name="private_key" rows=6 error=import_error />
                <div class="form-actions"><button type="submit" class="button">"Import"</button></div>
            </ActionForm>
        </section>
        <section class="panel">
            <h2>"Store a password or API key"</h2>
            <FormError error=store_error />
            <ActionForm action=store attr:class="form form-grid" attr:data-test="store-secret">
                <Field label="Name" name="name" required=true error=store_error />
                <div class="field">
                    <label for="kind">"Kind"</label>
                    <select id="kind" name="kind">
                        {CredentialKind::ALL.iter().filter(|k| **k != CredentialKind::SshKey).map(|k| view! {
                            <option value=k.as_str()>{k.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <Field label="Secret" name="secret" kind="password" autocomplete="new-password" required=true error=store_error />
                <div class="form-actions"><button type="submit" class="button">"Store"</button></div>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The studies an SSH key is shared with (each with a button to stop), and a form to share it
/// with one more.
#[component]
fn ShareCell(
    credential: CredentialSummary,
    share: ServerAction<ShareCredential>,
    studies: Resource<Result<Vec<crate::contract::StudySummary>, crate::contract::AppError>>,
) -> impl IntoView {
    let id = credential.id.to_string();
    let shared: Vec<i64> = credential.studies.iter().map(|s| s.id).collect();
    let label = format!("Share {} with a study", credential.name);
    let each_id = id.clone();
    view! {
        <ul class="inline-list" data-test="shared-with">
            {credential.studies.into_iter().map(move |study| { let each_id = each_id.clone(); view! {
                <li>
                    {study.name.clone()}
                    <ActionForm action=share attr:class="inline-form">
                        <input type="hidden" name="credential_id" value=each_id.clone() />
                        <input type="hidden" name="study_id" value=study.id.to_string() />
                        <input type="hidden" name="shared" value="false" />
                        <button type="submit" class="button button-small button-link" aria-label=format!("Stop sharing with {}", study.name)>"×"</button>
                    </ActionForm>
                </li>
            }}).collect_view()}
        </ul>
        <ActionForm action=share attr:class="inline-form">
            <input type="hidden" name="credential_id" value=id.clone() />
            <input type="hidden" name="shared" value="true" />
            <select name="study_id" aria-label=label>
                <Suspense fallback=|| ()>
                    {move || {
                        let shared = shared.clone();
                        studies.get().and_then(Result::ok).map(|list| list.into_iter()
                            .filter(|s| !shared.contains(&s.id))
                            .map(|s| view! { <option value=s.id.to_string()>{s.name}</option> })
                            .collect_view())
                    }}
                </Suspense>
            </select>
            <button type="submit" class="button button-small">"Share"</button>
        </ActionForm>
    }
}
