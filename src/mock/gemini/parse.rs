//! Proto-JSON parsing as Google's parser does it: field lookup by lowerCamelCase or snake_case
//! name, and the walk that rejects unknown fields and wrongly typed values with a `BadRequest`.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::spec::Kind::{Many, Msg, MsgMap, Msgs, One};
use super::spec::Scalar::{self, Any, Bool, Bytes as B64, Double, Float, Int32, Int64, Str, Struct};
use super::spec::{Kind, Spec};

const V1BETA: &str = "type.googleapis.com/google.ai.generativelanguage.v1beta";

/// `fooBar` → `foo_bar`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// A field by its lowerCamelCase name, also found by its snake_case name; `null` is unset.
pub(super) fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.get(&snake(name))).filter(|v| !v.is_null())
}

pub(super) fn get_in<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object().and_then(|object| get(object, name))
}

pub(super) fn list_in(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

pub(super) fn number(value: Option<&Value>) -> Option<f64> {
    let value = value?;
    value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn base64_ok(text: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD.decode(trimmed).is_ok() || URL_SAFE_NO_PAD.decode(trimmed).is_ok()
}

/// Whether a part field counts as set (an empty `text` does not).
pub(super) fn is_set(value: &Value) -> bool {
    !value.is_null() && value.as_str() != Some("")
}

/// Parse-time violations: (field path, description).
#[derive(Debug, Default)]
struct Walk {
    violations: Vec<(String, String)>,
}

impl Walk {
    fn fail(&mut self, field: &str, description: String) {
        self.violations.push((field.to_owned(), description));
    }

    fn at(path: &str) -> String {
        if path.is_empty() { String::new() } else { format!(" at '{path}'") }
    }

    fn unknown(&mut self, name: &str, path: &str) {
        self.fail(
            path,
            format!("Invalid JSON payload received. Unknown name \"{name}\"{}: Cannot find field.", Self::at(path)),
        );
    }

    fn not_repeating(&mut self, name: &str, path: &str) {
        self.fail(
            path,
            format!(
                "Invalid JSON payload received. Unknown name \"{name}\"{}: Proto field is not repeating, cannot start list.",
                Self::at(path)
            ),
        );
    }

    fn invalid(&mut self, path: &str, type_name: &str, value: &Value) {
        self.fail(path, format!("Invalid value at '{path}' ({type_name}), {value}"));
    }

    fn scalar(&mut self, value: &Value, path: &str, kind: Scalar) {
        let number = |v: &Value| v.is_number() || v.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok());
        let integer = |v: &Value| {
            v.is_i64()
                || v.is_u64()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
                || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok())
        };
        let (ok, type_name) = match kind {
            Any => (true, String::new()),
            Str => (value.is_string(), "TYPE_STRING".to_owned()),
            Bool => (value.is_boolean(), "TYPE_BOOL".to_owned()),
            Int32 => (integer(value), "TYPE_INT32".to_owned()),
            Int64 => (integer(value), "TYPE_INT64".to_owned()),
            Float => (number(value), "TYPE_FLOAT".to_owned()),
            Double => (number(value), "TYPE_DOUBLE".to_owned()),
            Struct => (value.is_object(), "type.googleapis.com/google.protobuf.Struct".to_owned()),
            B64 => match value.as_str() {
                Some(text) if base64_ok(text) => (true, String::new()),
                Some(text) => {
                    self.fail(
                        path,
                        format!("Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{text}\""),
                    );
                    return;
                }
                None => (false, "TYPE_BYTES".to_owned()),
            },
            Scalar::Enum(e) => {
                let ok = match value {
                    Value::String(s) => e.values.iter().any(|v| v.eq_ignore_ascii_case(s)),
                    Value::Number(n) => n.as_u64().is_some_and(|i| (i as usize) < e.values.len()),
                    _ => false,
                };
                (ok, format!("{V1BETA}.{}", e.name))
            }
        };
        if !ok && !value.is_null() {
            self.invalid(path, &type_name, value);
        }
    }

    fn field(&mut self, key: &str, value: &Value, parent: &str, kind: Kind) {
        let path = join(parent, &snake(key));
        match kind {
            One(_) | Msg(_) if value.is_array() => self.not_repeating(key, parent),
            One(scalar) => self.scalar(value, &path, scalar),
            Msg(spec) => self.message(value, &path, spec),
            Many(scalar) => match value {
                Value::Null => {}
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.scalar(item, &format!("{path}[{i}]"), scalar);
                    }
                }
                other => self.scalar(other, &path, scalar),
            },
            Msgs(spec) => match value {
                Value::Null => {}
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.message(item, &format!("{path}[{i}]"), spec);
                    }
                }
                other => self.invalid(&path, &format!("{V1BETA}.{}", spec.name), other),
            },
            MsgMap(spec) => match value {
                Value::Null => {}
                Value::Object(entries) => {
                    for (i, entry) in entries.values().enumerate() {
                        self.message(entry, &format!("{path}[{i}].value"), spec);
                    }
                }
                other => self.invalid(&path, &format!("{V1BETA}.{}", spec.name), other),
            },
        }
    }

    fn message(&mut self, value: &Value, path: &str, spec: &'static Spec) {
        let object = match value {
            Value::Null => return,
            Value::Object(object) => object,
            other => return self.invalid(path, &format!("{V1BETA}.{}", spec.name), other),
        };
        let mut oneof_set: Option<&str> = None;
        for (key, value) in object {
            let Some((name, kind)) = spec.fields.iter().find(|(name, _)| key == name || *key == snake(name)) else {
                self.unknown(key, path);
                continue;
            };
            if spec.oneof.contains(name) && is_set(value) {
                match oneof_set {
                    Some(first) => self.fail(
                        path,
                        format!(
                            "Invalid JSON payload received. Oneof field 'data' is already set{}. Cannot set '{}' \
                             (already set: '{}').",
                            Self::at(path),
                            snake(name),
                            snake(first)
                        ),
                    ),
                    None => oneof_set = Some(name),
                }
            }
            self.field(key, value, path, *kind);
        }
    }
}

/// Parses `request` as `spec`; the 400 listing every violation.
pub(super) fn parse_as(request: &Map<String, Value>, spec: &'static Spec) -> Result<(), ApiError> {
    let mut walk = Walk::default();
    walk.message(&Value::Object(request.clone()), "", spec);
    if walk.violations.is_empty() {
        return Ok(());
    }
    let message = walk.violations.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>().join("\n");
    let violations: Vec<Value> = walk
        .violations
        .iter()
        .map(|(field, description)| {
            if field.is_empty() {
                json!({ "description": description })
            } else {
                json!({ "field": field, "description": description })
            }
        })
        .collect();
    Err(ApiError::invalid(message).with_details(vec![
        json!({ "@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations }),
    ]))
}
