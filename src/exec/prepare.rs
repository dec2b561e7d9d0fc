//! What a run needs before its first request, built synchronously from the checked plan:
//! the run-wide template values (`env`, `vars`, `secrets`, `stage`), the shared copies of
//! metric and tag names, every series key the plan can produce, the keys of each request
//! and WebSocket step, and the regexes of HTTP header checks, compiled once.
//!
//! `run` calls [`prepare`] once the mock target (if any) listens; `run.rs` builds the
//! context of output paths with the same [`env_context`] and [`template_base`], without
//! secrets and before a mock exists. Nothing here is async or touches the network.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::matcher::{CompiledMatcher, compile_regex};
use super::run_error::RegexBug;
use super::shared::{GuardKeys, KeyMap, RequestKeys, WsStepKeys, key_hash, step_address};
use crate::mock::MockSettings;
use crate::plan::model::{Connect, Environment, MockSetting, Plan, Step};
use crate::plan::template::TemplateSet;
use crate::results::SeriesKey;

/// The URLs of the in-process mock target, which replace the environment's own.
#[derive(Debug, Clone, Copy)]
pub struct MockUrls<'a> {
    pub base_url: &'a str,
    pub ws_url: &'a str,
}

/// The settings of the in-process mock target, when the environment starts one.
pub fn mock_settings(environment: Option<&Environment>) -> Option<MockSettings> {
    let setting = environment.and_then(Environment::mock)?;
    let mut settings = MockSettings::default();
    if let MockSetting::Configured(config) = setting {
        settings.mode = config.mode;
        settings.status = config.status.unwrap_or(settings.status);
        settings.body_size = config.body_size.map_or(settings.body_size, |s| {
            usize::try_from(s.0).unwrap_or(usize::MAX)
        });
    }
    Some(settings)
}

/// `env` as templates see it: `name` when an environment is selected, the environment's
/// `values`, then its `base_url` and `ws_url`, then the mock's URLs. A later one replaces
/// an earlier one of the same name (a `values` entry called `base_url` loses to the
/// `base_url` field) and keeps its place in the map.
pub fn env_context(
    name: Option<&str>,
    environment: Option<&Environment>,
    mock: Option<MockUrls<'_>>,
) -> Map<String, Value> {
    let mut env = Map::new();
    if let Some(name) = name {
        env.insert("name".into(), name.into());
    }
    if let Some(environment) = environment {
        for (key, value) in &environment.values {
            env.insert(key.clone(), value.as_str().into());
        }
        for (key, value) in [
            ("base_url", &environment.base_url),
            ("ws_url", &environment.ws_url),
        ] {
            if let Some(value) = value {
                env.insert(key.into(), value.as_str().into());
            }
        }
    }
    if let Some(mock) = mock {
        env.insert("base_url".into(), mock.base_url.into());
        env.insert("ws_url".into(), mock.ws_url.into());
    }
    env
}

/// The run-wide template values: `env`, `vars`, `secrets` (only when given: output paths
/// are printed and become file names, so they never see a secret) and `stage`.
pub fn template_base(
    env: Map<String, Value>,
    vars: &IndexMap<String, Value>,
    secrets: Option<&IndexMap<String, String>>,
    stage: &str,
) -> Map<String, Value> {
    let mut base = Map::new();
    base.insert("env".into(), Value::Object(env));
    base.insert(
        "vars".into(),
        Value::Object(vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    );
    if let Some(secrets) = secrets {
        base.insert(
            "secrets".into(),
            Value::Object(
                secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
    }
    base.insert("stage".into(), stage.into());
    base
}

/// What [`prepare`] made: the parts of [`Shared`](super::shared::Shared) that are fixed for the run.
pub struct Prepared {
    /// The run-wide template values, converted once.
    pub base: minijinja::Value,
    /// The plan's templates, those that only read run-wide values rendered once.
    pub templates: TemplateSet,
    pub names: HashMap<String, Arc<str>>,
    pub keys: KeyMap,
    pub request_keys: HashMap<usize, Arc<RequestKeys>>,
    pub ws_keys: HashMap<usize, WsStepKeys, foldhash::fast::FixedState>,
    pub regexes: HashMap<String, regex::Regex>,
    pub expect_matchers: HashMap<usize, CompiledMatcher, foldhash::fast::FixedState>,
    pub on_message: Vec<Vec<CompiledMatcher>>,
    /// The keys of each step with `chance:` or `if:`, by the step's address.
    pub guards: HashMap<usize, GuardKeys, foldhash::fast::FixedState>,
}

/// Builds what the run needs before it starts. `base` is [`template_base`]'s map. An
/// error means the analyzer let through what it should have rejected (a regex that does
/// not compile): a bug, reported rather than ignored.
pub fn prepare(
    plan: &Plan,
    mut templates: TemplateSet,
    base: Map<String, Value>,
) -> Result<Prepared, RegexBug> {
    let regexes = header_regexes(plan)?;
    let (expect_matchers, on_message) = matchers(plan)?;
    let Names {
        names,
        mut custom_metrics,
        mut tags,
    } = names(plan);
    let base = minijinja::Value::from(minijinja::value::Serde(Value::Object(base)));
    templates.freeze_constants(&base, &["env", "vars", "secrets", "stage"]);
    let request_keys = request_keys(plan, &names, &templates);
    custom_metrics.sort();
    custom_metrics.dedup();
    tags.sort();
    tags.dedup();
    let keys = all_keys(plan, &names, &custom_metrics, &tags);
    let ws_keys = ws_keys(plan, &names, &keys);
    let guards = guard_keys(plan, &keys);
    Ok(Prepared {
        guards,
        base,
        templates,
        names,
        keys,
        request_keys,
        ws_keys,
        regexes,
        expect_matchers,
        on_message,
    })
}

/// The plan's names, shared; and the custom metrics and `name` tags among them, for the
/// run's shared keys.
struct Names {
    names: HashMap<String, Arc<str>>,
    custom_metrics: Vec<String>,
    tags: Vec<String>,
}

fn names(plan: &Plan) -> Names {
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |text: &str| {
        names
            .entry(text.to_owned())
            .or_insert_with(|| Arc::from(text));
    };
    let mut custom_metrics: Vec<String> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for (metric, _) in crate::plan::metric::BUILTIN {
        intern(metric);
    }
    for (name, scenario) in &plan.scenarios {
        intern(name);
        walk(&scenario.steps, &mut |step| match step {
            Step::Expect(expect) => {
                for name in [&expect.expect.metric, &expect.expect.name]
                    .into_iter()
                    .flatten()
                {
                    intern(name);
                }
                custom_metrics.extend(expect.expect.metric.iter().cloned());
                tags.extend(expect.expect.name.iter().cloned());
            }
            Step::Request(request) => {
                let request = &request.request;
                intern(&format!("{} {}", request.method.as_str(), request.url));
                for name in [&request.name, &request.metric].into_iter().flatten() {
                    intern(name);
                }
            }
            Step::Connect(connect) => {
                if let Connect::Settings(settings) = &connect.connect
                    && let Some(name) = &settings.name
                {
                    intern(name);
                    tags.push(name.clone());
                }
            }
            _ => {}
        });
        walk_positioned(&scenario.steps, &mut Vec::new(), &mut |step, position| {
            if step.chance().is_some() || step.when().is_some() {
                let name = step.guard_name(position);
                intern(&name);
                tags.push(name);
            }
        });
        for rule in &scenario.on_message {
            if let Some(metric) = &rule.metric {
                custom_metrics.push(metric.clone());
                intern(metric);
            }
        }
    }
    Names {
        names,
        custom_metrics,
        tags,
    }
}

/// The regexes of HTTP header checks, compiled.
fn header_regexes(plan: &Plan) -> Result<HashMap<String, regex::Regex>, RegexBug> {
    let mut patterns: Vec<&str> = Vec::new();
    for scenario in plan.scenarios.values() {
        walk(&scenario.steps, &mut |step| {
            if let Step::Request(request) = step {
                let expect = request.request.expect.iter();
                patterns.extend(expect.flat_map(|e| e.headers.values()).map(String::as_str));
            }
        });
    }
    let mut regexes = HashMap::new();
    for pattern in patterns {
        regexes.insert(pattern.to_owned(), compile_regex(pattern)?);
    }
    Ok(regexes)
}

type ExpectMatchers = HashMap<usize, CompiledMatcher, foldhash::fast::FixedState>;

/// The matcher of every `expect` step, by its address, and of every `on_message` rule, by
/// scenario and rule in the plan's order.
fn matchers(plan: &Plan) -> Result<(ExpectMatchers, Vec<Vec<CompiledMatcher>>), RegexBug> {
    let mut expects = Vec::new();
    for scenario in plan.scenarios.values() {
        walk(&scenario.steps, &mut |step| {
            if let Step::Expect(expect) = step {
                expects.push((step_address(step), &expect.expect));
            }
        });
    }
    let mut by_step = ExpectMatchers::default();
    for (address, expectation) in expects {
        by_step.insert(address, CompiledMatcher::expect(expectation)?);
    }
    let on_message = plan
        .scenarios
        .values()
        .map(|scenario| {
            scenario
                .on_message
                .iter()
                .map(|rule| CompiledMatcher::on_message(&rule.matcher))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((by_step, on_message))
}

/// The keys of each `send` and `expect` step, by the step's address.
fn ws_keys(
    plan: &Plan,
    names: &HashMap<String, Arc<str>>,
    keys: &KeyMap,
) -> HashMap<usize, WsStepKeys, foldhash::fast::FixedState> {
    let find = |metric: &str, scenario: &str, name: Option<&str>| {
        keys.get(&key_hash(metric, scenario, name))
            .and_then(|candidates| {
                candidates.iter().find(|key| {
                    &*key.metric == metric
                        && &*key.scenario == scenario
                        && key.name.as_deref() == name
                })
            })
            .cloned()
            .unwrap_or_else(|| {
                SeriesKey::from(crate::results::Series {
                    metric: Arc::from(metric),
                    scenario: Arc::from(scenario),
                    name: name.map(Arc::from),
                    group: None,
                    response: None,
                })
            })
    };
    let mut ws_keys = HashMap::default();
    for (scenario, body) in &plan.scenarios {
        walk_grouped(&body.steps, None, &mut |step, group| {
            if matches!(step, Step::Send(_) | Step::Expect(_)) {
                let group = group.map(|g| names.get(g).map_or_else(|| Arc::from(g), Arc::clone));
                ws_keys.insert(
                    step_address(step),
                    WsStepKeys::new(step, scenario, group, &find),
                );
            }
        });
    }
    ws_keys
}

/// The keys of every (metric, scenario, name) the plan can record: built-in and custom
/// metrics, each scenario, no name or any name a step gives.
fn all_keys(
    plan: &Plan,
    names: &HashMap<String, Arc<str>>,
    metrics: &[String],
    tags: &[String],
) -> KeyMap {
    let name_of = |text: &str| names.get(text).map_or_else(|| Arc::from(text), Arc::clone);
    let mut keys = KeyMap::default();
    let metrics = crate::plan::metric::BUILTIN
        .iter()
        .map(|(metric, _)| *metric)
        .chain(metrics.iter().map(String::as_str));
    for metric in metrics {
        for scenario in plan.scenarios.keys() {
            for name in std::iter::once(None).chain(tags.iter().map(|t| Some(t.as_str()))) {
                let hash = key_hash(metric, scenario, name);
                let key = SeriesKey::from(crate::results::Series {
                    metric: name_of(metric),
                    scenario: name_of(scenario),
                    name: name.map(name_of),
                    group: None,
                    response: None,
                });
                let slot = keys.entry(hash).or_default();
                if !slot.contains(&key) {
                    slot.push(key);
                }
            }
        }
    }
    keys
}

fn request_keys(
    plan: &Plan,
    names: &HashMap<String, Arc<str>>,
    templates: &TemplateSet,
) -> HashMap<usize, Arc<RequestKeys>> {
    let name_of = |text: &str| names.get(text).map_or_else(|| Arc::from(text), Arc::clone);
    let mut keys = HashMap::new();
    for (scenario, body) in &plan.scenarios {
        walk_grouped(&body.steps, None, &mut |step, group| {
            if let Step::Request(step) = step {
                let request = &step.request;
                let mut made = RequestKeys::new(&name_of, request, scenario, group);
                let url = request.url.as_str();
                let constant = if crate::plan::template::Template::is_dynamic(url) {
                    templates.constant(url)
                } else {
                    Some(url)
                };
                if request.query.is_empty() {
                    made.uri = constant.and_then(|url| hyper::Uri::try_from(url).ok());
                }
                keys.insert(std::ptr::from_ref(request) as usize, Arc::new(made));
            }
        });
    }
    keys
}

/// The `step_chance` and `step_if` keys of every step with `chance:` or `if:`.
fn guard_keys(plan: &Plan, keys: &KeyMap) -> HashMap<usize, GuardKeys, foldhash::fast::FixedState> {
    let find = |metric: &str, scenario: &str, name: &str| {
        keys.get(&key_hash(metric, scenario, Some(name)))
            .and_then(|candidates| {
                candidates.iter().find(|key| {
                    &*key.metric == metric
                        && &*key.scenario == scenario
                        && key.name.as_deref() == Some(name)
                })
            })
            .cloned()
            .unwrap_or_else(|| {
                SeriesKey::from(crate::results::Series {
                    metric: Arc::from(metric),
                    scenario: Arc::from(scenario),
                    name: Some(Arc::from(name)),
                    group: None,
                    response: None,
                })
            })
    };
    let mut guards = HashMap::default();
    for (scenario, body) in &plan.scenarios {
        walk_positioned(&body.steps, &mut Vec::new(), &mut |step, position| {
            if step.chance().is_some() || step.when().is_some() {
                let name = step.guard_name(position);
                guards.insert(
                    step_address(step),
                    GuardKeys {
                        chance: find("step_chance", scenario, &name),
                        when: find("step_if", scenario, &name),
                    },
                );
            }
        });
    }
    guards
}

/// Calls `visit` on every step, nested ones included, with its position: its index in
/// its list, after those of the blocks around it.
fn walk_positioned<'p>(
    steps: &'p [Step],
    position: &mut Vec<usize>,
    visit: &mut dyn FnMut(&'p Step, &[usize]),
) {
    for (index, step) in steps.iter().enumerate() {
        position.push(index);
        visit(step, position);
        if let Some(children) = step.children() {
            walk_positioned(children, position, visit);
        }
        position.pop();
    }
}

/// Calls `visit` on every step, nested ones included, with the innermost `group` around it.
pub(super) fn walk_grouped<'p>(
    steps: &'p [Step],
    group: Option<&'p str>,
    visit: &mut dyn FnMut(&'p Step, Option<&'p str>),
) {
    for step in steps {
        visit(step, group);
        let inner = match step {
            Step::Group(step) => Some(step.group.as_str()),
            _ => group,
        };
        if let Some(children) = step.children() {
            walk_grouped(children, inner, visit);
        }
    }
}

/// Calls `visit` on every step, nested ones included.
pub(super) fn walk<'p>(steps: &'p [Step], visit: &mut dyn FnMut(&'p Step)) {
    walk_grouped(steps, None, &mut |step, _| visit(step));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn environment(value: &Value) -> Environment {
        serde_json::from_value(value.clone()).expect("the test's environment is valid")
    }

    #[test]
    fn env_context_keeps_the_run_s_order_and_precedence() {
        let mock = MockUrls {
            base_url: "http://127.0.0.1:9",
            ws_url: "ws://127.0.0.1:9/ws",
        };
        for (name, given, mock, expected) in [
            (None, None, None, json!({})),
            (Some("local"), None, None, json!({"name": "local"})),
            (
                Some("staging"),
                Some(json!({"base_url": "https://a", "values": {"region": "eu"}})),
                None,
                json!({"name": "staging", "region": "eu", "base_url": "https://a"}),
            ),
            // A value named like a field loses to the field and keeps its place; a value
            // named `name` replaces the environment's name.
            (
                Some("s"),
                Some(json!({
                    "base_url": "https://field",
                    "values": {"base_url": "https://value", "name": "renamed"}
                })),
                None,
                json!({"name": "renamed", "base_url": "https://field"}),
            ),
            (
                Some("s"),
                Some(json!({"values": {"ws_url": "wss://value"}})),
                None,
                json!({"name": "s", "ws_url": "wss://value"}),
            ),
            // The mock's URLs replace everything else's.
            (
                Some("local"),
                Some(json!({"mock": true, "values": {"ws_url": "x"}, "base_url": "https://y"})),
                Some(mock),
                json!({
                    "name": "local",
                    "ws_url": "ws://127.0.0.1:9/ws",
                    "base_url": "http://127.0.0.1:9"
                }),
            ),
        ] {
            let given = given.as_ref().map(environment);
            let made = Value::Object(env_context(name, given.as_ref(), mock));
            // Compared as text: the order of the keys is part of what is checked.
            assert_eq!(made.to_string(), expected.to_string(), "{name:?} {given:?}");
        }
    }

    #[test]
    fn mock_settings_come_from_the_environment() {
        let default = MockSettings::default();
        for (given, expected) in [
            (None, None),
            (Some(json!({"base_url": "http://x"})), None),
            (Some(json!({"mock": false})), None),
            (
                Some(json!({"mock": true})),
                Some((default.status, default.body_size)),
            ),
            (
                Some(json!({"mock": {"status": 503, "body_size": "2KiB"}})),
                Some((503, 2048)),
            ),
        ] {
            let given = given.as_ref().map(environment);
            let made = mock_settings(given.as_ref()).map(|s| (s.status, s.body_size));
            assert_eq!(made, expected, "{given:?}");
        }
    }

    #[test]
    fn the_template_base_has_secrets_only_when_given() {
        let vars: IndexMap<String, Value> = [("n".to_owned(), json!(3))].into_iter().collect();
        let secrets: IndexMap<String, String> = [("token".to_owned(), "s3cret".to_owned())]
            .into_iter()
            .collect();
        for (secrets, expected) in [
            (
                Some(&secrets),
                json!({"env": {"name": "e"}, "vars": {"n": 3}, "secrets": {"token": "s3cret"}, "stage": "smoke"}),
            ),
            (
                None,
                json!({"env": {"name": "e"}, "vars": {"n": 3}, "stage": "smoke"}),
            ),
        ] {
            let env = env_context(Some("e"), None, None);
            let base = Value::Object(template_base(env, &vars, secrets, "smoke"));
            assert_eq!(base.to_string(), expected.to_string());
        }
    }

    const PLAN: &str = r#"
name: prepared
environments: { local: { base_url: "http://127.0.0.1:1", ws_url: "ws://127.0.0.1:1" } }
stages: { short: { vus: 2, duration: 1s } }
scenarios:
  api:
    steps:
      - group: login
        steps:
          - request:
              url: "{{ env.base_url }}/login"
              name: login
              expect: { headers: { content-type: "^text/" } }
      - request: { url: "{{ env.base_url }}/items?id={{ vu }}" }
  chat:
    steps:
      - connect: "{{ env.ws_url }}"
      - send: { text: hi }
      - expect: { regex: "^h", name: greeting, metric: greeting_time }
    on_message:
      - match: { regex: "^tick" }
        metric: ticks
"#;

    fn checked() -> crate::plan::CheckedPlan {
        let (checked, diagnostics) = crate::plan::load(PLAN, &crate::plan::Selection::default());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        checked.expect("the test plan is valid")
    }

    /// Prepares the plan, taking its templates (the plan stays, so step addresses hold).
    fn prepared(checked: &mut crate::plan::CheckedPlan) -> Result<Prepared, RegexBug> {
        let environment = checked
            .env
            .as_deref()
            .and_then(|name| checked.plan.environments.get(name));
        let env = env_context(checked.env.as_deref(), environment, None);
        let base = template_base(env, &checked.vars, None, &checked.stage);
        let templates = std::mem::take(&mut checked.templates);
        prepare(&checked.plan, templates, base)
    }

    /// The steps of a scenario, nested ones included, in order.
    fn steps<'p>(checked: &'p crate::plan::CheckedPlan, scenario: &str) -> Vec<&'p Step> {
        let mut out = Vec::new();
        walk(&checked.plan.scenarios[scenario].steps, &mut |step| {
            out.push(step);
        });
        out
    }

    #[test]
    fn request_steps_get_their_keys_and_constant_uris() {
        let mut checked = checked();
        let prepared = prepared(&mut checked).expect("prepared");
        let requests: Vec<&RequestKeys> = steps(&checked, "api")
            .into_iter()
            .filter_map(|step| match step {
                Step::Request(step) => {
                    Some(&*prepared.request_keys[&(std::ptr::from_ref(&step.request) as usize)])
                }
                _ => None,
            })
            .collect();
        let shown: Vec<(&str, Option<&str>, Option<String>)> = requests
            .iter()
            .map(|keys| {
                (
                    &*keys.name,
                    keys.reqs.group.as_deref(),
                    keys.uri.as_ref().map(ToString::to_string),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "login",
                    Some("login"),
                    Some("http://127.0.0.1:1/login".to_owned())
                ),
                ("GET {{ env.base_url }}/items?id={{ vu }}", None, None),
            ]
        );
        assert_eq!(&*requests[0].reqs.metric, "http_reqs");
        assert_eq!(&*requests[0].reqs.scenario, "api");
    }

    #[test]
    fn websocket_steps_and_custom_metrics_get_shared_keys() {
        let mut checked = checked();
        let prepared = prepared(&mut checked).expect("prepared");
        let chat = steps(&checked, "chat");
        let expect = &prepared.ws_keys[&step_address(chat[2])];
        assert_eq!(&*expect.primary.metric, "greeting_time");
        assert_eq!(expect.primary.name.as_deref(), Some("greeting"));
        let send = &prepared.ws_keys[&step_address(chat[1])];
        assert_eq!(&*send.primary.metric, "ws_msgs_sent");
        for (metric, scenario, name) in [
            ("greeting_time", "chat", Some("greeting")),
            ("ticks", "chat", None),
            ("checks", "api", Some("greeting")),
        ] {
            let found = prepared
                .keys
                .get(&key_hash(metric, scenario, name))
                .is_some_and(|keys| {
                    keys.iter()
                        .any(|k| &*k.metric == metric && k.name.as_deref() == name)
                });
            assert!(found, "{metric} {scenario} {name:?}");
        }
        assert!(prepared.names.contains_key("ticks"));
        assert_eq!(prepared.regexes.keys().collect::<Vec<_>>(), ["^text/"]);
        let expect = &prepared.expect_matchers[&step_address(chat[2])];
        assert!(expect.matches("hi", None));
        assert!(!expect.matches("oh", None));
        let rules: Vec<usize> = prepared.on_message.iter().map(Vec::len).collect();
        assert_eq!(rules, [0, 1]);
        assert!(prepared.on_message[1][0].matches("tick 1", None));
    }

    #[test]
    fn a_regex_the_analyzer_should_have_rejected_is_an_error() {
        let mut checked = checked();
        if let Some(Step::Expect(step)) = checked.plan.scenarios["chat"].steps.get_mut(2) {
            step.expect.regex = Some("(".to_owned());
        }
        let error = prepared(&mut checked)
            .err()
            .expect("an unclosed group does not compile");
        assert_eq!(error.pattern, "(");
    }
}
