//! Feature `schemars`: what the JSON Schemas of this crate's serialized types share.

/// Marks every property of an object schema required: the `Serialize` impls write every
/// field, `null` where there is no value. (schemars's own `required` on an `Option` field
/// would also drop the `null` from its type.)
pub(crate) fn every_property_required(schema: &mut schemars::Schema) {
    let names: Vec<serde_json::Value> = schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| properties.keys().cloned().map(Into::into).collect())
        .unwrap_or_default();
    schema.insert("required".to_owned(), names.into());
}
