//! Request shapes from the application's own OpenAPI 3 document (JSON):
//! an `[[op]]` that names an `operation` (its `operationId`) takes its
//! method, path and fields from it. Path and query parameters and the
//! properties of a JSON or form request body become fields: a string is
//! free text, an `enum` is `one_of`, an integer is `int` over its
//! `minimum`..`maximum` (0..=1000 when unbounded), a `default` or single
//! enum value is `fixed`. The spec's own `[op.fields]` win over the
//! document's (a key field is always the spec's: only it knows the
//! fixture), and the policy is always the spec's.

use serde_json::Value;

/// What one operation of the document says about its request.
#[derive(Debug)]
pub struct Shape {
    pub method: String,
    pub path: String,
    /// `form` or `json` when it has a body, else none.
    pub body: Option<&'static str>,
    /// Field kinds, as a spec writes them.
    pub fields: Vec<(String, toml::Value)>,
}

/// Follows a local `$ref` (`#/components/...`), a few levels at most.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..8 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return Ok(v);
        };
        let pointer = r
            .strip_prefix('#')
            .ok_or_else(|| format!("$ref `{r}`: only references inside the document are read"))?;
        v = doc
            .pointer(pointer)
            .ok_or_else(|| format!("$ref `{r}` points at nothing"))?;
    }
    Err("$ref chain longer than 8".into())
}

/// The field kind a schema says.
fn kind(doc: &Value, schema: &Value) -> Result<toml::Value, String> {
    let s = resolve(doc, schema)?;
    let table = |k: &str, v: toml::Value| {
        let mut t = toml::Table::new();
        t.insert(k.into(), v);
        toml::Value::Table(t)
    };
    let to_toml = |v: &Value| -> Option<toml::Value> {
        match v {
            Value::String(s) => Some(toml::Value::String(s.clone())),
            Value::Number(n) => n
                .as_i64()
                .map(toml::Value::Integer)
                .or_else(|| n.as_f64().map(toml::Value::Float)),
            Value::Bool(b) => Some(toml::Value::Boolean(*b)),
            _ => None,
        }
    };
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let values: Vec<toml::Value> = values.iter().filter_map(to_toml).collect();
        return Ok(match values.as_slice() {
            [] => toml::Value::String("text".into()),
            [one] => table("fixed", one.clone()),
            _ => table("one_of", toml::Value::Array(values)),
        });
    }
    match s.get("type").and_then(Value::as_str) {
        Some("integer") => {
            let lo = s.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            let hi = s
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(lo.saturating_add(1000));
            Ok(table(
                "int",
                toml::Value::Array(vec![
                    toml::Value::Integer(lo),
                    toml::Value::Integer(hi.max(lo)),
                ]),
            ))
        }
        Some("boolean") => Ok(table(
            "one_of",
            toml::Value::Array(vec![
                toml::Value::Boolean(true),
                toml::Value::Boolean(false),
            ]),
        )),
        _ => match s.get("default").and_then(to_toml) {
            Some(d) if s.get("type").and_then(Value::as_str) != Some("string") => {
                Ok(table("fixed", d))
            }
            _ => Ok(toml::Value::String("text".into())),
        },
    }
}

/// The shape of operation `id` in `doc`.
pub fn shape(doc: &Value, id: &str) -> Result<Shape, String> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the OpenAPI document has no `paths`")?;
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        let shared = item.get("parameters").and_then(Value::as_array);
        for (method, op) in item {
            if op.get("operationId").and_then(Value::as_str) != Some(id) {
                continue;
            }
            let mut fields = Vec::new();
            let own = op.get("parameters").and_then(Value::as_array);
            for p in shared.into_iter().chain(own).flatten() {
                let p = resolve(doc, p)?;
                let (Some(name), Some(place)) = (
                    p.get("name").and_then(Value::as_str),
                    p.get("in").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if place != "path" && place != "query" {
                    continue;
                }
                let schema = p.get("schema").cloned().unwrap_or(Value::Null);
                fields.push((name.to_string(), kind(doc, &schema)?));
            }
            let mut body = None;
            if let Some(b) = op.get("requestBody") {
                let content = resolve(doc, b)?.get("content").and_then(Value::as_object);
                let chosen = content.and_then(|c| {
                    c.get("application/json").map(|m| ("json", m)).or_else(|| {
                        c.get("application/x-www-form-urlencoded")
                            .map(|m| ("form", m))
                    })
                });
                if let Some((kind_of_body, media)) = chosen {
                    body = Some(kind_of_body);
                    let schema = resolve(doc, media.get("schema").unwrap_or(&Value::Null))?;
                    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                        for (name, s) in props {
                            fields.push((name.clone(), kind(doc, s)?));
                        }
                    }
                }
            }
            return Ok(Shape {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                body,
                fields,
            });
        }
    }
    Err(format!("no operationId `{id}` in the OpenAPI document"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_body_properties_become_fields() {
        let doc: Value = serde_json::json!({
            "paths": {"/loans/{id}/renew": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "post": {
                    "operationId": "renewLoan",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Renew"}}}}
                }
            }},
            "components": {
                "parameters": {"Id": {"name": "id", "in": "path", "schema": {"type": "integer", "minimum": 1, "maximum": 9}}},
                "schemas": {"Renew": {"properties": {
                    "comment": {"type": "string"},
                    "channel": {"enum": ["desk", "web"]},
                    "days": {"type": "integer"}
                }}}
            }
        });
        let s = shape(&doc, "renewLoan").unwrap();
        assert_eq!(
            (s.method.as_str(), s.path.as_str(), s.body),
            ("POST", "/loans/{id}/renew", Some("json"))
        );
        let names: Vec<&str> = s.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "comment", "channel", "days"]);
        assert_eq!(s.fields[1].1, toml::Value::String("text".into()));
        assert!(shape(&doc, "nope").unwrap_err().contains("nope"));
    }
}
