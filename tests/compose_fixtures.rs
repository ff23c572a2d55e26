//! Each folder of `tests/fixtures/compose/` is one Compose feature or one bug, loaded as
//! `novadev config` would load it; its resolved model and warnings are compared with a golden
//! file (`tests/snapshots/`, insta). No Docker: `tests/compose_engine.rs` runs them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use novadev::stack::{LoadOptions, load};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("compose.yaml").is_file())
        .collect();
    cases.sort();
    cases
}

/// The resolved stack as YAML-friendly data, with the fixture's absolute directory replaced by
/// `<fixture>` so that the golden files hold on any machine.
fn resolved(case: &Path) -> serde_json::Value {
    let env: BTreeMap<String, String> = [("HOME".to_string(), "/home/dev".to_string())].into();
    let outcome = load(&LoadOptions {
        files: vec![case.join("compose.yaml")],
        working_dir: case.to_path_buf(),
        project_name: Some("fixture".into()),
        profiles: Vec::new(),
        env,
    });
    let value = match outcome {
        Ok(loaded) => serde_json::json!({
            "services": loaded.stack.services,
            "networks": loaded.stack.networks,
            "volumes": loaded.stack.volumes,
            "warnings": loaded.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let text = serde_json::to_string(&value).expect("json");
    let text = text.replace(&case.display().to_string(), "<fixture>");
    let mut value = serde_json::from_str(&text).expect("json");
    prune(&mut value);
    value
}

/// Drops nulls and empty lists and maps, so that a golden file shows what the stack sets.
fn prune(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.values_mut().for_each(prune);
            map.retain(|_, v| !is_empty(v));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

#[test]
fn every_fixture_resolves_to_its_golden_model() {
    let cases = cases();
    assert!(cases.len() >= 20, "{cases:?}");
    for case in cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_string();
        let value = resolved(&case);
        assert!(
            value.get("error").is_none(),
            "{name} does not load: {}",
            value["error"]
        );
        insta::assert_yaml_snapshot!(name, value);
    }
}

/// `novadev config` output is itself a stack file that loads to the same model.
#[test]
fn every_fixture_renders_to_a_file_that_loads_back_the_same() {
    for case in cases() {
        let opts = |file: PathBuf, dir: &Path| LoadOptions {
            files: vec![file],
            working_dir: dir.to_path_buf(),
            project_name: Some("fixture".into()),
            profiles: Vec::new(),
            env: [("HOME".to_string(), "/home/dev".to_string())].into(),
        };
        let first = load(&opts(case.join("compose.yaml"), &case))
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()))
            .stack;
        let rendered = novadev::stack::render_yaml(&first);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("compose.yaml"), &rendered).expect("write");
        let second = load(&opts(dir.path().join("compose.yaml"), dir.path()))
            .unwrap_or_else(|e| {
                panic!(
                    "{}: rendered config does not load: {e}\n{rendered}",
                    case.display()
                )
            })
            .stack;
        assert_eq!(
            serde_json::to_value(&first.services).expect("json"),
            serde_json::to_value(&second.services).expect("json"),
            "{}: rendered:\n{rendered}",
            case.display()
        );
    }
}
