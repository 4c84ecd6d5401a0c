use serde_json::json;

use super::*;

/// Every member name used anywhere in a cleaned schema (property names excluded).
fn members(schema: &Value, out: &mut Vec<String>) {
    if let Value::Object(map) = schema {
        for (key, value) in map {
            out.push(key.clone());
            match key.as_str() {
                "properties" => value.as_object().unwrap().values().for_each(|v| members(v, out)),
                "items" => members(value, out),
                "anyOf" => value.as_array().unwrap().iter().for_each(|v| members(v, out)),
                _ => {}
            }
        }
    }
}

#[test]
fn a_pydantic_style_schema_comes_out_clean() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:x",
        "title": "Order",
        "type": "object",
        "additionalProperties": false,
        "propertyNames": { "pattern": "^[a-z]+$" },
        "strict": true,
        "examples": [{ "id": 1 }],
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {
                    "sku": { "type": "string", "pattern": "^[A-Z]+$", "minLength": 1 },
                    "qty": { "type": "integer", "minimum": 1, "default": 1, "exclusiveMaximum": 100 },
                },
                "required": ["sku", "qty", "ghost"],
                "additionalProperties": false,
            },
            "Kind": { "type": "string", "enum": ["a", "b"] },
        },
        "properties": {
            "id": { "type": "integer", "format": "int64" },
            "kind": { "$ref": "#/$defs/Kind", "description": "The kind" },
            "items": { "type": "array", "items": { "$ref": "#/$defs/Item" }, "minItems": 1, "uniqueItems": true },
            "note": { "anyOf": [{ "type": "string" }, { "type": "null" }], "default": null },
            "version": { "const": "v1" },
            "flag": { "type": ["boolean", "null"] },
            "url": { "type": "string", "format": "uri" },
            "when": { "type": "string", "format": "date-time" },
            "meta": { "type": "object", "additionalProperties": { "type": "string" } },
            "level": { "type": "integer", "enum": [1, 2, 3] },
        },
        "required": ["id", "items"],
    });
    let cleaned = to_gemini(&schema);
    assert_eq!(
        cleaned,
        json!({
            "title": "Order",
            "type": "object",
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "kind": { "type": "string", "enum": ["a", "b"], "description": "The kind" },
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": { "sku": { "type": "string" }, "qty": { "type": "integer", "minimum": 1 } },
                        "required": ["sku", "qty"],
                    },
                },
                "note": { "type": "string", "nullable": true },
                "version": { "type": "string", "enum": ["v1"] },
                "flag": { "type": "boolean", "nullable": true },
                "url": { "type": "string" },
                "when": { "type": "string", "format": "date-time" },
                "meta": { "type": "object" },
                "level": { "type": "integer" },
            },
            "required": ["id", "items"],
        })
    );
    let mut names = Vec::new();
    members(&cleaned, &mut names);
    for name in names {
        assert!(KEEP.contains(&name.as_str()), "{name} is not a Gemini Schema member");
    }
}

#[test]
fn rewrite_table() {
    let cases = [
        // Several types → anyOf; null folds into nullable.
        (
            json!({ "type": ["string", "integer", "null"] }),
            json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }], "nullable": true }),
        ),
        (json!({ "type": "null" }), json!({ "nullable": true })),
        (json!({ "type": "STRING" }), json!({ "type": "string" })),
        (json!({ "type": "date" }), json!({})),
        // oneOf is anyOf; a single remaining alternative replaces it, the parent's members winning.
        (
            json!({ "description": "d", "oneOf": [{ "type": "string", "description": "inner" }, { "type": "number", "format": "double" }] }),
            json!({ "description": "d", "anyOf": [{ "type": "string", "description": "inner" }, { "type": "number", "format": "double" }] }),
        ),
        (
            json!({ "description": "d", "anyOf": [{ "const": null }, { "type": "string", "description": "inner" }] }),
            json!({ "description": "d", "type": "string", "nullable": true }),
        ),
        // allOf merges its members.
        (
            json!({ "allOf": [
                { "type": "object", "properties": { "a": { "type": "string" } }, "required": ["a"] },
                { "properties": { "b": { "type": "number" } }, "required": ["b"] },
            ] }),
            json!({ "type": "object", "properties": { "a": { "type": "string" }, "b": { "type": "number" } }, "required": ["a", "b"] }),
        ),
        // const and enum: strings only; null means nullable.
        (json!({ "const": 3 }), json!({})),
        (json!({ "enum": ["a", null] }), json!({ "type": "string", "enum": ["a"], "nullable": true })),
        (json!({ "type": "number", "enum": [1.5, "x"] }), json!({ "type": "number" })),
        // Formats only where the API takes them.
        (json!({ "type": "number", "format": "float" }), json!({ "type": "number", "format": "float" })),
        (json!({ "type": "integer", "format": "int32" }), json!({ "type": "integer", "format": "int32" })),
        (json!({ "type": "integer", "format": "uint8" }), json!({ "type": "integer" })),
        (json!({ "format": "date-time" }), json!({})),
        // Empty properties go; required only names properties.
        (json!({ "type": "object", "properties": {}, "required": ["x"] }), json!({ "type": "object" })),
        // Tuple items become alternatives.
        (
            json!({ "type": "array", "items": [{ "type": "string" }, { "type": "integer" }] }),
            json!({ "type": "array", "items": { "anyOf": [{ "type": "string" }, { "type": "integer" }] } }),
        ),
        (
            json!({ "type": "array", "items": [{ "type": "string" }] }),
            json!({ "type": "array", "items": { "type": "string" } }),
        ),
        (
            json!({ "propertyOrdering": ["b", "a"], "maxItems": 3, "maximum": 2.5 }),
            json!({ "propertyOrdering": ["b", "a"], "maxItems": 3, "maximum": 2.5 }),
        ),
        // properties and items bring their type.
        (
            json!({ "properties": { "a": { "type": "string" } } }),
            json!({ "type": "object", "properties": { "a": { "type": "string" } } }),
        ),
        (json!({ "items": { "type": "string" } }), json!({ "type": "array", "items": { "type": "string" } })),
        (json!(true), json!({})),
        (json!({ "$ref": "https://example.com/schema.json" }), json!({ "type": "object" })),
        (json!({ "$ref": "#/definitions/missing" }), json!({ "type": "object" })),
    ];
    for (schema, expected) in cases {
        assert_eq!(to_gemini(&schema), expected, "{schema}");
    }
}

#[test]
fn recursive_refs_are_bounded() {
    let schema = json!({
        "$ref": "#/definitions/Node",
        "definitions": {
            "Node": {
                "type": "object",
                "properties": { "value": { "type": "string" }, "children": { "type": "array", "items": { "$ref": "#/definitions/Node" } } },
            },
        },
    });
    let cleaned = to_gemini(&schema);
    // Follow `children.items` down to where expansion stopped.
    let mut node = &cleaned;
    let mut levels = 0;
    while let Some(next) = node.pointer("/properties/children/items") {
        node = next;
        levels += 1;
    }
    // The root ref is the first expansion; the last `items` is where the budget ran out.
    assert_eq!(levels, MAX_REF_DEPTH);
    assert_eq!(node, &json!({ "type": "object" }));

    // A self-reference through the root.
    let root = json!({ "type": "object", "properties": { "me": { "$ref": "#" } } });
    assert!(to_gemini(&root).to_string().len() < 2000);

    // Deep nesting without refs stops too.
    let mut deep = json!({ "type": "string" });
    for _ in 0..100 {
        deep = json!({ "type": "array", "items": deep });
    }
    let cleaned = to_gemini(&deep);
    assert_eq!(cleaned.pointer(&"/items".repeat(MAX_DEPTH + 1)), Some(&json!({ "type": "object" })));
}

#[test]
fn from_openapi_lower_cases_types_and_folds_nullable() {
    let schema = json!({
        "type": "OBJECT",
        "properties": {
            "type": { "type": "STRING", "nullable": true, "description": "a property named type" },
            "tags": { "type": "ARRAY", "items": { "type": "STRING", "format": "enum", "enum": ["a"] } },
            "either": { "anyOf": [{ "type": "INTEGER" }, { "type": "BOOLEAN" }] },
        },
        "required": ["type"],
        "propertyOrdering": ["type", "tags"],
    });
    assert_eq!(
        from_openapi(&schema),
        json!({
            "type": "object",
            "properties": {
                "type": { "type": ["string", "null"], "description": "a property named type" },
                "tags": { "type": "array", "items": { "type": "string", "format": "enum", "enum": ["a"] } },
                "either": { "anyOf": [{ "type": "integer" }, { "type": "boolean" }] },
            },
            "required": ["type"],
            "propertyOrdering": ["type", "tags"],
        })
    );
    // And back: Gemini reads what it wrote.
    assert_eq!(
        to_gemini(&from_openapi(&schema))["properties"]["type"],
        json!({ "type": "string", "nullable": true, "description": "a property named type" })
    );
}
