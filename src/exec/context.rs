//! A VU's template context and rendering: every template was compiled when the plan
//! loaded, under the JSON pointer of where it was written; here it is only evaluated.

use serde_json::{Map, Value};

use crate::plan::analyze::pointer;
use crate::plan::template::{Template, TemplateSet};
use crate::plan::yaml::Segment;

/// The values a VU's templates see: `env`, `vars`, `secrets`, `vu`, `iteration`,
/// `scenario`, `stage`, and what `as:` and `set:` stored.
pub struct Context {
    pub values: Value,
}

impl Context {
    pub fn new(base: &Map<String, Value>, vu: u64, scenario: &str) -> Self {
        let mut values = base.clone();
        values.insert("vu".into(), vu.into());
        values.insert("iteration".into(), 0.into());
        values.insert("scenario".into(), scenario.into());
        Self {
            values: Value::Object(values),
        }
    }

    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(map) = &mut self.values {
            map.insert(name.to_owned(), value);
        }
    }

    /// The text at `path`: rendered when it is a template, as it is otherwise.
    pub fn text(
        &self,
        templates: &TemplateSet,
        path: &[Segment],
        raw: &str,
    ) -> Result<String, String> {
        if !Template::is_dynamic(raw) {
            return Ok(raw.to_owned());
        }
        templates
            .render(&pointer(path), &self.values)
            .map_err(|error| {
                format!(
                    "template at {}: {}",
                    pointer(path),
                    error.detail().unwrap_or("cannot render")
                )
            })
    }

    /// A JSON value with every template string in it rendered.
    pub fn json(
        &self,
        templates: &TemplateSet,
        path: &[Segment],
        value: &Value,
    ) -> Result<Value, String> {
        Ok(match value {
            Value::String(text) => Value::String(self.text(templates, path, text)?),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let mut child = path.to_vec();
                    child.push(Segment::Index(index));
                    out.push(self.json(templates, &child, item)?);
                }
                Value::Array(out)
            }
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (key, item) in map {
                    let mut child = path.to_vec();
                    child.push(Segment::Key(key.clone()));
                    out.insert(key.clone(), self.json(templates, &child, item)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}
