//! `derived` checks: each expression parses, does not take another metric's name, and uses
//! only names it can see (run values, vars, aggregations, derived metrics defined above).

use indexmap::IndexMap;

use super::{Analyzer, path, thresholds};
use crate::diag::did_you_mean;
use crate::plan::expr::{self, Expr};

impl Analyzer<'_, '_> {
    pub(super) fn derived(
        &mut self,
        metrics: &thresholds::Metrics,
        vars: &IndexMap<String, serde_json::Value>,
    ) -> Vec<(String, Expr)> {
        let mut out = Vec::new();
        for (name, text) in &self.plan.derived {
            let at = path!["derived", name.as_str()];
            if metrics.kind(name).is_some() {
                self.error_key(
                    &at,
                    format!("derived metric `{name}` has the name of another metric"),
                    None,
                );
            }
            let expr = match expr::parse(text) {
                Ok(expr) => expr,
                Err(error) => {
                    let span = self.inner_span(&at, error.offset, 1);
                    self.error_at(span, format!("invalid expression: {}", error.message), None);
                    continue;
                }
            };
            for (used, offset) in expr.names() {
                let known = metrics.expression_name(used, vars)
                    || self
                        .plan
                        .derived
                        .get_index_of(used)
                        .is_some_and(|i| Some(i) < self.plan.derived.get_index_of(name));
                if !known {
                    let candidates = metrics.expression_candidates(vars, &self.plan.derived);
                    let span = self.inner_span(&at, offset, used.chars().count());
                    self.error_at(
                        span,
                        format!("unknown name `{used}` in derived metric `{name}`"),
                        did_you_mean(used, candidates.iter().map(String::as_str)).or_else(|| {
                            Some("names are run values (`duration_s`, `vus_max`), `vars.NAME`, `METRIC.AGGREGATION` (like `http_reqs.count`) and derived metrics defined above".to_owned())
                        }),
                    );
                }
            }
            out.push((name.clone(), expr));
        }
        out
    }
}
