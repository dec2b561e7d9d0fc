//! The command line, as declarations only (clap derive); `run.rs` acts on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  loadplan validate plans/*.yaml                 check plans; every problem as file:line:col
  loadplan validate plan.yaml --env staging --stage scale --var payload_bytes=1024
  loadplan schema > schema/loadplan.schema.json  the JSON Schema editors autocomplete from
  loadplan completions bash > /etc/bash_completion.d/loadplan

Exit codes: 0 ok · 2 invalid plan or usage · 99 a threshold failed · 1 the run failed · 130 interrupted";

/// loadplan: load tests described in YAML plans — stages, VU ramps, HTTP and WebSocket
/// steps, thresholds — with results written into your baselines document.
#[derive(Debug, Parser)]
#[command(name = "loadplan", version, about, after_help = EXAMPLES)]
pub struct Arguments {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans and report every problem at once (exit 0 when valid, 2 otherwise)
    #[command(
        after_help = "Example:\n  loadplan validate plans/*.yaml examples/*.yaml --stage smoke"
    )]
    Validate {
        /// Plan files
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
        #[command(flatten)]
        selection: SelectionArgs,
    },
    /// Print the plan JSON Schema (draft 2020-12)
    #[command(after_help = "Example:\n  loadplan schema > schema/loadplan.schema.json")]
    Schema,
    /// Print a shell completion script
    #[command(after_help = "Example:\n  loadplan completions zsh > ~/.zfunc/_loadplan")]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// Which environment and stage of a plan to use, and variable overrides.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Environment of the plan to use (default: the first)
    #[arg(long, env = "LOADPLAN_ENV", value_name = "NAME")]
    pub env: Option<String>,
    /// Stage of the plan to use (default: the first)
    #[arg(long, env = "LOADPLAN_STAGE", value_name = "NAME")]
    pub stage: Option<String>,
    /// Override a plan variable: --var payload_bytes=1024 (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, found `{text}`"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, found `{text}`"));
    }
    Ok((name.to_owned(), value.to_owned()))
}
