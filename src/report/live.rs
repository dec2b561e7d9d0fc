//! Live outputs (`prometheus`: remote write during the run) resolved before the load: the
//! URL, headers and labels rendered once (the URL and headers with the run's secrets), the
//! URL checked to be `http(s)://host…`, the labels every series carries put in order. The
//! receiver is not asked: one that is down costs dropped samples, not the run. `exec`
//! sends them (`exec/remote_write.rs`).

use std::time::Duration;

use super::error::{PrepareError, ReportError};
use super::outputs::{At, Problem};
use crate::plan::model::Output;
use crate::plan::output::{EVERY_DEFAULT, label_name};
use crate::plan::template::{Template, TemplateSet};
use crate::plan::yaml::Segment;
use crate::redact::Redactor;

/// One live output, ready to send.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    /// The endpoint as rendered (it may hold a secret: never print it, print `shown`).
    pub url: hyper::Uri,
    /// The endpoint with secrets redacted.
    pub shown: String,
    /// How often the figures so far are sent.
    pub every: Duration,
    /// The plan's headers, rendered (they may hold secrets).
    pub headers: Vec<(String, String)>,
    /// `plan`, `env`, `stage`, `segment` (as given), then the plan's own labels.
    pub labels: Vec<(String, String)>,
    /// Classic histogram bounds instead of native histograms.
    pub buckets: Option<Vec<Duration>>,
}

/// The plan's `prometheus` outputs and `--out prometheus=URL`s (`extra`) as targets;
/// `context` is the output paths' context with `secrets` added; `labels` are loadplan's
/// own (`plan`, `env`, `stage`, `segment`). Every problem, located where the plan says it.
pub fn prepare(
    outputs: &[Output],
    extra: &[String],
    templates: &TemplateSet,
    context: &minijinja::Value,
    labels: &[(String, String)],
    redactor: &Redactor,
) -> (Vec<LiveTarget>, Vec<Problem>) {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    let render = |template: &Template| -> Result<String, String> {
        if !Template::is_dynamic(template.as_str()) {
            return Ok(template.as_str().to_owned());
        }
        match templates.render_source(template.as_str(), context) {
            Some(Ok(text)) => Ok(text),
            Some(Err(error)) => Err(redactor.redact(&error.to_string()).into_owned()),
            None => Ok(template.as_str().to_owned()),
        }
    };
    for url in extra {
        match endpoint(url, redactor) {
            Ok((url, shown)) => targets.push(LiveTarget {
                url,
                shown,
                every: EVERY_DEFAULT,
                headers: Vec::new(),
                labels: labels.to_vec(),
                buckets: None,
            }),
            Err(error) => problems.push(problem(None, error)),
        }
    }
    for (index, output) in outputs.iter().enumerate() {
        let Output::Prometheus(prometheus) = output else {
            continue;
        };
        let at = |keys: &[&str]| -> At {
            let mut at = vec![
                Segment::from("outputs"),
                Segment::Index(index),
                Segment::from("prometheus"),
            ];
            at.extend(keys.iter().map(|key| Segment::from(*key)));
            Some(at)
        };
        let before = problems.len();
        let mut rendered = |keys: &[&str], template: &Template| match render(template) {
            Ok(text) => text,
            Err(detail) => {
                problems.push(problem(
                    at(keys),
                    PrepareError::Live {
                        what: keys.join("."),
                        detail,
                    },
                ));
                String::new()
            }
        };
        let url = rendered(&["url"], &prometheus.url);
        let headers: Vec<(String, String)> = prometheus
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), rendered(&["headers", name], value)))
            .collect();
        let mut all = labels.to_vec();
        for (name, value) in &prometheus.labels {
            let value = rendered(&["labels", name], value);
            all.push((label_name(name), value));
        }
        if problems.len() > before {
            continue;
        }
        match endpoint(&url, redactor) {
            Ok((url, shown)) => targets.push(LiveTarget {
                url,
                shown,
                every: prometheus.every.map_or(EVERY_DEFAULT, |every| every.0),
                headers,
                labels: all,
                buckets: prometheus
                    .buckets
                    .as_ref()
                    .map(|bounds| bounds.iter().map(|bound| bound.0).collect()),
            }),
            Err(error) => problems.push(problem(at(&["url"]), error)),
        }
    }
    (targets, problems)
}

fn problem(at: At, error: PrepareError) -> Problem {
    Problem {
        at,
        error: ReportError::Prepare(error),
        help: None,
    }
}

/// `text` as a remote-write endpoint: an absolute `http://` or `https://` URL with a
/// host; with its redacted form.
fn endpoint(text: &str, redactor: &Redactor) -> Result<(hyper::Uri, String), PrepareError> {
    let shown = redactor.redact(text).into_owned();
    let refuse = |why: &str| PrepareError::LiveUrl {
        url: shown.clone(),
        why: why.to_owned(),
    };
    let uri: hyper::Uri = text
        .parse()
        .map_err(|_| refuse("expected a URL like `http://127.0.0.1:9090/api/v1/write`"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(refuse(&format!(
                "remote write goes over `http` or `https`, not `{other}`"
            )));
        }
        None => {
            return Err(refuse(
                "expected `http://` or `https://` before the host (`http://127.0.0.1:9090/api/v1/write`)",
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(refuse("the URL has no host"));
    }
    Ok((uri, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_http_urls_with_a_host() {
        let redactor = Redactor::new(["s3cret"]);
        for good in [
            "http://127.0.0.1:9090/api/v1/write",
            "https://mimir.example/api/v1/push",
            "http://[::1]:9090/api/v1/write",
        ] {
            assert!(endpoint(good, &redactor).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("ftp://host/x", "not `ftp`"),
            ("127.0.0.1:9090/api/v1/write", "expected"),
            ("/api/v1/write", "expected `http://`"),
            ("", "expected"),
            ("http://", "expected"),
            ("http://a b/", "expected"),
            ("file:///etc/passwd", "expected"),
            ("file://host/etc/passwd", "not `file`"),
        ] {
            let error = endpoint(bad, &redactor).err().map(|e| e.to_string());
            assert!(
                error.as_deref().is_some_and(|e| e.contains(why)),
                "{bad}: {error:?}"
            );
        }
        let error = endpoint("ftp://user:s3cret@host/", &redactor)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            !error.contains("s3cret") && error.contains("***"),
            "{error}"
        );
    }
}
