//! Coverage-guided fuzzing of the stack loader through its pure entry point.
//!
//! The input is up to three files separated by NUL bytes (which YAML cannot contain anyway):
//! `compose.yaml`, then `.env`, then a third file that is both merged as
//! `compose.override.yaml` and readable as `sub/compose.yaml` (for `include:` and
//! `extends: {file}`). A build context with a Dockerfile and an env file exist beside them, so
//! that those paths of the loader are reached too. `fuzz/seeds/` holds inputs in this format.
//! What is checked: the loader never panics, and a stack it accepts renders (`novadev config`) to
//! YAML that loads again.
//!
//! One exception: panics inside the YAML library (libyaml-safer has a few `panic!`s left on odd
//! input) are caught by the loader and turned into an error, which is the behaviour under test;
//! libFuzzer's panic hook would abort on them before the loader could catch them, so the hook
//! lets those through.
#![no_main]

use std::path::PathBuf;
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use novadev::stack::{LoadOptions, Memory, load_from_sources, render_yaml};

static HOOK: Once = Once::new();

fn let_yaml_library_panics_unwind() {
    HOOK.call_once(|| {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_yaml_library = info
                .location()
                .is_some_and(|l| l.file().contains("libyaml-safer"));
            if !in_yaml_library {
                abort_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_yaml_library_panics_unwind();
    let mut parts = data.splitn(3, |b| *b == 0);
    let compose = parts.next().unwrap_or_default();
    let dotenv = parts.next();
    let override_file = parts.next();

    let mut sources = Memory::new()
        .with("/fuzz/compose.yaml", compose)
        .with("/fuzz/app/Dockerfile", "FROM scratch\n")
        .with("/fuzz/app.env", "A=1\nB=${A}-x\n");
    let mut files = vec![PathBuf::from("compose.yaml")];
    if let Some(dotenv) = dotenv {
        sources = sources.with("/fuzz/.env", dotenv);
    }
    if let Some(over) = override_file {
        sources = sources
            .with("/fuzz/compose.override.yaml", over)
            .with("/fuzz/sub/compose.yaml", over);
        files.push(PathBuf::from("compose.override.yaml"));
    }
    let opts = LoadOptions {
        files,
        working_dir: PathBuf::from("/fuzz"),
        project_name: None,
        profiles: vec!["debug".into()],
        env: [("HOME".to_string(), "/home/fuzz".to_string())].into(),
    };
    let Ok(loaded) = load_from_sources(&sources, &opts) else {
        return;
    };
    let rendered = render_yaml(&loaded.stack);
    // The same files (build contexts, secrets, env files) with the rendered stack in its place.
    let again = sources.with("/fuzz/compose.yaml", rendered.as_bytes());
    let opts = LoadOptions {
        files: vec![PathBuf::from("compose.yaml")],
        ..opts
    };
    if let Err(e) = load_from_sources(&again, &opts) {
        panic!("the rendered stack does not load again:\n{e}\n--- rendered:\n{rendered}");
    }
});
