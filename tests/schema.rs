//! The committed schema is exactly what `loadplan schema` prints.

use crate::common::{loadplan, root};

#[test]
fn committed_schema_matches_the_types() {
    let output = loadplan(&["schema"]);
    assert_eq!(output.status, 0, "{}", output.stderr);
    let committed = std::fs::read_to_string(root().join("schema/loadplan.schema.json"))
        .expect("schema/loadplan.schema.json is committed");
    assert!(
        output.stdout == committed,
        "schema/loadplan.schema.json is stale: run `cargo run -- schema > schema/loadplan.schema.json`"
    );
}

#[test]
fn schema_is_draft_2020_12_and_closed() {
    let output = loadplan(&["schema"]);
    let schema: serde_json::Value =
        serde_json::from_str(&output.stdout).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false);
    for (name, definition) in schema["$defs"].as_object().expect("$defs") {
        if definition.get("properties").is_some() {
            assert_eq!(
                definition["additionalProperties"], false,
                "`{name}` must reject unknown keys"
            );
        }
    }
}
