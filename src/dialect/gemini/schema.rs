//! JSON Schema ↔ Gemini's `Schema` (an OpenAPI 3.0 subset).
//!
//! `to_gemini` rewrites a JSON Schema (tool parameters, `response_format` schemas) into what the
//! API accepts, so none of the "Unknown name `$schema`/`additionalProperties`/`const`" 400s of
//! pitfall 14 happen:
//!
//! * Only `KEEP` members survive; `$schema`, `additionalProperties`, `propertyNames`, `strict`,
//!   `examples`, `default`, `pattern` and the rest are dropped.
//! * Local `$ref`s (`#/$defs/X`, `#/definitions/X`, any `#/…` pointer) are inlined, sibling
//!   members winning; a ref nested more than `MAX_REF_DEPTH` deep (recursive types) or one that
//!   cannot be resolved becomes `{"type":"object"}`, as does anything deeper than `MAX_DEPTH`.
//! * `allOf` members are merged into their parent; `oneOf` is read as `anyOf`; a `null` member of
//!   `anyOf` (pydantic's `Optional[X]`) becomes `nullable: true`, and an `anyOf` left with one
//!   member is replaced by it.
//! * `type: [t, "null"]` → `type: t, nullable: true`; several non-null types → `anyOf`.
//! * `const: "v"` → `enum: ["v"]`. `enum` is kept only when every value is a string (the API
//!   refuses others); `null` in it becomes `nullable`. A string enum implies `type: "string"`.
//! * `format` is kept only where the API accepts it (`date-time`/`enum` on strings,
//!   `float`/`double` on numbers, `int32`/`int64` on integers).
//! * Empty `properties` are dropped (the API refuses an empty map), and `required` keeps only
//!   names that are properties. A schema with `properties` or `items` but no type gets `object`
//!   or `array` (the API takes them only with their type).
//!
//! Type names stay lower-case: the API accepts JSON Schema's spelling.
//!
//! `from_openapi` goes the other way for schemas a Gemini client sends: upper-case OpenAPI type
//! names (`OBJECT`) become JSON Schema's, and `nullable: true` becomes a `"null"` type.

use serde_json::{Map, Value, json};

#[cfg(test)]
mod tests;

/// The `Schema` members Gemini accepts and `to_gemini` keeps.
pub const KEEP: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "properties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "anyOf",
    "propertyOrdering",
];

/// Nested `$ref` expansions followed on one path before giving up (recursive types).
pub const MAX_REF_DEPTH: usize = 8;
/// Schema nesting followed before giving up.
pub const MAX_DEPTH: usize = 32;

const TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

fn opaque() -> Value {
    json!({ "type": "object" })
}

/// A JSON Schema rewritten into Gemini's subset (module docs).
pub fn to_gemini(schema: &Value) -> Value {
    Cleaner { root: schema }.clean(schema, 0, 0)
}

struct Cleaner<'a> {
    /// Where `#/…` references point.
    root: &'a Value,
}

impl Cleaner<'_> {
    fn clean(&self, node: &Value, depth: usize, refs: usize) -> Value {
        if depth > MAX_DEPTH {
            return opaque();
        }
        let Value::Object(node) = node else {
            // `true`, `false` and garbage: anything goes.
            return Value::Object(Map::new());
        };

        if let Some(reference) = node.get("$ref") {
            let target = reference.as_str().and_then(|r| r.strip_prefix('#')).and_then(|p| self.root.pointer(p));
            return match target {
                Some(Value::Object(target)) if refs < MAX_REF_DEPTH => {
                    let mut merged = target.clone();
                    for (key, value) in node {
                        if key != "$ref" {
                            merged.insert(key.clone(), value.clone());
                        }
                    }
                    self.clean(&Value::Object(merged), depth + 1, refs + 1)
                }
                _ => opaque(),
            };
        }

        let mut out = Map::new();
        let mut nullable = node.get("nullable") == Some(&Value::Bool(true));

        // type
        match node.get("type") {
            Some(Value::String(t)) => match normal_type(t) {
                Some("null") => nullable = true,
                Some(t) => {
                    out.insert("type".into(), t.into());
                }
                None => {}
            },
            Some(Value::Array(types)) => {
                let mut kept: Vec<&str> = Vec::new();
                for t in types.iter().filter_map(Value::as_str).filter_map(normal_type) {
                    if t == "null" {
                        nullable = true;
                    } else if !kept.contains(&t) {
                        kept.push(t);
                    }
                }
                match kept.as_slice() {
                    [] => {}
                    [t] => {
                        out.insert("type".into(), (*t).into());
                    }
                    many => {
                        let any: Vec<Value> = many.iter().map(|t| json!({ "type": t })).collect();
                        out.insert("anyOf".into(), Value::Array(any));
                    }
                }
            }
            _ => {}
        }

        for key in ["title", "description"] {
            if let Some(Value::String(s)) = node.get(key) {
                out.insert(key.into(), s.clone().into());
            }
        }
        for key in ["minItems", "maxItems", "minimum", "maximum"] {
            if let Some(n @ Value::Number(_)) = node.get(key) {
                out.insert(key.into(), n.clone());
            }
        }

        // enum / const
        let values = match (node.get("enum"), node.get("const")) {
            (Some(Value::Array(values)), _) => Some(values.clone()),
            (None, Some(value)) => Some(vec![value.clone()]),
            _ => None,
        };
        if let Some(values) = values {
            if values.iter().any(Value::is_null) {
                nullable = true;
            }
            let strings: Vec<Value> = values.iter().filter(|v| !v.is_null()).cloned().collect();
            if !strings.is_empty() && strings.iter().all(Value::is_string) {
                out.insert("enum".into(), Value::Array(strings));
                out.entry("type").or_insert_with(|| "string".into());
            }
        }

        // properties / required / propertyOrdering
        if let Some(Value::Object(properties)) = node.get("properties") {
            let cleaned: Map<String, Value> =
                properties.iter().map(|(name, schema)| (name.clone(), self.clean(schema, depth + 1, refs))).collect();
            if !cleaned.is_empty() {
                out.insert("properties".into(), Value::Object(cleaned));
            }
        }
        if let Some(Value::Array(required)) = node.get("required") {
            set_required(&mut out, required.iter().filter_map(Value::as_str));
        }
        if let Some(Value::Array(order)) = node.get("propertyOrdering") {
            if order.iter().all(Value::is_string) {
                out.insert("propertyOrdering".into(), Value::Array(order.clone()));
            }
        }

        // items
        match node.get("items") {
            Some(items @ Value::Object(_)) => {
                out.insert("items".into(), self.clean(items, depth + 1, refs));
            }
            Some(Value::Array(tuple)) => {
                let (mut kept, _) = self.alternatives(tuple.iter(), depth, refs);
                match kept.len() {
                    0 => {}
                    1 => {
                        out.insert("items".into(), kept.remove(0));
                    }
                    _ => {
                        out.insert("items".into(), json!({ "anyOf": kept }));
                    }
                }
            }
            _ => {}
        }

        // anyOf / oneOf
        let members =
            ["anyOf", "oneOf"].into_iter().filter_map(|key| node.get(key).and_then(Value::as_array)).flatten();
        let (mut kept, had_null) = self.alternatives(members, depth, refs);
        nullable |= had_null;
        match kept.len() {
            0 => {}
            // One alternative left: it is the schema; the parent's own members win.
            1 => {
                if let Value::Object(single) = kept.remove(0) {
                    merge_missing(&mut out, single);
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(kept));
            }
        }

        // allOf: every member applies; merged in, the parent's own members winning.
        if let Some(Value::Array(members)) = node.get("allOf") {
            for member in members {
                if let Value::Object(member) = self.clean(member, depth + 1, refs) {
                    merge_missing(&mut out, member);
                }
            }
        }

        // format, now that the type is settled
        if let (Some(Value::String(format)), Some(Value::String(t))) = (node.get("format"), out.get("type")) {
            let allowed = match t.as_str() {
                "string" => ["date-time", "enum"].contains(&format.as_str()),
                "number" => ["float", "double"].contains(&format.as_str()),
                "integer" => ["int32", "int64"].contains(&format.as_str()),
                _ => false,
            };
            if allowed {
                out.insert("format".into(), format.clone().into());
            }
        }

        // `properties` and `items` only go with their type.
        if !out.contains_key("type") && !out.contains_key("anyOf") {
            if out.contains_key("properties") {
                out.insert("type".into(), "object".into());
            } else if out.contains_key("items") {
                out.insert("type".into(), "array".into());
            }
        }
        if nullable {
            out.insert("nullable".into(), true.into());
        }
        Value::Object(out)
    }

    /// Alternatives cleaned, `null` ones taken out; and whether there was a `null` one.
    fn alternatives<'v>(
        &self,
        members: impl Iterator<Item = &'v Value>,
        depth: usize,
        refs: usize,
    ) -> (Vec<Value>, bool) {
        let mut had_null = false;
        let mut kept = Vec::new();
        for member in members {
            if is_null_schema(member) {
                had_null = true;
            } else {
                kept.push(self.clean(member, depth + 1, refs));
            }
        }
        (kept, had_null)
    }
}

/// A JSON Schema or OpenAPI type name in JSON Schema's spelling; `None` if it is not one.
fn normal_type(t: &str) -> Option<&'static str> {
    let lower = t.to_ascii_lowercase();
    TYPES.iter().copied().chain(["null"]).find(|known| *known == lower)
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("null"))
        || schema.get("const").is_some_and(Value::is_null)
        || schema.get("enum").and_then(Value::as_array).is_some_and(|e| e.len() == 1 && e[0].is_null())
}

/// Sets `required` to the given names that are properties of `out` (dropped if none are).
fn set_required<'a>(out: &mut Map<String, Value>, names: impl Iterator<Item = &'a str>) {
    let properties = out.get("properties").and_then(Value::as_object);
    let mut kept: Vec<Value> = Vec::new();
    for name in names {
        if properties.is_some_and(|p| p.contains_key(name)) && !kept.iter().any(|k| k == name) {
            kept.push(name.into());
        }
    }
    if kept.is_empty() {
        out.remove("required");
    } else {
        out.insert("required".into(), Value::Array(kept));
    }
}

/// Merges a cleaned schema into `out`: properties and required are unions, other members are
/// added only where `out` has none.
fn merge_missing(out: &mut Map<String, Value>, from: Map<String, Value>) {
    let mut required: Vec<String> = Vec::new();
    for (key, value) in from {
        match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => {
                let into = out.entry("properties").or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(into) = into {
                    for (name, schema) in properties {
                        into.entry(name).or_insert(schema);
                    }
                }
            }
            ("required", Value::Array(names)) => {
                required.extend(names.into_iter().filter_map(|n| n.as_str().map(str::to_owned)));
            }
            (_, value) => {
                out.entry(key).or_insert(value);
            }
        }
    }
    if !required.is_empty() {
        let mut names: Vec<String> = out
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        names.extend(required);
        set_required(out, names.iter().map(String::as_str));
    }
}

/// A schema from a Gemini client (`parameters`, `responseSchema`) in JSON Schema's spelling:
/// type names lower-cased, `nullable: true` folded into the type (module docs).
pub fn from_openapi(schema: &Value) -> Value {
    let Value::Object(node) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in node {
        let value = match key.as_str() {
            "type" => match value {
                Value::String(t) => Value::String(normal_type(t).map_or_else(|| t.to_ascii_lowercase(), str::to_owned)),
                _ => value.clone(),
            },
            "properties" => match value {
                Value::Object(properties) => {
                    Value::Object(properties.iter().map(|(k, v)| (k.clone(), from_openapi(v))).collect())
                }
                _ => value.clone(),
            },
            "items" => from_openapi(value),
            "anyOf" | "oneOf" | "allOf" => match value {
                Value::Array(members) => Value::Array(members.iter().map(from_openapi).collect()),
                _ => value.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if out.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out.remove("nullable");
            out.insert("type".into(), json!([t, "null"]));
        }
    }
    Value::Object(out)
}
