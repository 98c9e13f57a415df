//! State words read back from the database.

use steward_frontend::contract::Word;

/// The state word `text` as its enum. What writes these columns (a CHECK in the schema, or the
/// engine itself) allows only known words; an unknown one (a database a newer Steward wrote, a
/// hand edit) is logged and shown as `fallback` rather than failing the page.
pub fn stored<T: Word>(text: &str, fallback: T) -> T {
    T::parse(text).unwrap_or_else(|| {
        tracing::warn!(word = text, shown_as = fallback.as_str(), "an unknown state word in the database");
        fallback
    })
}
