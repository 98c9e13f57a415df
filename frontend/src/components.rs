//! Small widgets shared by the pages: page header, error messages, times.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::contract::AppError;

/// The error of an action's last run, if it failed.
pub fn last_error<T, V>(value: V) -> Signal<Option<AppError>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(Result::err))
}

/// Title on the left, the page's primary action on the right.
#[component]
pub fn PageHeader(
    title: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">{children.map(|c| c())}</div>
        </header>
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
    move || {
        error
            .get()
            .filter(|err| !err.is_field_error())
            .map(|err| view! { <ErrorBanner error=err /> })
    }
}

/// The message for one field, shown under it and announced to screen readers.
#[component]
pub fn FieldError(
    #[prop(into)] error: Signal<Option<AppError>>,
    field: &'static str,
) -> impl IntoView {
    move || {
        error
            .get()
            .and_then(|err| err.for_field(field))
            .map(|message| {
                view! {
                    <p class="field-error" role="alert" id=format!("{field}-error")>{message}</p>
                }
            })
    }
}

/// A labelled input with its field error. `name` is also the id.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let invalid = move || error.get().and_then(|err| err.for_field(name)).is_some();
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <input
                id=name
                name=name
                type=kind.unwrap_or("text")
                autocomplete=autocomplete.unwrap_or("off")
                required=required
                aria-invalid=move || invalid().to_string()
                aria-describedby=format!("{name}-error")
            />
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            <FieldError error field=name />
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
        text.set(
            at.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        );
    });
    view! { <time datetime=iso.clone() title=iso>{text}</time> }
}
