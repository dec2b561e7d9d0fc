//! Every malformed plan under tests/plans/invalid gets exactly the errors in its `.stderr`
//! file and exit 2. `UPDATE_GOLDEN=1 cargo test` rewrites the expectations; review the diff.

use crate::common::{golden, loadplan, relative, yaml_files};

#[test]
fn malformed_plans_get_located_errors() {
    let files = yaml_files("tests/plans/invalid");
    assert!(
        files.len() >= 30,
        "expected at least 30 malformed plans, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in files {
        let shown = relative(&file);
        let output = loadplan(&["validate", &shown]);
        if output.status != 2 {
            failures.push(format!(
                "{shown}: exit {} instead of 2\n{}",
                output.status, output.stderr
            ));
            continue;
        }
        if !output.stderr.starts_with(&format!("{shown}:")) || output.stderr.contains("panicked") {
            failures.push(format!("{shown}: not a located error:\n{}", output.stderr));
            continue;
        }
        if let Err(difference) = golden(&file.with_extension("stderr"), &output.stderr) {
            failures.push(difference);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
