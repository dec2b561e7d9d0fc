//! `collect` checks: source names are distinct, sampling is not too fast, URLs are
//! templates that fit, each source kind has the keys it needs, and JSON pointers look like
//! pointers.

use indexmap::IndexMap;

use super::{Analyzer, path, scope};
use crate::plan::model::CollectSource;
use crate::plan::yaml::Path;

impl Analyzer<'_, '_> {
    pub(super) fn collect(
        &mut self,
        env: Option<&str>,
        vars: &IndexMap<String, serde_json::Value>,
    ) {
        let mut seen = std::collections::HashSet::new();
        for (index, source) in self.plan.collect.iter().enumerate() {
            let name = source.name();
            let kind_key = match source {
                CollectSource::Prometheus(_) => "prometheus",
                CollectSource::Json(_) => "json",
                CollectSource::Process(_) => "process",
                CollectSource::Command(_) => "command",
            };
            let base = path!["collect", index, kind_key];
            if !seen.insert(name) {
                self.error_key(
                    &base,
                    format!("two `collect` sources are named `{name}`; give each a distinct `name` so their metrics stay apart"),
                    None,
                );
            }
            if source
                .every()
                .is_some_and(|every| every.0 < std::time::Duration::from_millis(100))
            {
                self.error(
                    &[base.clone(), path!["every"]].concat(),
                    "a source is sampled at most every 100ms: faster, the sampling would load the server it measures",
                    Some("the default is `5s`; `1s` is fine for short stages".to_owned()),
                );
            }
            let envs = self.env_sets(env, self.env_selected);
            let scope = scope::Scope::collect(&envs, vars);
            match source {
                CollectSource::Prometheus(p) => {
                    self.template(
                        &[base.clone(), path!["url"]].concat(),
                        p.url.as_str(),
                        &scope,
                    );
                }
                CollectSource::Json(j) => {
                    self.template(
                        &[base.clone(), path!["url"]].concat(),
                        j.url.as_str(),
                        &scope,
                    );
                    self.json_pointers(&base, &j.fields);
                }
                CollectSource::Process(p) => {
                    let given = [
                        p.pid.is_some(),
                        p.pid_file.is_some(),
                        p.process_name.is_some(),
                    ];
                    if given.iter().filter(|g| **g).count() != 1 {
                        self.error_key(
                            &base,
                            "a `process` source needs exactly one of `pid`, `pid_file` and `process_name`",
                            None,
                        );
                    }
                }
                CollectSource::Command(c) => {
                    if c.parse == crate::plan::model::CommandParse::Json && c.fields.is_empty() {
                        self.error_key(
                            &[base.clone(), path!["parse"]].concat(),
                            "a `command` source with `parse: json` needs `fields` to say which values to read",
                            None,
                        );
                    }
                    self.json_pointers(&base, &c.fields);
                }
            }
        }
    }

    fn json_pointers(&mut self, base: &Path, fields: &IndexMap<String, String>) {
        for (name, pointer) in fields {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                self.error(
                    &[base.clone(), path!["fields", name.as_str()]].concat(),
                    format!(
                        "invalid JSON pointer `{pointer}`: it must start with `/`, like `/in_msgs`"
                    ),
                    pointer
                        .strip_prefix("$.")
                        .map(|rest| format!("write `/{}`", rest.replace('.', "/"))),
                );
            }
        }
    }
}
