//! `outputs` checks: `baseline: latest` (or `latest_passed`) has a `json` output to look in, Markdown outputs
//! say where to write, and every path template (and `under`/`section`) compiles with the
//! names known when outputs are made. What needs the disk (the files, the document's
//! heading) is checked by `report::outputs::check`, before the load.

use indexmap::IndexMap;

use super::{Analyzer, path, scope};
use crate::plan::model::Output;

impl Analyzer<'_, '_> {
    pub(super) fn outputs(
        &mut self,
        env: Option<&str>,
        vars: &IndexMap<String, serde_json::Value>,
    ) {
        // A mock's URLs are only known once it listens, after output paths are made.
        let mut envs = self.env_sets(env, self.env_selected);
        for (name, keys) in &mut envs {
            let environment = &self.plan.environments[name.as_str()];
            if environment.mock().is_some() {
                keys.retain(|key| {
                    !(key == "base_url" && environment.base_url.is_none()
                        || key == "ws_url" && environment.ws_url.is_none())
                });
            }
        }
        let scope = scope::Scope::output(&envs, vars);
        if let Some(latest @ ("latest" | "latest_passed")) = self.plan.baseline.as_deref()
            && !self
                .plan
                .outputs
                .iter()
                .any(|o| matches!(o, Output::Json(_)))
        {
            self.error(
                &path!["baseline"],
                format!("`baseline: {latest}` looks for earlier runs in the folders of the `json` outputs, and this plan has none"),
                Some("add an output like `- json: \"results/{{ run.started | date('compact') }}-{{ stage }}.json\"`".to_owned()),
            );
        }
        // Anything else is a results file's path; a word a typo away from the keywords is
        // not one (`./latest_pased` still names a file).
        if let Some(other) = self.plan.baseline.as_deref()
            && !matches!(other, "latest" | "latest_passed")
            && !other.contains(['/', '.'])
            && let Some(keyword) = crate::diag::suggest(other, ["latest", "latest_passed"])
        {
            self.error(
                &path!["baseline"],
                format!("`baseline: {other}` is neither `latest`, `latest_passed` nor the path of a results file"),
                Some(format!("did you mean `{keyword}`? (a file named so is `./{other}`)")),
            );
        }
        for (index, output) in self.plan.outputs.iter().enumerate() {
            match output {
                Output::Markdown(markdown) => {
                    let base = path!["outputs", index, "markdown"];
                    match (&markdown.file, &markdown.append_to) {
                        (Some(_), Some(_)) | (None, None) => self.error_key(
                            &base,
                            "a `markdown` output needs exactly one of `file` and `append_to`",
                            None,
                        ),
                        _ => {}
                    }
                    if markdown.append_to.is_none()
                        && (markdown.under.is_some() || markdown.section.is_some())
                    {
                        self.error_key(
                            &base,
                            "`under` and `section` say where to write inside a document given by `append_to`",
                            None,
                        );
                    }
                    if markdown.row_template.is_some()
                        && (markdown.under.is_none() || markdown.section.is_some())
                    {
                        self.error_key(
                            &[base.clone(), path!["row_template"]].concat(),
                            "`row_template` is the row added to the table under the `under` heading; it needs `under` without `section`",
                            None,
                        );
                    }
                    if markdown
                        .regression_factor
                        .is_some_and(|factor| factor <= 0.0)
                    {
                        self.error(
                            &[base.clone(), path!["regression_factor"]].concat(),
                            "the regression factor must be above 0 (the usual rule is baseline × 1.2)",
                            None,
                        );
                    }
                    self.fill_keys(&base, markdown, &scope);
                    for (key, template) in [
                        ("file", &markdown.file),
                        ("append_to", &markdown.append_to),
                        ("under", &markdown.under),
                        ("section", &markdown.section),
                    ] {
                        if let Some(template) = template {
                            self.template(
                                &[base.clone(), path![key]].concat(),
                                template.as_str(),
                                &scope,
                            );
                        }
                    }
                }
                Output::Prometheus(prometheus) => {
                    let base = path!["outputs", index, "prometheus"];
                    // The URL and headers are sent, not printed: they may hold a secret
                    // (a token), redacted wherever they are shown.
                    let mut sent = scope::Scope::output(&envs, vars);
                    sent.secrets = true;
                    self.template(
                        &[base.clone(), path!["url"]].concat(),
                        prometheus.url.as_str(),
                        &sent,
                    );
                    for (key, map, scope) in [
                        ("labels", &prometheus.labels, &scope),
                        ("headers", &prometheus.headers, &sent),
                    ] {
                        for (name, value) in map {
                            self.template(
                                &[base.clone(), path![key, name.as_str()]].concat(),
                                value.as_str(),
                                scope,
                            );
                        }
                    }
                    self.prometheus_settings(&base, prometheus);
                }
                Output::Csv(csv) => {
                    let mut key = path!["outputs", index, "csv"];
                    if csv.columns().is_some() {
                        key.extend(path!["file"]);
                    }
                    self.template(&key, csv.file().as_str(), &scope);
                }
                Output::Json(file) | Output::Junit(file) | Output::Html(file) => {
                    let key = match output {
                        Output::Json(_) => "json",
                        Output::Html(_) => "html",
                        _ => "junit",
                    };
                    self.template(&path!["outputs", index, key], file.as_str(), &scope);
                }
            }
        }
    }
}

impl Analyzer<'_, '_> {
    /// A `prometheus` output's `every` (at least 1s) and label names (none of loadplan's
    /// own, none reserved by Prometheus, no two the same once sanitized).
    fn prometheus_settings(
        &mut self,
        base: &[crate::plan::yaml::Segment],
        prometheus: &crate::plan::output::PrometheusOutput,
    ) {
        use crate::plan::output::{BUILT_IN_LABELS, EVERY_MIN, label_name};
        if let Some(every) = prometheus.every
            && every.0 < EVERY_MIN
        {
            self.error(
                &[base.to_vec(), path!["every"]].concat(),
                format!(
                    "`every` must be at least 1s, found {}: each request carries every \
                     series, and Prometheus scrapes no finer either",
                    humantime::format_duration(every.0)
                ),
                None,
            );
        }
        let mut seen: Vec<String> = Vec::new();
        for name in prometheus.labels.keys() {
            let label = label_name(name);
            let at = [base.to_vec(), path!["labels", name.as_str()]].concat();
            if BUILT_IN_LABELS.contains(&label.as_str()) {
                self.error_key(
                    &at,
                    format!("the label `{name}` is one loadplan sets itself"),
                    Some(format!(
                        "loadplan's labels are {}; name yours otherwise (`test_{label}`)",
                        BUILT_IN_LABELS
                            .iter()
                            .map(|l| format!("`{l}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            } else if label.starts_with("__") {
                self.error_key(
                    &at,
                    format!(
                        "the label `{name}` starts with `__`, which Prometheus keeps for itself"
                    ),
                    None,
                );
            } else if seen.contains(&label) {
                self.error_key(
                    &at,
                    format!(
                        "the label `{name}` is sent as `{label}`, like another label before it"
                    ),
                    None,
                );
            }
            seen.push(label);
        }
    }
}
