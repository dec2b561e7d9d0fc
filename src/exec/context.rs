//! A VU's template context and rendering: every template was compiled when the plan
//! loaded; here it is only evaluated, found by its text.
//!
//! The context is two minijinja maps looked up in order: the VU's own values (`vu`,
//! `iteration`, `scenario`, what `as:` and `set:` stored), a live object, and
//! the run's values (`env`, `vars`, `secrets`, `stage`), converted once for the whole run.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::Value as Mj;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value};

use super::matcher::{CompiledMatcher, Rendered};
use super::step_error::StepError;
use crate::plan::template::{Shortcut, Template, TemplateSet, json_value};

pub struct Context {
    locals: Arc<Locals>,
    /// The VU's current row of each `data:` source, when its scenario reads any.
    rows: Option<Arc<Rows>>,
    /// The run's values.
    base: Mj,
    /// Whether the run's values hide the `uuid()` function.
    base_has_uuid: bool,
    /// Locals over base, made once: a template reads the locals as they are when it renders.
    merged: Mj,
}

/// The text of a captured message.
#[derive(Debug)]
pub enum MessageText {
    /// The message's JSON, as sent: its text is that JSON serialised again when read.
    OfJson,
    Owned(String),
    /// Shared with the frame it arrived in.
    Frame(tokio_tungstenite::tungstenite::Utf8Bytes),
}

/// A message stored by `as:`, as a template sees it: a JSON object's fields (and `text`,
/// unless the object has its own); a JSON array's items (`msg[4]`) and `text`, `json`; or
/// `{text, json}`.
#[derive(Debug)]
struct Captured {
    text: MessageText,
    json: Option<Value>,
}

impl Captured {
    fn text(&self) -> Mj {
        match &self.text {
            MessageText::OfJson => {
                Mj::from(self.json.as_ref().map(Value::to_string).unwrap_or_default())
            }
            MessageText::Owned(text) => Mj::from(text.as_str()),
            MessageText::Frame(text) => Mj::from(text.as_str()),
        }
    }
}

impl Object for Captured {
    /// A JSON array is a sequence (`msg[4]`, `msg | length`, `for x in msg`) that also has
    /// `text` and `json`; anything else is a map.
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match &self.json {
            Some(Value::Array(_)) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        if let Some(Value::Array(items)) = &self.json
            && let Some(index) = key.as_usize()
        {
            return items.get(index).map(json_value);
        }
        let key = key.as_str()?;
        match &self.json {
            Some(Value::Object(fields)) => match fields.get(key) {
                Some(value) => Some(json_value(value)),
                None => (key == "text").then(|| self.text()),
            },
            other => match key {
                "text" => Some(self.text()),
                "json" => Some(other.as_ref().map_or(Mj::from(()), json_value)),
                _ => None,
            },
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match &self.json {
            Some(Value::Object(fields)) => {
                let mut keys: Vec<Mj> = fields.keys().map(|k| Mj::from(k.as_str())).collect();
                if !fields.contains_key("text") {
                    keys.push(Mj::from("text"));
                }
                Enumerator::Values(keys)
            }
            Some(Value::Array(items)) => Enumerator::Seq(items.len()),
            _ => Enumerator::Str(&["text", "json"]),
        }
    }
}

/// A VU's own values, read by templates through minijinja's object interface, so storing
/// one (`as:`, `set:`, a new iteration) rebuilds nothing. The lock is the VU's alone.
#[derive(Debug, Default)]
struct Locals(Mutex<BTreeMap<String, Mj>>);

impl Locals {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Mj>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Object for Locals {
    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        key.as_str().and_then(|key| self.map().get(key).cloned())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.map().keys().map(|k| Mj::from(k.as_str())).collect())
    }
}

/// A VU's current rows, as templates read them (`data.users.token`): one per source of
/// the run, each a reference count on the shared table's row (`plan::data`).
#[derive(Debug)]
struct Rows {
    /// The sources' names, in plan order.
    names: Arc<[Mj]>,
    current: Mutex<Vec<Mj>>,
}

impl Object for Rows {
    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let index = self.names.iter().position(|name| name == key)?;
        let current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current
            .get(index)
            .filter(|row| !row.is_undefined())
            .cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names.to_vec())
    }
}

impl Context {
    /// Makes `data.NAME` readable, over the run's sources `names`; their rows are set by
    /// [`Context::rows`] before each iteration.
    pub fn with_data(&mut self, names: Arc<[Mj]>) {
        let rows = Arc::new(Rows {
            current: Mutex::new(vec![Mj::UNDEFINED; names.len()]),
            names,
        });
        self.locals
            .map()
            .insert("data".to_owned(), Mj::from_dyn_object(rows.clone()));
        self.rows = Some(rows);
    }

    /// The VU's current rows, by source (plan order), to be replaced for an iteration;
    /// `None` when its scenario reads no source.
    pub fn rows(&self) -> Option<std::sync::MutexGuard<'_, Vec<Mj>>> {
        let rows = self.rows.as_ref()?;
        Some(
            rows.current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    pub fn new(base: &Mj, vu: u64, scenario: &str) -> Self {
        let locals = Arc::new(Locals::default());
        {
            let mut map = locals.map();
            map.insert("vu".to_owned(), Mj::from(vu));
            map.insert("iteration".to_owned(), Mj::from(0));
            map.insert("scenario".to_owned(), Mj::from(scenario));
        }
        let merged =
            minijinja::value::merge_maps([Mj::from_dyn_object(locals.clone()), base.clone()]);
        let base_has_uuid = base
            .get_attr("uuid")
            .is_ok_and(|value| !value.is_undefined());
        Self {
            locals,
            rows: None,
            base: base.clone(),
            base_has_uuid,
            merged,
        }
    }

    fn merged(&mut self) -> &Mj {
        &self.merged
    }

    pub fn set(&mut self, name: &str, value: &Value) {
        self.locals.map().insert(name.to_owned(), json_value(value));
    }

    /// Stores a WebSocket message under `name`: a JSON object's fields plus `text`, or
    /// `{text, json}` for anything else. The message is kept as it is; a template converts
    /// only the fields it reads (most read one: `{{ ping.id }}`).
    pub fn set_message(&mut self, name: &str, text: MessageText, json: Option<Value>) {
        let value = Mj::from_object(Captured { text, json });
        self.locals.map().insert(name.to_owned(), value);
    }

    /// What the steps stored with `as:` and `set:` (not `vu`, `iteration`, `scenario`),
    /// as JSON: a `setup:` phase's values for every VU.
    pub fn stored(&self) -> Map<String, Value> {
        self.locals
            .map()
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "vu" | "iteration" | "scenario"))
            .map(|(name, value)| {
                (
                    name.clone(),
                    serde_json::to_value(value).unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    pub fn set_iteration(&mut self, iteration: u64) {
        if let Some(slot) = self.locals.map().get_mut("iteration") {
            *slot = Mj::from(iteration);
        }
    }

    /// The text rendered when it is a template, as it is otherwise.
    pub fn text<'t>(
        &mut self,
        templates: &'t TemplateSet,
        raw: &'t str,
    ) -> Result<Cow<'t, str>, StepError> {
        if !Template::is_dynamic(raw) {
            return Ok(Cow::Borrowed(raw));
        }
        let Some(compiled) = templates.get(raw) else {
            return Err(StepError::Uncompiled {
                template: raw.to_owned(),
            });
        };
        if let Some(text) = &compiled.constant {
            return Ok(Cow::Borrowed(text));
        }
        if let Some(text) = compiled
            .shortcut
            .as_ref()
            .and_then(|shortcut| self.shortcut(shortcut))
        {
            return Ok(Cow::Owned(text));
        }
        templates
            .render_compiled(compiled, self.merged())
            .map(Cow::Owned)
            .map_err(|error| StepError::Template {
                template: raw.to_owned(),
                reason: self.reason(raw, &error),
            })
    }

    /// Whether the `if:` expression `expression` holds now (it was compiled when the plan
    /// loaded, [`TemplateSet::add_condition`]). An error is a template error, named by the
    /// condition: `if: r.json.ok`.
    pub fn condition(
        &mut self,
        templates: &TemplateSet,
        expression: &str,
    ) -> Result<bool, StepError> {
        let Some(compiled) = templates.condition(expression) else {
            return Err(StepError::Uncompiled {
                template: format!("if: {expression}"),
            });
        };
        if let Some(text) = &compiled.constant {
            return Ok(text == "1");
        }
        let rendered = templates.render_compiled(compiled, self.merged());
        rendered
            .map(|text| text == "1")
            .map_err(|error| StepError::Template {
                template: format!("if: {expression}"),
                reason: self.reason(&format!("{{{{ {expression} }}}}"), &error),
            })
    }

    /// Why a template failed: the first path in it that finds nothing, named
    /// (`explain.rs`), or minijinja's own words.
    fn reason(&self, raw: &str, error: &minijinja::Error) -> String {
        let merged = &self.merged;
        let lookup = |name: &str| merged.get_attr(name).ok();
        super::explain::explain(raw, &lookup).unwrap_or_else(|| match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        })
    }

    /// A [`Shortcut`]'s rendering, or `None` when minijinja must render it (the value is
    /// missing or not a string, or a variable named `uuid` hides the function).
    fn shortcut(&self, shortcut: &Shortcut) -> Option<String> {
        match shortcut {
            Shortcut::Uuid => (!self.locals.map().contains_key("uuid") && !self.base_has_uuid)
                .then(crate::plan::template::uuid_v4),
            Shortcut::Path(path) => {
                let (first, rest) = path.split_first()?;
                // The run's values win over the VU's (as in minijinja's merged maps); a
                // name the run does not have is the VU's.
                let mut value = match self.base.get_attr(first) {
                    Ok(value) if !value.is_undefined() => value,
                    _ => self.locals.map().get(first.as_str())?.clone(),
                };
                for segment in rest {
                    value = value.get_attr(segment).ok()?;
                    if value.is_undefined() {
                        return None;
                    }
                }
                value.as_str().map(str::to_owned)
            }
        }
    }

    /// The text rendered, as an owned string.
    pub fn string(&mut self, templates: &TemplateSet, raw: &str) -> Result<String, StepError> {
        self.text(templates, raw).map(Cow::into_owned)
    }

    /// A matcher with its template strings rendered, for one wait.
    pub fn render_matcher<'m>(
        &mut self,
        templates: &TemplateSet,
        matcher: &'m CompiledMatcher,
    ) -> Result<Rendered<'m>, StepError> {
        matcher.render(&mut |text| {
            if Template::is_dynamic(text) {
                self.text(templates, text).map(|t| Some(t.into_owned()))
            } else {
                Ok(None)
            }
        })
    }

    /// A JSON value with every template string in it rendered. Recursive, and bounded: a
    /// plan value is at most `plan::yaml::MAX_DEPTH` (128) levels deep, checked at load.
    pub fn json(&mut self, templates: &TemplateSet, value: &Value) -> Result<Value, StepError> {
        Ok(match value {
            Value::String(text) => Value::String(self.text(templates, text)?.into_owned()),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.json(templates, item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (key, item) in map {
                    out.insert(key.clone(), self.json(templates, item)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set_of(sources: &[&str]) -> TemplateSet {
        let mut set = TemplateSet::new();
        for (i, source) in sources.iter().enumerate() {
            set.add(&format!("/t{i}"), source).unwrap();
        }
        set
    }

    #[test]
    fn shortcuts_are_recognised_only_for_single_simple_expressions() {
        use crate::plan::template::Shortcut;
        let set = set_of(&[
            "{{ uuid() }}",
            "{{ ping.id }}",
            "{{ ping.id }}-x",
            "{{ ping.id | upper }}",
            "{{ true }}",
            "{{ a }}{{ b }}",
        ]);
        let shortcut = |source: &str| set.get(source).unwrap().shortcut.clone();
        assert_eq!(shortcut("{{ uuid() }}"), Some(Shortcut::Uuid));
        assert_eq!(
            shortcut("{{ ping.id }}"),
            Some(Shortcut::Path(vec!["ping".into(), "id".into()]))
        );
        for source in [
            "{{ ping.id }}-x",
            "{{ ping.id | upper }}",
            "{{ true }}",
            "{{ a }}{{ b }}",
        ] {
            assert_eq!(shortcut(source), None, "{source}");
        }
    }

    #[test]
    fn shortcuts_render_as_minijinja_does() {
        let set = set_of(&[
            "{{ ping.id }}",
            "{{ ping.n }}",
            "{{ ping.gone }}",
            "{{ uuid() }}",
        ]);
        let base = Mj::from(minijinja::value::Serde(json!({"env": {}})));
        let mut context = Context::new(&base, 3, "s");
        context.set("ping", &json!({"id": "abc", "n": 1.5}));
        assert_eq!(context.text(&set, "{{ ping.id }}").unwrap(), "abc");
        // Not a string: minijinja renders it.
        assert_eq!(context.text(&set, "{{ ping.n }}").unwrap(), "1.5");
        // Missing: minijinja's strict-undefined error, not an empty string.
        assert!(context.text(&set, "{{ ping.gone }}").is_err());
        // A new value is seen by the next rendering.
        context.set("ping", &json!({"id": "def"}));
        assert_eq!(context.text(&set, "{{ ping.id }}").unwrap(), "def");
        let id = context.text(&set, "{{ uuid() }}").unwrap().into_owned();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(id, context.text(&set, "{{ uuid() }}").unwrap());
    }

    #[test]
    fn captured_messages_show_their_fields_text_and_json() {
        let set = set_of(&[
            "{{ m.id }}",
            "{{ m.text }}",
            "{{ m.n + 1 }}",
            "{{ t.text }}",
            "{{ t.json }}",
            "{{ j.json[1] }}",
            "{{ m | length }}",
        ]);
        let base = Mj::from(minijinja::value::Serde(json!({"env": {}})));
        let mut context = Context::new(&base, 1, "s");
        let sent = json!({"id": "x1", "n": 41});
        context.set_message("m", MessageText::OfJson, Some(sent.clone()));
        context.set_message("t", MessageText::Owned("plain".into()), None);
        context.set_message(
            "j",
            MessageText::Owned("[1, 2]".into()),
            Some(json!([1, 2])),
        );
        assert_eq!(context.text(&set, "{{ m.id }}").unwrap(), "x1");
        assert_eq!(
            context.text(&set, "{{ m.text }}").unwrap(),
            sent.to_string()
        );
        assert_eq!(context.text(&set, "{{ m.n + 1 }}").unwrap(), "42");
        assert_eq!(context.text(&set, "{{ m | length }}").unwrap(), "3");
        assert_eq!(context.text(&set, "{{ t.text }}").unwrap(), "plain");
        assert_eq!(context.text(&set, "{{ t.json }}").unwrap(), "None");
        assert_eq!(context.text(&set, "{{ j.json[1] }}").unwrap(), "2");
    }

    #[test]
    fn array_frames_are_sequences_with_text_and_json() {
        let set = set_of(&[
            "{{ f[4].client_ref }}",
            "{{ f[-1].client_ref }}",
            "{{ f | length }}",
            "{% for x in f %}{{ x is none }},{% endfor %}",
            "{{ f.text }}",
            "{{ f.json[2] }}",
            "{{ f[7].client_ref }}",
            "{{ f[4].nope }}",
        ]);
        let base = Mj::from(minijinja::value::Serde(json!({"env": {}})));
        let mut context = Context::new(&base, 1, "s");
        let text = r#"[null,"1","room:a","message",{"client_ref":"c1"}]"#;
        context.set_message(
            "f",
            MessageText::Owned(text.into()),
            Some(serde_json::from_str(text).unwrap()),
        );
        assert_eq!(context.text(&set, "{{ f[4].client_ref }}").unwrap(), "c1");
        assert_eq!(context.text(&set, "{{ f[-1].client_ref }}").unwrap(), "c1");
        assert_eq!(context.text(&set, "{{ f | length }}").unwrap(), "5");
        assert_eq!(
            context
                .text(&set, "{% for x in f %}{{ x is none }},{% endfor %}")
                .unwrap(),
            "True,False,False,False,False,"
        );
        assert_eq!(context.text(&set, "{{ f.text }}").unwrap(), text);
        assert_eq!(context.text(&set, "{{ f.json[2] }}").unwrap(), "room:a");
        let mut reason = |source: &str| match context_error(&mut context, &set, source) {
            StepError::Template { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason("{{ f[7].client_ref }}"),
            "`f[7]`: index 7 out of range for an array of 5"
        );
        assert_eq!(
            reason("{{ f[4].nope }}"),
            "`f[4].nope`: no field `nope` (fields: client_ref)"
        );
    }

    fn context_error(context: &mut Context, set: &TemplateSet, source: &str) -> StepError {
        context.text(set, source).expect_err("the template fails")
    }
}
