//! Plan variables, resolved once from the plan's text before anything else reads it: the
//! plan-time templates ([`super::knobs`]) and the analyzer both use the result.
//!
//! A variable's value is the first of (highest first):
//!
//! ```text
//! --var NAME=VALUE  ▶  $ENVVAR (a `from_env` declaration)  ▶  environments.E.vars.NAME  ▶  default
//! ```
//!
//! Each value keeps where it came from ([`Origin`]), so an error in a value built from it
//! can name both places. Command-line and environment texts are read as YAML reads a plain
//! value: `5` is a number, `30s` a string.

use std::fmt;

use indexmap::IndexMap;
use serde_json::Value;

use super::analyze::{Selection, path, tick_list};
use super::yaml::Document;
use crate::diag::{Diagnostic, did_you_mean};

/// The longest value an environment variable may give a plan variable.
pub const MAX_ENV_VALUE: usize = 64 * 1024;

/// The keys a `from_env` declaration may have.
const DECLARATION_KEYS: [&str; 3] = ["from_env", "default", "description"];

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The plan's `vars` (a plain value or a declaration's `default`).
    Default,
    /// `environments.ENV.vars`.
    Environment(String),
    /// The process environment variable a declaration names.
    ProcessEnv(String),
    /// `--var`.
    CommandLine,
}

impl Origin {
    /// The place, as an error names it: `--var vus`, `$VUS`, `environments.ci.vars.vus`,
    /// `vars.vus`.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Self::Default => format!("vars.{name}"),
            Self::Environment(env) => format!("environments.{env}.vars.{name}"),
            Self::ProcessEnv(variable) => format!("${variable}"),
            Self::CommandLine => format!("--var {name}"),
        }
    }
}

/// The plan's variables with every override applied, and where each value came from.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub values: IndexMap<String, Value>,
    pub origins: IndexMap<String, Origin>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the plan's default"),
            Self::Environment(env) => write!(f, "environment `{env}`"),
            Self::ProcessEnv(variable) => write!(f, "${variable}"),
            Self::CommandLine => f.write_str("--var"),
        }
    }
}

/// A command-line or environment text as a value: a number, boolean or null when it reads
/// as one, else the text.
pub fn parse_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The environment a plan runs in, as its text says: the selected one when the plan has
/// it, else the first (an unknown `--env` is the analyzer's error).
pub fn environment_name(root: &Value, selection: &Selection) -> Option<String> {
    let environments = root.get("environments")?.as_object()?;
    match &selection.env {
        Some(wanted) => environments.contains_key(wanted).then(|| wanted.clone()),
        None => environments.keys().next().cloned(),
    }
}

/// Resolves the variables of `document` for `selection` in environment `env`.
pub fn resolve(
    document: &Document<'_>,
    env: Option<&str>,
    selection: &Selection,
) -> (Vars, Vec<Diagnostic>) {
    let mut out = Vars::default();
    let mut diagnostics = Vec::new();
    let root = &document.value;
    let empty = serde_json::Map::new();
    let declared = root
        .get("vars")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let env_vars = env
        .and_then(|env| root.get("environments")?.get(env)?.get("vars")?.as_object())
        .unwrap_or(&empty);
    for (name, env_value) in env_vars {
        if !declared.contains_key(name) {
            diagnostics.push(
                Diagnostic::warning(
                    Some(document.key_span(&[
                        "environments".into(),
                        env.unwrap_or_default().into(),
                        "vars".into(),
                        name.as_str().into(),
                    ])),
                    format!("environment variable override `{name}` is not declared in the plan's `vars`"),
                )
                .with_help(did_you_mean(name, declared.keys().map(String::as_str))),
            );
            out.values.insert(name.clone(), env_value.clone());
            out.origins.insert(
                name.clone(),
                Origin::Environment(env.unwrap_or_default().to_owned()),
            );
        }
    }
    let command_line: IndexMap<&str, &str> = selection
        .vars
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    for (name, text) in &command_line {
        if !declared.contains_key(*name) {
            diagnostics.push(
                Diagnostic::error(
                    None,
                    format!("--var `{name}`: the plan declares no such variable in `vars`"),
                )
                .with_help(did_you_mean(name, declared.keys().map(String::as_str))),
            );
            // Still a value, so templates naming it are not reported a second time.
            out.values.insert((*name).to_owned(), parse_text(text));
            out.origins.insert((*name).to_owned(), Origin::CommandLine);
        }
    }
    for (name, written) in declared {
        let at = path!["vars", name.as_str()];
        let declaration = written
            .as_object()
            .filter(|mapping| mapping.contains_key("from_env"));
        let (from_env, default) = match declaration {
            Some(mapping) => {
                for key in mapping.keys() {
                    if !DECLARATION_KEYS.contains(&key.as_str()) {
                        diagnostics.push(
                            Diagnostic::error(
                                Some(document.key_span(&[at.clone(), path![key.as_str()]].concat())),
                                format!("unknown key `{key}` in the declaration of variable `{name}`"),
                            )
                            .with_help(did_you_mean(key, DECLARATION_KEYS).or_else(|| {
                                Some(format!(
                                    "a mapping with `from_env` declares a variable; its keys are {}",
                                    tick_list(&DECLARATION_KEYS)
                                ))
                            })),
                        );
                    }
                }
                let from_env = mapping.get("from_env").and_then(Value::as_str);
                if !from_env.is_some_and(is_variable_name) {
                    diagnostics.push(
                        Diagnostic::error(
                            Some(document.value_span(&[at.clone(), path!["from_env"]].concat())),
                            format!("`from_env` of variable `{name}` takes an environment variable name, like `VUS`"),
                        ),
                    );
                }
                (from_env, mapping.get("default"))
            }
            None => (None, Some(written)),
        };
        let from_process = match from_env.filter(|v| is_variable_name(v)) {
            Some(variable) if !command_line.contains_key(name.as_str()) => {
                read_env(document, &at, name, variable, selection, &mut diagnostics)
            }
            _ => Ok(None),
        };
        let resolved = if let Some(text) = command_line.get(name.as_str()) {
            Some((parse_text(text), Origin::CommandLine))
        } else if let Some(variable) = from_env
            && let Err(()) | Ok(Some(_)) = from_process
        {
            // An unreadable value was reported; a placeholder keeps it from being reported
            // again as missing.
            let value = from_process.unwrap_or_default().unwrap_or_default();
            Some((value, Origin::ProcessEnv(variable.to_owned())))
        } else if let Some(value) = env_vars.get(name) {
            Some((
                value.clone(),
                Origin::Environment(env.unwrap_or_default().to_owned()),
            ))
        } else {
            default.map(|value| (value.clone(), Origin::Default))
        };
        match resolved {
            Some((value, origin)) => {
                out.values.insert(name.clone(), value);
                out.origins.insert(name.clone(), origin);
            }
            None => {
                let variable = from_env.unwrap_or("…");
                diagnostics.push(
                    Diagnostic::error(
                        Some(document.key_span(&at)),
                        format!("variable `{name}` has no value: `${variable}` is not set and it has no `default`"),
                    )
                    .with_help(Some(format!(
                        "set {variable}=…, pass --var {name}=…, or give it a `default`"
                    ))),
                );
                // A placeholder, so that templates naming it are not reported too.
                out.values.insert(name.clone(), Value::Null);
                out.origins.insert(name.clone(), Origin::Default);
            }
        }
    }
    (out, diagnostics)
}

/// Whether `text` can name an environment variable: letters, digits and `_`, not
/// starting with a digit.
fn is_variable_name(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The value of `$variable` for variable `name`, when the process environment sets it;
/// a value that is not UTF-8 or longer than [`MAX_ENV_VALUE`] is an error.
fn read_env(
    document: &Document<'_>,
    at: &[super::yaml::Segment],
    name: &str,
    variable: &str,
    selection: &Selection,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<Value>, ()> {
    let Some(raw) = selection
        .process_env
        .as_ref()
        .and_then(|lookup| lookup.get(variable))
    else {
        return Ok(None);
    };
    let span = Some(document.value_span(&[at.to_vec(), path!["from_env"]].concat()));
    let Ok(text) = raw.into_string() else {
        diagnostics.push(Diagnostic::error(
            span,
            format!("`${variable}` (variable `{name}`) is not valid UTF-8"),
        ));
        return Err(());
    };
    if text.len() > MAX_ENV_VALUE {
        diagnostics.push(Diagnostic::error(
            span,
            format!(
                "`${variable}` (variable `{name}`) is {} bytes long; a variable's value is at most {MAX_ENV_VALUE}",
                text.len()
            ),
        ));
        return Err(());
    }
    Ok(Some(parse_text(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn lookup(name: &str) -> Option<OsString> {
        match name {
            "VUS" => Some("7".into()),
            "BAD" => {
                use std::os::unix::ffi::OsStringExt;
                Some(OsString::from_vec(vec![0xff, 0xfe]))
            }
            "LONG" => Some("x".repeat(MAX_ENV_VALUE + 1).into()),
            _ => None,
        }
    }

    fn resolved(source: &str, selection: &Selection) -> (Vars, Vec<Diagnostic>) {
        let document = Document::load(source).expect("loads");
        let env = environment_name(&document.value, selection);
        resolve(&document, env.as_deref(), selection)
    }

    #[test]
    fn precedence_is_command_line_env_environment_default() {
        let source = "vars:\n  vus: { default: 5, from_env: VUS }\n  rate: { default: 1, from_env: RATE }\n  size: 3\nenvironments:\n  ci: { vars: { vus: 9, rate: 2 } }\n";
        let with_env = Selection {
            process_env: Some(crate::plan::EnvLookup::new(lookup)),
            ..Selection::default()
        };
        let (vars, diagnostics) = resolved(source, &with_env);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(vars.values["vus"], 7);
        assert_eq!(vars.origins["vus"].describe("vus"), "$VUS");
        assert_eq!(vars.values["rate"], 2);
        assert_eq!(
            vars.origins["rate"].describe("rate"),
            "environments.ci.vars.rate"
        );
        assert_eq!(vars.values["size"], 3);
        assert_eq!(vars.origins["size"].describe("size"), "vars.size");
        let command_line = Selection {
            vars: vec![("vus".into(), "11".into())],
            ..with_env
        };
        let (vars, _) = resolved(source, &command_line);
        assert_eq!(vars.values["vus"], 11);
        assert_eq!(vars.origins["vus"].describe("vus"), "--var vus");
        let (vars, _) = resolved(source, &Selection::default());
        assert_eq!(vars.values["vus"], 9);
    }

    #[test]
    fn bad_environment_values_are_located_errors() {
        let source = "vars:\n  a: { from_env: BAD, default: 1 }\n  b: { from_env: LONG }\n  c: { from_env: UNSET }\n  d: { from_env: VUS, defualt: 1 }\n  e: { from_env: 5, default: 1 }\n";
        let selection = Selection {
            process_env: Some(crate::plan::EnvLookup::new(lookup)),
            ..Selection::default()
        };
        let (_, diagnostics) = resolved(source, &selection);
        let messages: Vec<(usize, &str)> = diagnostics
            .iter()
            .map(|d| (d.span.map_or(0, |s| s.line), d.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(messages[4].1.contains("takes an environment variable name") && messages[4].0 == 6);
        assert!(messages[0].1.contains("not valid UTF-8") && messages[0].0 == 2);
        assert!(messages[1].1.contains("bytes long") && messages[1].0 == 3);
        assert!(messages[2].1.contains("`$UNSET` is not set") && messages[2].0 == 4);
        assert!(messages[3].1.contains("unknown key `defualt`") && messages[3].0 == 5);
        assert_eq!(
            diagnostics[3].help.as_deref(),
            Some("did you mean `default`?")
        );
    }
}
