//! A span's or event's fields as text, for the tests that capture what `tracing` sees.

use std::collections::BTreeMap;

use tracing::field::{Field, Visit};

/// Records each field into the map, by name, its `Debug` text without quotes.
pub struct Fields<'a>(pub &'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}
