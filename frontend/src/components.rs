//! Small widgets shared by the pages: page header, error messages, times.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::{Http, ServerFn, client::Client, codec::PostUrl, request::ClientReq};

use crate::contract::AppError;

/// The error of an action's last run, if it failed.
pub fn last_error<T, V>(value: V) -> Signal<Option<AppError>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(Result::err))
}

/// Counts an action's successful runs. Keying a resource on it refetches what the action
/// changed after a success, but not after a failure, which would re-render the form and lose
/// what the user typed.
pub fn successes<T, V>(value: V) -> Signal<usize>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    let count = RwSignal::new(0usize);
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            count.update(|n| *n += 1);
        }
    });
    count.into()
}

/// Title on the left, the page's primary action on the right.
#[component]
pub fn PageHeader(title: &'static str, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">{children.map(|c| c())}</div>
        </header>
    }
}

/// A resource's value, shown by `view` once it is loaded ("Loading…" meanwhile, and kept on
/// screen while it reloads), or its error.
#[component]
pub fn Loaded<T, F>(resource: Resource<Result<T, AppError>>, view: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> AnyView + Clone + Send + Sync + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let view = view.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => view(value),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// An error that belongs to no single field, as a banner above the form or page.
#[component]
pub fn ErrorBanner(error: AppError) -> impl IntoView {
    view! { <p class="banner banner-error" role="alert">{error.to_string()}</p> }
}

/// The form-level error of an action (errors tied to a field show next to that field).
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || error.get().filter(|err| !err.is_field_error()).map(|err| view! { <ErrorBanner error=err /> })
}

/// The field an error names for a form input: `input[address]` → `address`.
pub fn error_key(name: &str) -> &str {
    match (name.find('['), name.strip_suffix(']')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => name,
    }
}

/// The element id for a form input: `input[address]` → `input-address`.
pub fn input_id(name: &str) -> String {
    name.replace('[', "-").replace(']', "")
}

/// The message for one field, shown under it and announced to screen readers.
#[component]
pub fn FieldError(
    #[prop(into)] error: Signal<Option<AppError>>,
    field: &'static str,
    /// The input's id, when it is not derived from the field name.
    #[prop(default = None)]
    input: Option<&'static str>,
) -> impl IntoView {
    let id = format!("{}-error", input.map_or_else(|| input_id(field), str::to_owned));
    move || {
        error.get().and_then(|err| err.for_field(error_key(field))).map(|message| {
            view! { <p class="field-error" role="alert" id=id.clone()>{message}</p> }
        })
    }
}

/// A labelled input with its field error. `name` is also the id.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(optional)] kind: Option<&'static str>,
    /// The keyboard a phone shows ("numeric"...).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] hint: Option<&'static str>,
    /// Initial value, for edit forms.
    #[prop(optional, into)]
    value: String,
    /// Element id, when two forms on a page share field names.
    #[prop(optional)]
    id: Option<&'static str>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let invalid = move || error.get().and_then(|err| err.for_field(error_key(name))).is_some();
    let input = id;
    let id = id.map_or_else(|| input_id(name), str::to_owned);
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id.clone()
                name=name
                type=kind.unwrap_or("text")
                inputmode=inputmode
                autocomplete=autocomplete.unwrap_or("off")
                required=required
                value=value
                aria-invalid=move || invalid().to_string()
                aria-describedby=format!("{id}-error")
            />
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            <FieldError error field=name input=input />
        </div>
    }
}

/// Percent-encodes text for a URL query value or a `data:` URL.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Text for raw-text elements, escaped. Leptos writes `<textarea>` children and the `<title>`
/// into the server-rendered HTML without escaping them (as for `<script>`), so user text such as
/// `</textarea><script>` would break out of the element. The browser decodes the entities back;
/// after hydration `prop:value` carries a textarea's raw text.
pub fn escape_raw_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A labelled multi-line input with its field error.
#[component]
pub fn TextArea(
    label: &'static str,
    name: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] rows: Option<u32>,
    #[prop(optional, into)] value: String,
    #[prop(optional)] id: Option<&'static str>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let input = id;
    let id = id.map_or_else(|| input_id(name), str::to_owned);
    view! {
        <div class="field field-wide">
            <label for=id.clone()>{label}</label>
            <textarea
                id=id.clone()
                name=name
                rows=rows.unwrap_or(3)
                aria-describedby=format!("{id}-error")
                prop:value=value.clone()
            >
                {escape_raw_text(&value)}
            </textarea>
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            <FieldError error field=name input=input />
        </div>
    }
}

/// A time shown in the viewer's time zone once the page is live, UTC before; the absolute UTC
/// time is always on hover.
#[component]
pub fn LocalTime(at: DateTime<Utc>) -> impl IntoView {
    let iso = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let text = RwSignal::new(at.format("%Y-%m-%d %H:%M UTC").to_string());
    Effect::new(move |_| {
        text.set(at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string());
    });
    view! { <time datetime=iso.clone() title=iso>{text}</time> }
}

/// The SSH key select for a host form.
#[component]
pub fn SshKeySelect(
    keys: Vec<crate::contract::NamedRef>,
    #[prop(default = None)] current: Option<i64>,
) -> impl IntoView {
    view! {
        <select id="input-credential" name="input[credential]">
            <option value="">"none yet"</option>
            {keys.into_iter().map(|k| view! {
                <option value=k.id.to_string() selected=Some(k.id) == current>{k.name}</option>
            }).collect_view()}
        </select>
    }
}

/// Suggestions for a stack name input (`list=id`): the shipped stacks; an operator's own stack
/// folder can be typed in too.
pub fn stack_choices(id: &'static str) -> impl IntoView {
    view! {
        <datalist id=id>
            {crate::contract::Stack::SHIPPED.iter().map(|s| view! { <option value=*s></option> }).collect_view()}
        </datalist>
    }
}

/// A row action: one button that posts `action` with the hidden values naming what it acts on
/// (`("host_id", "7")`...). `class` is added to the button's "button" class.
#[component]
pub fn ButtonForm<S, P>(
    action: ServerAction<S>,
    fields: Vec<(&'static str, String)>,
    #[prop(into)] label: String,
    #[prop(optional)] class: &'static str,
) -> impl IntoView
where
    S: serde::de::DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData: From<web_sys::FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Client: Client<S::Error>,
    P: 'static,
{
    view! {
        <ActionForm action>
            {fields.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
            <button type="submit" class=format!("button {class}")>{label}</button>
        </ActionForm>
    }
}

/// A dense table: its column headings ("" heads a row-actions column, named for screen readers
/// only) and its rows. `test` names it for the browser tests.
#[component]
pub fn DataTable(test: &'static str, columns: &'static [&'static str], children: Children) -> impl IntoView {
    let heading = |column: &'static str| {
        if column.is_empty() {
            view! { <th scope="col"><span class="sr-only">"Actions"</span></th> }.into_any()
        } else {
            view! { <th scope="col">{column}</th> }.into_any()
        }
    };
    view! {
        <table class="table" data-test=test>
            <thead><tr>{columns.iter().map(|&c| heading(c)).collect_view()}</tr></thead>
            <tbody>{children()}</tbody>
        </table>
    }
}
