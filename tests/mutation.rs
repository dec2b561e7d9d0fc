//! Random damage to the shipped plans: the loader must answer with located errors (or a
//! valid plan, when the damage happens to be harmless), and never panic.

use crate::common::{relative, yaml_files};

/// One way of damaging a plan, chosen at random.
fn mutate(text: &str, rng: &mut fastrand::Rng) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let pick = rng.usize(..lines.len());
    match rng.u8(..8) {
        0 => {
            lines.remove(pick);
        }
        1 => {
            let other = rng.usize(..lines.len());
            lines.swap(pick, other);
        }
        2 => {
            lines.insert(pick, lines[rng.usize(..lines.len())]);
        }
        3 => {
            let end = text
                .char_indices()
                .map(|(i, _)| i)
                .nth(rng.usize(..text.chars().count().max(1)))
                .unwrap_or(0);
            return text[..end].to_owned();
        }
        4 => {
            // Swap two values of the plan, keeping the keys.
            let values: Vec<&str> = lines
                .iter()
                .filter_map(|l| l.split_once(": ").map(|(_, v)| v))
                .collect();
            if let (Some(line), false) = (lines.get(pick), values.is_empty())
                && let Some((key, _)) = line.split_once(": ")
            {
                let replaced = format!("{key}: {}", values[rng.usize(..values.len())]);
                let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
                out[pick] = replaced;
                return out.join("\n");
            }
        }
        5 => {
            let junk = [
                "{", "}", "[", "- ", ": ", "\"", "'", "&a ", "*a", "<<: ", "\t", "{{", "%", "#",
            ];
            let mut line = lines[pick].to_owned();
            let at = line
                .char_indices()
                .map(|(i, _)| i)
                .nth(
                    rng.usize(..=line.chars().count())
                        .min(line.chars().count().saturating_sub(1)),
                )
                .unwrap_or(0);
            line.insert_str(at, junk[rng.usize(..junk.len())]);
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            out[pick] = line;
            return out.join("\n");
        }
        6 => {
            // Nest a line's value in block style, sometimes past the depth limit.
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            let depth = rng.usize(1..400);
            out[pick] = match out[pick].split_once(": ") {
                Some((key, value)) => format!("{key}:\n{}{value}", "- ".repeat(depth)),
                None => format!("{}{}", "- ".repeat(depth), out[pick].trim_start()),
            };
            return out.join("\n");
        }
        _ => {
            // Re-indent a line.
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            out[pick] = if rng.bool() {
                format!("  {}", out[pick])
            } else {
                out[pick].trim_start().to_owned()
            };
            return out.join("\n");
        }
    }
    lines.join("\n")
}

#[test]
fn damaged_plans_get_errors_never_panics() {
    let mut files = yaml_files("plans");
    files.extend(yaml_files("examples"));
    let mut rng = fastrand::Rng::with_seed(0x10AD_9A11);
    let mut invalid = 0;
    let mut total = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable plan");
        let line_count = text.lines().count() + 1;
        for round in 0..300 {
            let damaged = mutate(&text, &mut rng);
            let (checked, diagnostics) = loadplan::plan::load(&damaged, &Default::default());
            total += 1;
            if checked.is_none() {
                invalid += 1;
                assert!(
                    diagnostics
                        .iter()
                        .any(|d| d.severity == loadplan::diag::Severity::Error),
                    "{} round {round}: rejected without an error\n{damaged}",
                    relative(&file)
                );
            }
            for diagnostic in &diagnostics {
                if let Some(span) = diagnostic.span {
                    assert!(
                        span.line >= 1 && span.line <= line_count && span.col >= 1,
                        "{} round {round}: span {span:?} outside the text\n{damaged}",
                        relative(&file)
                    );
                }
                assert!(!diagnostic.message.is_empty());
            }
        }
    }
    // Most damage must be noticed; a test that finds nothing wrong is not testing.
    assert!(
        invalid * 2 > total,
        "only {invalid} of {total} damaged plans were rejected"
    );
}
