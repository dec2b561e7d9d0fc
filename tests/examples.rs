//! Every plan shipped in `plans/` and `examples/` is valid and starts with the schema line.

use crate::common::{loadplan, relative, yaml_files};

#[test]
fn shipped_plans_validate() {
    let mut files = yaml_files("plans");
    files.extend(yaml_files("examples"));
    assert!(
        files.len() >= 5,
        "expected the seed plans and the quickstart, found {files:?}"
    );
    for file in files {
        let shown = relative(&file);
        let text = std::fs::read_to_string(&file).expect("readable plan");
        assert!(
            text.starts_with("# yaml-language-server: $schema="),
            "{shown} must start with the yaml-language-server schema line"
        );
        let output = loadplan(&["validate", &shown]);
        assert_eq!(output.status, 0, "{shown}:\n{}", output.stderr);
        assert!(
            output.stdout.contains("valid"),
            "{shown}: {}",
            output.stdout
        );
        assert!(
            !output.stderr.contains("warning"),
            "{shown} has warnings:\n{}",
            output.stderr
        );
    }
}

#[test]
fn every_stage_and_environment_of_shipped_plans_validates() {
    let mut files = yaml_files("plans");
    files.extend(yaml_files("examples"));
    for file in files {
        let shown = relative(&file);
        let text = std::fs::read_to_string(&file).expect("readable plan");
        // Data files are read beside the plan, as `validate` reads them.
        let folder = file.parent().expect("a plan's folder").to_path_buf();
        let files = Some(loadplan::plan::source::data_files(folder));
        let first = loadplan::plan::Selection {
            files: files.clone(),
            ..Default::default()
        };
        let (checked, diagnostics) = loadplan::plan::load(&text, &first);
        let checked = checked.unwrap_or_else(|| panic!("{shown}: {diagnostics:?}"));
        for stage in checked.plan.stages.keys() {
            for env in checked.plan.environments.keys() {
                let selection = loadplan::plan::Selection {
                    env: Some(env.clone()),
                    stage: Some(stage.clone()),
                    files: files.clone(),
                    ..Default::default()
                };
                let (again, diagnostics) = loadplan::plan::load(&text, &selection);
                assert!(
                    again.is_some(),
                    "{shown} --env {env} --stage {stage}: {diagnostics:?}"
                );
            }
        }
    }
}
