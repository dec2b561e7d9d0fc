//! The Grafana dashboard in docs/grafana/ imports and reads only what the `prometheus`
//! output sends; its queries are run against a real Prometheus by the end-to-end test
//! (through `common::dashboard::panel_queries`).

use serde_json::json;

use crate::common::dashboard::{
    CONTRACT_METRICS, load, metric_names, panel_queries, panels, problems, substitute,
    titled_panel_queries,
};
use crate::common::root;

#[test]
fn the_shipped_dashboard_has_no_problems() {
    let dashboard = load();
    let problems = problems(&dashboard);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(dashboard["schemaVersion"].as_u64() >= Some(36));
    assert_eq!(dashboard["uid"], "loadplan-live");
}

#[test]
fn the_dashboard_shows_what_the_issue_asks_for() {
    let dashboard = load();
    let exprs: Vec<String> = panels(&dashboard)
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_string))
        .collect();
    let read: Vec<String> = exprs.iter().flat_map(|expr| metric_names(expr)).collect();
    for name in [
        "loadplan_http_reqs_total",
        "loadplan_ws_msgs_sent_total",
        "loadplan_ws_msgs_received_total",
        "loadplan_errors_by_kind_total",
        "loadplan_vus",
        "loadplan_http_req_duration_seconds",
        "loadplan_ws_message_latency_seconds",
        "loadplan_http_req_failed_true_total",
        "loadplan_http_req_failed_samples_total",
        "loadplan_output_dropped_total",
    ] {
        assert!(read.iter().any(|r| r == name), "no panel reads {name}");
    }
    for metric in [
        "loadplan_http_req_duration_seconds",
        "loadplan_ws_message_latency_seconds",
    ] {
        for quantile in ["0.5", "0.95", "0.99"] {
            for by in ["scenario", "scenario, name"] {
                let expr = format!(
                    "histogram_quantile({quantile}, sum by ({by}) (rate({metric}{{plan=~\"$plan\",env=~\"$env\",stage=~\"$stage\",scenario=~\"$scenario\"}}[$__rate_interval])))"
                );
                assert!(exprs.contains(&expr), "missing {expr}");
            }
        }
    }
    assert!(exprs.contains(
        &"sum by (kind) (rate(loadplan_errors_by_kind_total{plan=~\"$plan\",env=~\"$env\",stage=~\"$stage\"}[$__rate_interval]))"
            .to_string()
    ));
    // The limits are drawn as threshold lines on both latency panels and the failed share.
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        let defaults = &panel["fieldConfig"]["defaults"];
        if panel["type"] == "timeseries"
            && (title.contains("latency") || title.contains("duration") || title.contains("Failed"))
        {
            assert_eq!(
                defaults["custom"]["thresholdsStyle"]["mode"], "dashed",
                "{title}"
            );
            let steps = defaults["thresholds"]["steps"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(steps.len() >= 2, "{title} has no limit: {steps:?}");
        }
    }
}

#[test]
fn panel_queries_are_what_prometheus_runs() {
    let dashboard = load();
    let queries = panel_queries(&dashboard);
    let targets: usize = panels(&dashboard)
        .iter()
        .map(|panel| panel["targets"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(queries.len(), targets);
    assert!(queries.len() >= 20, "{queries:#?}");
    assert!(queries.contains(
        &"histogram_quantile(0.95, sum by (scenario) (rate(loadplan_http_req_duration_seconds{plan=~\".*\",env=~\".*\",stage=~\".*\",scenario=~\".*\"}[1m])))"
            .to_string()
    ), "{queries:#?}");
    assert!(queries.contains(
        &"sum(rate(loadplan_http_reqs_total{plan=~\".*\",env=~\".*\",stage=~\".*\",scenario=~\".*\"}[1m]))"
            .to_string()
    ));
    for query in &queries {
        assert!(!query.contains('$'), "{query}");
    }
    let titled = titled_panel_queries(&dashboard);
    assert!(
        titled
            .iter()
            .any(|(title, _)| title == "Requests per second")
    );
}

#[test]
fn substitution_fills_every_form_of_a_variable() {
    let variables = vec!["plan".to_string(), "planner".to_string()];
    assert_eq!(
        substitute(
            "rate(x{plan=~\"$plan\",b=~\"${plan}\",c=~\"$planner\"}[$__rate_interval]) $__interval $__range",
            &variables
        ),
        "rate(x{plan=~\".*\",b=~\".*\",c=~\".*\"}[1m]) 15s 5m"
    );
}

/// The checks can fail: each broken dashboard is caught with a message naming its fault.
#[test]
fn broken_dashboards_are_caught() {
    let good = load();
    let with_expr = |expr: &str| {
        let mut dashboard = good.clone();
        dashboard["panels"][1]["targets"][0]["expr"] = json!(expr);
        problems(&dashboard).join("\n")
    };
    let unknown = with_expr("sum(rate(loadplan_http_requests_total[$__rate_interval]))");
    assert!(
        unknown.contains("`loadplan_http_requests_total`, which the output never sends"),
        "{unknown}"
    );
    let classic = with_expr(
        "histogram_quantile(0.95, sum by (le) (rate(loadplan_http_req_duration_seconds_bucket[$__rate_interval])))",
    );
    assert!(
        classic.contains("loadplan_http_req_duration_seconds_bucket"),
        "{classic}"
    );
    let averaged = with_expr(
        "avg(histogram_quantile(0.95, sum by (segment) (rate(loadplan_http_req_duration_seconds[$__rate_interval]))))",
    );
    assert!(averaged.contains("aggregates quantiles"), "{averaged}");
    let unsummed = with_expr(
        "histogram_quantile(0.95, rate(loadplan_http_req_duration_seconds[$__rate_interval]))",
    );
    assert!(unsummed.contains("must take `sum(rate(…))`"), "{unsummed}");
    let fixed_window = with_expr("sum(rate(loadplan_http_reqs_total[5m]))");
    assert!(fixed_window.contains("the window `[5m]`"), "{fixed_window}");
    let equal = with_expr("sum(rate(loadplan_http_reqs_total{plan=\"$plan\"}[$__rate_interval]))");
    assert!(equal.contains("uses `$plan` other than as"), "{equal}");
    let unknown_variable =
        with_expr("sum(rate(loadplan_http_reqs_total{team=~\"$team\"}[$__rate_interval]))");
    assert!(
        unknown_variable.contains("keeps a variable"),
        "{unknown_variable}"
    );
    let no_metric = with_expr("vector(0.2)");
    assert!(
        no_metric.contains("reads no loadplan metric"),
        "{no_metric}"
    );

    let mut no_source = good.clone();
    no_source["panels"][1]["datasource"] = json!(null);
    assert!(
        problems(&no_source)
            .join("\n")
            .contains("no `${DS_PROMETHEUS}` data source")
    );
    let mut no_targets = good.clone();
    no_targets["panels"][1]["targets"] = json!([]);
    assert!(problems(&no_targets).join("\n").contains("has no query"));
    let mut no_variable = good;
    no_variable["templating"]["list"][1]["name"] = json!("plans");
    assert!(
        problems(&no_variable)
            .join("\n")
            .contains("no template variable `plan`")
    );
}

/// The contract's list covers every built-in metric, named by its rules: a new built-in
/// gets its Prometheus name here and in docs/outputs.md.
#[test]
fn the_contract_names_every_built_in_metric() {
    use loadplan::plan::metric::{BUILTIN, MetricKind};
    for (metric, kind) in BUILTIN {
        let names: Vec<String> = match kind {
            MetricKind::Counter if metric.starts_with("data_") => {
                vec![format!("loadplan_{metric}_bytes_total")]
            }
            MetricKind::Counter => vec![format!("loadplan_{metric}_total")],
            MetricKind::Trend => vec![format!("loadplan_{metric}_seconds")],
            MetricKind::Rate => vec![
                format!("loadplan_{metric}_true_total"),
                format!("loadplan_{metric}_samples_total"),
            ],
            MetricKind::Gauge => vec![format!("loadplan_{metric}")],
            MetricKind::Collected | MetricKind::Derived => vec![],
        };
        assert!(!names.is_empty(), "{metric} is a {}", kind.name());
        for name in names {
            assert!(
                CONTRACT_METRICS.contains(&name.as_str()),
                "{name} ({metric}) is not in the list"
            );
        }
    }
}

#[test]
fn outputs_doc_names_every_metric_sent() {
    let doc =
        std::fs::read_to_string(root().join("docs/outputs.md")).expect("docs/outputs.md exists");
    let missing: Vec<&&str> = CONTRACT_METRICS
        .iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/outputs.md does not name {missing:?}"
    );
    assert!(doc.contains("grafana/loadplan-dashboard.json"));
}
