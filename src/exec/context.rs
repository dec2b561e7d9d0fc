//! A VU's template context and rendering: every template was compiled when the plan
//! loaded; here it is only evaluated, found by its text.
//!
//! The context is two minijinja maps looked up in order: the VU's own values (`vu`,
//! `iteration`, `scenario`, what `as:` and `set:` stored), rebuilt when one changes, and
//! the run's values (`env`, `vars`, `secrets`, `stage`), converted once for the whole run.

use std::borrow::Cow;
use std::collections::BTreeMap;

use minijinja::Value as Mj;
use serde_json::{Map, Value};

use crate::plan::template::{Template, TemplateSet};

pub struct Context {
    base: Mj,
    locals: BTreeMap<String, Mj>,
    /// Locals over base; rebuilt only when a template needs it after a local changed.
    merged: Mj,
    stale: bool,
}

impl Context {
    pub fn new(base: &Mj, vu: u64, scenario: &str) -> Self {
        let mut locals = BTreeMap::new();
        locals.insert("vu".to_owned(), Mj::from(vu));
        locals.insert("iteration".to_owned(), Mj::from(0));
        locals.insert("scenario".to_owned(), Mj::from(scenario));
        let mut context = Self {
            base: base.clone(),
            locals,
            merged: Mj::UNDEFINED,
            stale: true,
        };
        context.merged();
        context
    }

    fn merged(&mut self) -> &Mj {
        if self.stale {
            let locals = Mj::from(self.locals.clone());
            self.merged = minijinja::value::merge_maps([locals, self.base.clone()]);
            self.stale = false;
        }
        &self.merged
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.locals
            .insert(name.to_owned(), Mj::from(minijinja::value::Serde(value)));
        self.stale = true;
    }

    pub fn set_iteration(&mut self, iteration: u64) {
        if let Some(slot) = self.locals.get_mut("iteration") {
            *slot = Mj::from(iteration);
        }
        self.stale = true;
    }

    /// The text rendered when it is a template, as it is otherwise.
    pub fn text<'t>(
        &mut self,
        templates: &'t TemplateSet,
        raw: &'t str,
    ) -> Result<Cow<'t, str>, String> {
        if !Template::is_dynamic(raw) {
            return Ok(Cow::Borrowed(raw));
        }
        if let Some(text) = templates.constant(raw) {
            return Ok(Cow::Borrowed(text));
        }
        match templates.render_source(raw, self.merged()) {
            Some(Ok(text)) => Ok(Cow::Owned(text)),
            Some(Err(error)) => Err(format!(
                "template `{raw}`: {}",
                error.detail().unwrap_or("cannot render")
            )),
            None => Err(format!(
                "template `{raw}` was not compiled; this is a bug in loadplan"
            )),
        }
    }

    /// The text rendered, as an owned string.
    pub fn string(&mut self, templates: &TemplateSet, raw: &str) -> Result<String, String> {
        self.text(templates, raw).map(Cow::into_owned)
    }

    /// A JSON value with every template string in it rendered.
    pub fn json(&mut self, templates: &TemplateSet, value: &Value) -> Result<Value, String> {
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
