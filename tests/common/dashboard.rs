//! The Grafana dashboard shipped in `docs/grafana/loadplan-dashboard.json`: its panels, its
//! queries as Prometheus runs them, and what a dashboard must be to ship.
//!
//! Grafana fills a query's variables before sending it. [`panel_queries`] does the same
//! for a dashboard showing everything: the template variables (`$plan`, `$env`, `$stage`,
//! `$scenario`, always matched with `=~`) become their "All" value `.*`, `$__rate_interval`
//! `1m`, `$__interval` `15s` and `$__range` `5m`. The end-to-end test runs each of them
//! against a real Prometheus fed by a run.

use regex::Regex;
use serde_json::Value;

use super::root;

/// The dashboard, relative to the repository root.
pub const DASHBOARD: &str = "docs/grafana/loadplan-dashboard.json";

/// What Grafana's built-in variables become in [`panel_queries`].
pub const BUILT_IN_VARIABLES: [(&str, &str); 3] = [
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "5m"),
];

/// Every name the `prometheus` output sends (docs/outputs.md, "What is sent"): the
/// built-in metrics by the naming contract (counters `_total`, byte counters
/// `_bytes_total`, trends `_seconds` native histograms, rates two counters `_true_total`
/// and `_samples_total`, gauges as they are), errors by kind and the output's own drops.
/// Custom, server-side (`loadplan_server_…`) and derived (`loadplan_derived_…`) names
/// depend on the plan: a shipped dashboard reads none of them.
pub const CONTRACT_METRICS: &[&str] = &[
    // counters
    "loadplan_http_reqs_total",
    "loadplan_ws_connect_errors_total",
    "loadplan_ws_msgs_sent_total",
    "loadplan_ws_msgs_received_total",
    "loadplan_iterations_total",
    "loadplan_dropped_iterations_total",
    "loadplan_iterations_interrupted_total",
    "loadplan_iteration_backoffs_total",
    "loadplan_data_sent_bytes_total",
    "loadplan_data_received_bytes_total",
    "loadplan_errors_total",
    "loadplan_ws_sequence_messages_total",
    "loadplan_ws_sequence_gaps_total",
    "loadplan_ws_sequence_duplicates_total",
    "loadplan_ws_sequence_reorders_total",
    "loadplan_ws_sequence_invalid_total",
    // trends: native histograms
    "loadplan_http_req_duration_seconds",
    "loadplan_http_req_waiting_seconds",
    "loadplan_ws_connect_time_seconds",
    "loadplan_ws_message_latency_seconds",
    "loadplan_ws_session_duration_seconds",
    "loadplan_ws_reconnect_time_seconds",
    "loadplan_broadcast_delivery_time_seconds",
    "loadplan_iteration_duration_seconds",
    "loadplan_http_req_duration_corrected_seconds",
    "loadplan_iteration_duration_corrected_seconds",
    "loadplan_ws_message_latency_corrected_seconds",
    // rates: two counters each
    "loadplan_http_req_failed_true_total",
    "loadplan_http_req_failed_samples_total",
    "loadplan_broadcast_delivered_true_total",
    "loadplan_broadcast_delivered_samples_total",
    "loadplan_checks_true_total",
    "loadplan_checks_samples_total",
    "loadplan_step_chance_true_total",
    "loadplan_step_chance_samples_total",
    "loadplan_step_if_true_total",
    "loadplan_step_if_samples_total",
    // gauges
    "loadplan_ws_connections_active",
    "loadplan_vus",
    "loadplan_vus_max",
    // errors by kind, and what the output could not deliver
    "loadplan_errors_by_kind_total",
    "loadplan_output_dropped_total",
];

/// The shipped dashboard, parsed.
pub fn load() -> Value {
    let path = root().join(DASHBOARD);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{DASHBOARD} is not JSON: {error}"))
}

/// Every panel, those inside collapsed rows too, in the file's order.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

/// The names of the dashboard's own template variables (`plan`, `env`, …), the data
/// source variable left out.
pub fn variables(dashboard: &Value) -> Vec<String> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|variable| variable["type"] != "datasource")
        .filter_map(|variable| variable["name"].as_str().map(str::to_string))
        .collect()
}

/// `expr` as Grafana sends it with every variable at "All": `$name` and `${name}` of the
/// template variables become `.*`, the built-in ones [`BUILT_IN_VARIABLES`].
pub fn substitute(expr: &str, variables: &[String]) -> String {
    let mut out = expr.to_string();
    for (name, value) in BUILT_IN_VARIABLES {
        out = out.replace(name, value);
    }
    // Longest first, so that `$plan` does not eat the start of a `$planner`.
    let mut names: Vec<&String> = variables.iter().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    for name in names {
        out = out
            .replace(&format!("${{{name}}}"), ".*")
            .replace(&format!("${name}"), ".*");
    }
    out
}

/// Each target's panel title and query, variables substituted ([`substitute`]), in the
/// dashboard's order.
pub fn titled_panel_queries(dashboard: &Value) -> Vec<(String, String)> {
    let variables = variables(dashboard);
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if target["hide"] == true {
                continue;
            }
            if let Some(expr) = target["expr"].as_str() {
                out.push((title.to_string(), substitute(expr, &variables)));
            }
        }
    }
    out
}

/// Every panel query as Prometheus should run it (see [`titled_panel_queries`]).
pub fn panel_queries(dashboard: &Value) -> Vec<String> {
    titled_panel_queries(dashboard)
        .into_iter()
        .map(|(_, query)| query)
        .collect()
}

/// The `loadplan_…` metric names `expr` reads.
pub fn metric_names(expr: &str) -> Vec<String> {
    // A fixed pattern: compiling it cannot fail.
    let pattern = Regex::new(r"loadplan_[a-z0-9_]+").expect("a valid pattern");
    pattern
        .find_iter(expr)
        .map(|found| found.as_str().to_string())
        .collect()
}

/// What keeps `dashboard` from shipping, one line each; empty when nothing does.
pub fn problems(dashboard: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |problem: String| problems.push(problem);
    let variables = variables(dashboard);
    for name in ["plan", "env", "stage", "scenario"] {
        if !variables.iter().any(|variable| variable == name) {
            say(format!("no template variable `{name}`"));
        }
    }
    let templating = dashboard["templating"]["list"].as_array();
    if !templating
        .into_iter()
        .flatten()
        .any(|variable| variable["type"] == "datasource" && variable["name"] == "DS_PROMETHEUS")
    {
        say("no `DS_PROMETHEUS` data source variable".into());
    }
    let mut exprs: Vec<(String, String)> = Vec::new();
    for variable in templating.into_iter().flatten() {
        if variable["type"] == "query" {
            let name = variable["name"].as_str().unwrap_or_default();
            if variable["allValue"] != ".*" || variable["includeAll"] != true {
                say(format!(
                    "variable `{name}` needs includeAll with allValue `.*`"
                ));
            }
            if variable["datasource"]["uid"] != "${DS_PROMETHEUS}" {
                say(format!(
                    "variable `{name}` does not query `${{DS_PROMETHEUS}}`"
                ));
            }
            let query = variable["definition"].as_str().unwrap_or_default();
            exprs.push((format!("variable `{name}`"), query.to_string()));
        }
    }
    let mut ids = Vec::new();
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or_default().to_string();
        if title.is_empty() {
            say("a panel without a title".into());
        }
        if !panel["gridPos"].is_object() {
            say(format!("panel `{title}` has no gridPos"));
        }
        match panel["id"].as_u64() {
            Some(id) if ids.contains(&id) => say(format!("panel `{title}` reuses id {id}")),
            Some(id) => ids.push(id),
            None => say(format!("panel `{title}` has no id")),
        }
        if matches!(panel["type"].as_str(), Some("text" | "row")) {
            continue;
        }
        if panel["datasource"]["uid"] != "${DS_PROMETHEUS}" {
            say(format!(
                "panel `{title}` has no `${{DS_PROMETHEUS}}` data source"
            ));
        }
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        let mut with_expr = 0;
        for target in &targets {
            match target["expr"].as_str() {
                Some(expr) if !expr.trim().is_empty() => {
                    with_expr += 1;
                    exprs.push((format!("panel `{title}`"), expr.to_string()));
                }
                _ => say(format!("panel `{title}` has a target without `expr`")),
            }
        }
        if with_expr == 0 {
            say(format!("panel `{title}` has no query"));
        }
    }
    let allowed_windows = ["[$__rate_interval]", "[$__range]"];
    let window = Regex::new(r"\[[^\]]*\]").expect("a valid pattern");
    let quantile =
        Regex::new(r"histogram_quantile\(\s*[0-9.]+\s*,\s*([a-z_]+)").expect("a valid pattern");
    let averaged =
        Regex::new(r"(avg|max|min|quantile)(\s+by\s*\([^)]*\))?\s*\(\s*histogram_quantile")
            .expect("a valid pattern");
    for (place, expr) in &exprs {
        let names = metric_names(expr);
        if names.is_empty() {
            say(format!("{place} reads no loadplan metric: `{expr}`"));
        }
        for name in names {
            if !CONTRACT_METRICS.contains(&name.as_str()) {
                say(format!(
                    "{place} reads `{name}`, which the output never sends"
                ));
            }
        }
        for found in window.find_iter(expr) {
            if !allowed_windows.contains(&found.as_str()) {
                say(format!(
                    "{place} has the window `{}`: use `[$__rate_interval]` (or `[$__range]`)",
                    found.as_str()
                ));
            }
        }
        // Grafana's "All" is `.*`, which only means "any" after `=~`.
        let mut rest = expr.clone();
        for name in &variables {
            rest = rest
                .replace(&format!("=~\"${name}\""), "")
                .replace(&format!("=~\"${{{name}}}\""), "");
        }
        for name in &variables {
            if rest.contains(&format!("${name}")) || rest.contains(&format!("${{{name}}}")) {
                say(format!(
                    "{place} uses `${name}` other than as `=~\"${name}\"`"
                ));
            }
        }
        // Quantiles merge only as histograms: `histogram_quantile(q, sum(rate(…)))`, never
        // an average of per-series quantiles (grafana/k6-docs#1370).
        if expr.contains("histogram_quantile") {
            for captures in quantile.captures_iter(expr) {
                if &captures[1] != "sum" {
                    say(format!(
                        "{place}: histogram_quantile must take `sum(rate(…))` or `sum by (…) (rate(…))`, not `{}`",
                        &captures[1]
                    ));
                }
            }
            if averaged.is_match(expr) {
                say(format!(
                    "{place} aggregates quantiles: merge the histograms first"
                ));
            }
        }
        if expr.matches('(').count() != expr.matches(')').count()
            || expr.matches('{').count() != expr.matches('}').count()
        {
            say(format!("{place} has unbalanced brackets: `{expr}`"));
        }
    }
    for (place, query) in titled_panel_queries(dashboard) {
        if query.contains('$') {
            say(format!(
                "panel `{place}` keeps a variable Prometheus cannot read: `{query}`"
            ));
        }
    }
    problems
}
