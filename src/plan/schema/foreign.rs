//! Shapes from other tools, recognised before the schema speaks: a k6 `stages:` list, k6
//! executor options in a stage, k6's `vus`/`duration` at the top, k6 threshold objects,
//! Artillery `phases`. Each becomes one error whose help is the loadplan equivalent,
//! written out as YAML from the values found, and the schema's own violations under it
//! (`expected a mapping, found a list`, `unknown field`) are left out.

use serde_json::{Map, Value};

use super::Within;
use crate::diag::Diagnostic;
use crate::plan::yaml::{Path, Segment};

/// A recognised foreign shape: its diagnostic, and the paths whose schema violations it
/// replaces (a path covers everything under it).
pub(super) struct Foreign {
    pub diagnostic: Diagnostic,
    pub covers: Vec<Path>,
}

/// Every foreign shape of the plan at the root of `within`.
pub(super) fn recognise(within: &Within<'_, '_>) -> Vec<Foreign> {
    let Some(root) = within.document.value.as_object() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    match root.get("stages") {
        Some(Value::Array(list)) if list.iter().any(is_k6_stage) => {
            let at = vec![Segment::from("stages")];
            let ramp = k6_ramp(list);
            found.push(Foreign {
                diagnostic: Diagnostic::error(
                    Some(within.value_span(&at)),
                    "`stages` is a list of k6 stages; loadplan names each stage and ramps VUs with `ramp`",
                )
                .with_help(Some(format!(
                    "the same load as a loadplan stage (run it with `--stage load`):\nstages:\n  load:\n    ramp:\n{}",
                    segments(&ramp, 6)
                ))),
                covers: vec![at],
            });
        }
        Some(Value::Object(stages)) => {
            for (name, stage) in stages {
                let at = vec![Segment::from("stages"), Segment::Key(name.clone())];
                if let Some(foreign) = foreign_stage(within, &at, name, stage) {
                    found.push(foreign);
                }
            }
        }
        _ => {}
    }
    let top: Vec<&str> = ["vus", "duration", "iterations"]
        .into_iter()
        .filter(|key| root.contains_key(*key))
        .collect();
    if let Some(first) = top.first() {
        let vus = root.get("vus").map_or_else(|| "10".to_owned(), scalar);
        let duration = root
            .get("duration")
            .map_or_else(|| "30s".to_owned(), duration);
        found.push(Foreign {
            diagnostic: Diagnostic::error(
                Some(within.key_span(&[Segment::from(*first)])),
                format!(
                    "{} at the top of the plan {} k6 option{}; in loadplan the load shape is a named stage",
                    top.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and "),
                    if top.len() == 1 { "is a" } else { "are" },
                    if top.len() == 1 { "" } else { "s" },
                ),
            )
            .with_help(Some(format!(
                "write it as a stage (run it with `--stage smoke`):\nstages:\n  smoke: {{ vus: {vus}, duration: {duration} }}"
            ))),
            // Without `stages`, the missing field is what this error explains.
            covers: top
                .iter()
                .chain(root.get("stages").is_none().then_some(&"stages"))
                .map(|k| vec![Segment::from(*k)])
                .collect(),
        });
    }
    let phases = root
        .get("config")
        .and_then(|config| config.get("phases"))
        .map(|phases| (vec![Segment::from("config")], phases))
        .or_else(|| {
            root.get("phases")
                .map(|phases| (vec![Segment::from("phases")], phases))
        });
    if let Some((at, Value::Array(phases))) = phases {
        let target = root
            .get("config")
            .and_then(|config| config.get("target"))
            .and_then(Value::as_str);
        let environment = target.map_or_else(String::new, |target| {
            format!("\nenvironments:\n  staging:\n    base_url: {target}")
        });
        found.push(Foreign {
            diagnostic: Diagnostic::error(
                Some(within.key_span(&at)),
                "Artillery `phases` are an arrival-rate stage in loadplan",
            )
            .with_help(Some(format!(
                "the same arrivals as a loadplan stage (run it with `--stage load`):{environment}\nstages:\n  load:\n{}",
                arrival(phases, None, 4)
            ))),
            // Without `stages`, the missing field is what this error explains.
            covers: [at]
                .into_iter()
                .chain(
                    root.get("stages")
                        .is_none()
                        .then(|| vec![Segment::from("stages")]),
                )
                .collect(),
        });
    }
    match root.get("scenarios") {
        Some(Value::Object(scenarios)) => {
            for (name, scenario) in scenarios {
                if let Some(foreign) = k6_scenario(within, name, scenario) {
                    found.push(foreign);
                }
            }
        }
        Some(Value::Array(list)) if list.iter().any(|s| s.get("flow").is_some()) => {
            let at = vec![Segment::from("scenarios")];
            found.push(Foreign {
                diagnostic: Diagnostic::error(
                    Some(within.value_span(&at)),
                    "`scenarios` is a list of Artillery scenarios; loadplan names each scenario and lists its `steps`",
                )
                .with_help(Some(format!(
                    "the same scenarios in loadplan (URLs are relative to the environment's `base_url`):\nscenarios:\n{}",
                    artillery_scenarios(list)
                ))),
                covers: vec![at],
            });
        }
        _ => {}
    }
    if let Some(Value::Object(thresholds)) = root.get("thresholds") {
        for (metric, checks) in thresholds {
            let at = vec![Segment::from("thresholds"), Segment::Key(metric.clone())];
            if let Some(foreign) = foreign_thresholds(within, &at, metric, checks) {
                found.push(foreign);
            }
        }
    }
    found
}

/// A scenario written as a k6 scenario (`executor:` and its options): the load shape is a
/// stage in loadplan, and the scenario is what a VU does.
fn k6_scenario(within: &Within<'_, '_>, name: &str, scenario: &Value) -> Option<Foreign> {
    let object = scenario.as_object()?;
    object.get("executor")?;
    let stage = k6_executor(object)?;
    let at = vec![Segment::from("scenarios"), Segment::Key(name.to_owned())];
    let k6_keys = [
        "executor",
        "stages",
        "startVUs",
        "vus",
        "duration",
        "iterations",
        "target",
        "rate",
        "timeUnit",
        "startRate",
        "preAllocatedVUs",
        "maxVUs",
        "gracefulStop",
        "exec",
        "startTime",
        "gracefulRampDown",
        "tags",
        "env",
    ];
    let covers = k6_keys
        .iter()
        .filter(|key| object.contains_key(**key))
        .map(|key| {
            let mut path = at.clone();
            path.push(Segment::from(*key));
            path
        })
        .collect();
    Some(Foreign {
        diagnostic: Diagnostic::error(
            Some(within.key_span(&at)),
            "this scenario is a k6 scenario; in loadplan its load shape is a stage, and a scenario lists the `steps` a VU takes",
        )
        .with_help(Some(format!(
            "its load as a loadplan stage (run it with `--stage {name}`):\nstages:\n  {name}:\n{stage}"
        ))),
        covers,
    })
}

/// Artillery scenarios (`{ name, weight, flow: [ {get: {url}}, {think: 1} ] }`) as
/// loadplan scenarios, indented under `scenarios:`.
fn artillery_scenarios(list: &[Value]) -> String {
    let mut out = Vec::new();
    for (index, scenario) in list.iter().enumerate() {
        let name = scenario
            .get("name")
            .and_then(Value::as_str)
            .map(|n| {
                n.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>()
            })
            .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .unwrap_or_else(|| format!("s{}", index + 1));
        out.push(format!("  {name}:"));
        if let Some(weight) = scenario.get("weight") {
            out.push(format!("    weight: {}", scalar(weight)));
        }
        out.push("    steps:".to_owned());
        for step in scenario
            .get("flow")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(format!("      - {}", artillery_step(step)));
        }
    }
    out.join("\n")
}

/// One Artillery flow step as a loadplan step (flow style).
fn artillery_step(step: &Value) -> String {
    if let Some(seconds) = step.get("think") {
        return format!("sleep: {}", duration(seconds));
    }
    for method in ["get", "post", "put", "patch", "delete", "head"] {
        let Some(request) = step.get(method) else {
            continue;
        };
        let url = request.get("url").and_then(Value::as_str).unwrap_or("/");
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{{{{ env.base_url }}}}{url}")
        };
        let mut parts = vec![format!("url: \"{url}\"")];
        if method != "get" {
            parts.push(format!("method: {}", method.to_ascii_uppercase()));
        }
        for key in ["json", "headers"] {
            if let Some(value) = request.get(key) {
                parts.push(format!("{key}: {value}"));
            }
        }
        return format!("request: {{ {} }}", parts.join(", "));
    }
    format!("{step}   # no loadplan step for this one")
}

/// A k6 stage: `{ duration: 30s, target: 20 }`.
fn is_k6_stage(item: &Value) -> bool {
    item.get("target").is_some() && item.get("duration").is_some()
}

/// k6's `{duration, target}` list as ramp segments.
fn k6_ramp(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|item| {
            let to = item.get("target").map_or_else(|| "0".to_owned(), scalar);
            let over = item
                .get("duration")
                .map_or_else(|| "0s".to_owned(), duration);
            format!("{{ to: {to}, over: {over} }}")
        })
        .collect()
}

/// A named stage written in k6's executor options or with Artillery's `phases`.
fn foreign_stage(within: &Within<'_, '_>, at: &Path, name: &str, stage: &Value) -> Option<Foreign> {
    let stage = stage.as_object()?;
    let k6_keys = [
        "executor",
        "stages",
        "startVUs",
        "target",
        "rate",
        "timeUnit",
        "startRate",
        "preAllocatedVUs",
        "maxVUs",
        "gracefulStop",
    ];
    let (message, body) = if let Some(Value::Array(phases)) = stage.get("phases") {
        (
            "Artillery `phases` are an arrival-rate stage in loadplan".to_owned(),
            arrival(phases, stage.get("maxVusers"), 4),
        )
    } else if k6_keys.iter().any(|key| stage.contains_key(*key)) {
        (
            "this stage is written as k6 executor options".to_owned(),
            k6_executor(stage)?,
        )
    } else {
        return None;
    };
    Some(Foreign {
        diagnostic: Diagnostic::error(Some(within.key_span(at)), message).with_help(Some(format!(
            "the same load as a loadplan stage:\nstages:\n  {name}:\n{body}"
        ))),
        covers: vec![at.clone()],
    })
}

/// A k6 scenario's executor options as the body of a loadplan stage (indented by 4).
fn k6_executor(stage: &Map<String, Value>) -> Option<String> {
    let get = |key: &str| stage.get(key);
    let graceful = get("gracefulStop")
        .map(|d| format!("\n    graceful_stop: {}", duration(d)))
        .unwrap_or_default();
    let stages = get("stages").and_then(Value::as_array);
    let per = get("timeUnit").map_or_else(|| "s".to_owned(), rate_unit);
    let max_vus = get("maxVUs")
        .or(get("preAllocatedVUs"))
        .map_or_else(|| "100".to_owned(), scalar);
    let pre = get("preAllocatedVUs")
        .map(|n| format!("\n    pre_allocated_vus: {}", scalar(n)))
        .unwrap_or_default();
    if let Some(rate) = get("rate") {
        // constant-arrival-rate
        let over = get("duration").map_or_else(|| "30s".to_owned(), duration);
        return Some(format!(
            "    start_rate: {}/{per}\n    arrival:\n      - {{ hold: {over} }}\n    max_vus: {max_vus}{pre}{graceful}",
            scalar(rate)
        ));
    }
    if let Some(stages) = stages {
        let arrival = get("startRate").is_some()
            || get("executor").and_then(Value::as_str) == Some("ramping-arrival-rate");
        if arrival {
            let start = get("startRate").map_or_else(|| "0".to_owned(), scalar);
            let segments: Vec<String> = stages
                .iter()
                .map(|item| {
                    let to = item.get("target").map_or_else(|| "0".to_owned(), scalar);
                    let over = item
                        .get("duration")
                        .map_or_else(|| "0s".to_owned(), duration);
                    format!("{{ to: {to}/{per}, over: {over} }}")
                })
                .collect();
            return Some(format!(
                "    start_rate: {start}/{per}\n    arrival:\n{}\n    max_vus: {max_vus}{pre}{graceful}",
                self::segments(&segments, 6)
            ));
        }
        let start = get("startVUs")
            .map(|n| format!("    start_vus: {}\n", scalar(n)))
            .unwrap_or_default();
        return Some(format!(
            "{start}    ramp:\n{}{graceful}",
            segments(&k6_ramp(stages), 6)
        ));
    }
    if let (Some(target), Some(over)) = (get("target"), get("duration")) {
        return Some(format!(
            "    ramp:\n      - {{ to: {}, over: {} }}{graceful}",
            scalar(target),
            duration(over)
        ));
    }
    let vus = get("vus")?;
    let over = get("duration")?;
    Some(format!(
        "    vus: {}\n    duration: {}{graceful}",
        scalar(vus),
        duration(over)
    ))
}

/// Artillery phases as the body of an arrival stage (indented by `indent`).
fn arrival(phases: &[Value], max_vusers: Option<&Value>, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let max_vusers = max_vusers.or_else(|| phases.iter().find_map(|p| p.get("maxVusers")));
    let mut start: Option<String> = None;
    let mut current: Option<String> = None;
    let mut segments = Vec::new();
    for phase in phases {
        let over = phase
            .get("duration")
            .map_or_else(|| "0s".to_owned(), duration);
        if let Some(pause) = phase.get("pause") {
            if current.as_deref() != Some("0") {
                segments.push("{ to: 0/s, over: 0s }".to_owned());
            }
            segments.push(format!("{{ hold: {} }}", duration(pause)));
            current = Some("0".to_owned());
            continue;
        }
        let rate = match (phase.get("arrivalRate"), phase.get("arrivalCount")) {
            (Some(rate), _) => scalar(rate),
            (None, Some(count)) => {
                let seconds = phase.get("duration").and_then(Value::as_f64).unwrap_or(1.0);
                let per_second = count.as_f64().unwrap_or(0.0) / seconds.max(1.0);
                format!("{}", (per_second * 1000.0).round() / 1000.0)
            }
            (None, None) => continue,
        };
        match &current {
            None => start = Some(rate.clone()),
            Some(now) if *now != rate => segments.push(format!("{{ to: {rate}/s, over: 0s }}")),
            Some(_) => {}
        }
        match phase.get("rampTo") {
            Some(to) => {
                let to = scalar(to);
                segments.push(format!("{{ to: {to}/s, over: {over} }}"));
                current = Some(to);
            }
            None => {
                segments.push(format!("{{ hold: {over} }}"));
                current = Some(rate);
            }
        }
    }
    let max_vus = max_vusers.map_or_else(
        || {
            "100   # the most VUs at once: the rate times the slowest iteration, with room"
                .to_owned()
        },
        scalar,
    );
    format!(
        "{pad}start_rate: {}/s\n{pad}arrival:\n{}\n{pad}max_vus: {max_vus}",
        start.unwrap_or_else(|| "0".to_owned()),
        self::segments(&segments, indent + 2)
    )
}

/// k6 threshold objects (`{threshold, abortOnFail, delayAbortEval}`), or a single check
/// string where a list goes.
fn foreign_thresholds(
    within: &Within<'_, '_>,
    at: &Path,
    metric: &str,
    checks: &Value,
) -> Option<Foreign> {
    if let Value::String(check) = checks {
        return Some(Foreign {
            diagnostic: Diagnostic::error(
                Some(within.value_span(at)),
                format!("expected a list of checks, found a string `{check}`"),
            )
            .with_help(Some(format!("write `{metric}: [ \"{check}\" ]`"))),
            covers: vec![at.clone()],
        });
    }
    let items = checks.as_array()?;
    let k6 = |item: &Value| item.get("threshold").and_then(Value::as_str).is_some();
    let first = items.iter().position(k6)?;
    let mut help = format!("write it as:\nthresholds:\n  {}:", yaml_key(metric));
    let mut covers = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let line = match item.get("threshold").and_then(Value::as_str) {
            Some(check) => {
                let mut long = format!("{{ check: \"{check}\"");
                if let Some(abort) = item.get("abortOnFail") {
                    long.push_str(&format!(", abort_on_fail: {}", scalar(abort)));
                }
                if let Some(delay) = item.get("delayAbortEval") {
                    long.push_str(&format!(", delay_abort: {}", duration(delay)));
                }
                long.push_str(" }");
                let mut item_at = at.clone();
                item_at.push(Segment::Index(index));
                covers.push(item_at);
                long
            }
            None => match item {
                Value::String(check) => format!("\"{check}\""),
                other => other.to_string(),
            },
        };
        help.push_str(&format!("\n    - {line}"));
    }
    let mut first_at = at.clone();
    first_at.push(Segment::Index(first));
    Some(Foreign {
        diagnostic: Diagnostic::error(
            Some(within.key_span(&first_at)),
            "this is a k6 threshold object; loadplan's long form is `{ check, abort_on_fail, delay_abort }`",
        )
        .with_help(Some(help)),
        covers,
    })
}

/// Lines `- SEGMENT`, indented.
fn segments(items: &[String], indent: usize) -> String {
    let pad = " ".repeat(indent);
    items
        .iter()
        .map(|item| format!("{pad}- {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scalar as YAML text.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A duration as loadplan writes it: k6's strings are kept (`30s`, `1m30s`); Artillery's
/// numbers are seconds.
fn duration(value: &Value) -> String {
    match value {
        Value::Number(seconds) => format!("{seconds}s"),
        Value::String(text) => text.replace(' ', ""),
        other => other.to_string(),
    }
}

/// k6's `timeUnit` (`1s`, `1m`) as a rate unit.
fn rate_unit(value: &Value) -> String {
    match value.as_str().map(|t| t.trim_start_matches('1')) {
        Some(unit @ ("s" | "m" | "h")) => unit.to_owned(),
        _ => "s".to_owned(),
    }
}

/// A mapping key, quoted when YAML needs it (a selector's braces).
fn yaml_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_owned()
    } else {
        format!("\"{key}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn artillery_phases_become_arrival_segments() {
        let phases = json(
            r#"[{"duration": 10, "arrivalCount": 50}, {"duration": "2m", "arrivalRate": 5, "rampTo": 10},
                {"pause": 5}, {"duration": 30, "arrivalRate": 10, "maxVusers": 40}]"#,
        );
        assert_eq!(
            arrival(phases.as_array().expect("a list"), None, 0),
            "start_rate: 5/s\narrival:\n  - { hold: 10s }\n  - { to: 10/s, over: 2m }\n  \
             - { to: 0/s, over: 0s }\n  - { hold: 5s }\n  - { to: 10/s, over: 0s }\n  - { hold: 30s }\n\
             max_vus: 40"
        );
    }

    #[test]
    fn k6_executors_become_stages() {
        let constant = json(r#"{"executor": "constant-vus", "vus": 10, "duration": "30s"}"#);
        assert_eq!(
            k6_executor(constant.as_object().expect("a mapping")).as_deref(),
            Some("    vus: 10\n    duration: 30s")
        );
        let per_minute = json(
            r#"{"executor": "constant-arrival-rate", "rate": 30, "timeUnit": "1m", "duration": "1m", "maxVUs": 5}"#,
        );
        assert_eq!(
            k6_executor(per_minute.as_object().expect("a mapping")).as_deref(),
            Some("    start_rate: 30/m\n    arrival:\n      - { hold: 1m }\n    max_vus: 5")
        );
        let nothing = json(r#"{"executor": "externally-controlled"}"#);
        assert_eq!(k6_executor(nothing.as_object().expect("a mapping")), None);
    }
}
