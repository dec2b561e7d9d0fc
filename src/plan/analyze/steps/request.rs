//! Request step checks: the URL and every template of the request, one body at most, a
//! `mark` with a `json` body to find it in, `expect` regexes that compile, and the `name`
//! tag and custom metric it records.

use super::key_path;
use crate::plan::analyze::Analyzer;
use crate::plan::analyze::scope::Scope;
use crate::plan::analyze::thresholds::Metrics;
use crate::plan::metric::MetricKind;
use crate::plan::model::RequestStep;
use crate::plan::yaml::Path;

impl Analyzer<'_, '_> {
    pub(super) fn request(
        &mut self,
        at: &Path,
        step: &RequestStep,
        scope: &Scope,
        metrics: &mut Metrics,
    ) {
        let under = |keys: &[&str]| key_path(at, keys);
        let request = &step.request;
        self.url(
            &under(&["request", "url"]),
            request.url.as_str(),
            &["http://", "https://"],
            scope,
        );
        for (key, value) in &request.headers {
            self.template(&under(&["request", "headers", key]), value.as_str(), scope);
        }
        for (key, value) in &request.query {
            self.template(&under(&["request", "query", key]), value.as_str(), scope);
        }
        for (key, value) in request.form.iter().flatten() {
            self.template(&under(&["request", "form", key]), value.as_str(), scope);
        }
        for (key, text) in [("text", &request.text), ("binary", &request.binary)] {
            if let Some(text) = text {
                self.template(&under(&["request", key]), text.as_str(), scope);
            }
        }
        if let Some(json) = &request.json {
            self.json_templates(&under(&["request", "json"]), json, scope);
        }
        let bodies = [
            request.json.is_some(),
            request.text.is_some(),
            request.form.is_some(),
            request.binary.is_some(),
        ];
        if bodies.iter().filter(|b| **b).count() > 1 {
            self.error_key(
                &under(&["request"]),
                "a request has one body: give only one of `json`, `text`, `form` and `binary`",
                None,
            );
        }
        if request.mark.is_some() && request.json.is_none() {
            self.error_key(
                &under(&["request", "mark"]),
                "`mark` names an id in the request's `json` body, but the request has none",
                None,
            );
        }
        if let Some(expect) = &request.expect {
            if let Some(json) = &expect.json {
                self.json_templates(&under(&["request", "expect", "json"]), json, scope);
            }
            for (path, value) in &expect.json_path {
                let key = path.to_string();
                self.json_templates(
                    &under(&["request", "expect", "json_path", &key]),
                    value,
                    scope,
                );
            }
            for (name, pattern) in &expect.headers {
                self.regex(&under(&["request", "expect", "headers", name]), pattern);
            }
        }
        let default_name = format!("{} {}", request.method.as_str(), request.url);
        metrics.name_tag(request.name.clone().unwrap_or(default_name));
        if let Some(metric) = &request.metric {
            self.custom_metric(
                &under(&["request", "metric"]),
                metric,
                MetricKind::Trend,
                metrics,
            );
        }
    }
}
