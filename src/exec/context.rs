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
use minijinja::value::{Enumerator, Object};
use serde_json::{Map, Value};

use crate::plan::template::{Template, TemplateSet};

pub struct Context {
    locals: Arc<Locals>,
    /// Locals over base, made once: a template reads the locals as they are when it renders.
    merged: Mj,
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

impl Context {
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
        Self { locals, merged }
    }

    fn merged(&mut self) -> &Mj {
        &self.merged
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.locals
            .map()
            .insert(name.to_owned(), Mj::from(minijinja::value::Serde(value)));
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
