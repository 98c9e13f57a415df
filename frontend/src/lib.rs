//! Steward's browser UI: Leptos pages rendered on the server and hydrated in the browser.
//!
//! The crate also owns the contract the UI needs from the server ([`contract`]): the data types,
//! the error type and, with the `ssr` feature, the [`contract::Backend`] trait that the server
//! crate implements. Dependencies point one way: the server depends on this crate, never back.

#![recursion_limit = "256"]

pub mod api;
pub mod app;
mod components;
pub mod contract;
mod pages;

pub use app::{App, shell};

/// Entry point of the browser bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
