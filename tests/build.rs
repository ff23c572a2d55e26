//! Image builds against the real engine: Dockerfile contexts honor .dockerignore; host builds
//! are packaged into thin images; a failed host build says why; dev keys are generated once.

mod common;

use common::Project;

#[test]
fn dockerfile_build_sends_the_context_without_what_dockerignore_excludes() {
    let p = Project::new(
        "dockerfile",
        r#"
services:
  app:
    build: ./app
    init: true
"#,
    );
    p.write(
        "app/Dockerfile",
        "FROM debian:bookworm-slim\nCOPY . /ctx\nCMD [\"sleep\", \"infinity\"]\n",
    );
    p.write("app/.dockerignore", "secret.txt\nbuild/\n");
    p.write("app/kept.txt", "kept\n");
    p.write("app/secret.txt", "do not send\n");
    p.write("app/build/huge.bin", "x\n");
    p.write("app/src/build/nested.txt", "anchored patterns keep this\n");
    let report = p.up_ok(&[]);
    assert_eq!(report["services"][0]["phase"], "ready");
    let ls = p.exec("app", &["sh", "-c", "cd /ctx && find . -type f | sort"]);
    let files: Vec<&str> = ls.stdout.lines().collect();
    assert!(files.contains(&"./kept.txt"), "{files:?}");
    assert!(files.contains(&"./src/build/nested.txt"), "{files:?}");
    assert!(!files.contains(&"./secret.txt"), "{files:?}");
    assert!(
        !files.iter().any(|f| f.starts_with("./build/")),
        "{files:?}"
    );
    let image = &p.container("app").raw["Config"]["Image"];
    assert_eq!(image.as_str(), Some(format!("{}-app", p.name).as_str()));

    assert_eq!(
        p.labelled("image").len(),
        1,
        "the built image carries the project label"
    );
    let cleanup = p.novadev(&["cleanup", "--yes"]);
    assert!(cleanup.ok(), "{}", cleanup.stderr);
    assert!(
        p.labelled("image").is_empty(),
        "cleanup removes images it built"
    );
}

const HOST_BUILD: &str = r#"
services:
  tool:
    build: ./tool
    init: true
    x-novadev:
      host_build:
        command: ["sh", "./build.sh"]
        workdir: ./tool
        artifact: out/tool
      keys:
        - name: jwt
          target: /run/secrets/jwt
"#;

#[test]
fn host_build_packages_the_artifact_into_a_thin_image_and_mounts_generated_keys() {
    let p = Project::new("hostbuild", HOST_BUILD);
    // The "compiler": writes an executable script as the artifact.
    p.write(
        "tool/build.sh",
        "mkdir -p out\nprintf '#!/bin/sh\\necho built-on-the-host\\nexec sleep infinity\\n' > out/tool\nchmod +x out/tool\n",
    );
    // A Dockerfile for registry machines; the host build is used instead here.
    p.write("tool/Dockerfile", "FROM scratch\n");
    let report = p.up_ok(&[]);
    assert_eq!(report["services"][0]["phase"], "ready", "{report}");
    common::wait_for(
        "the artifact's output",
        std::time::Duration::from_secs(20),
        || {
            let logs = p.novadev(&["logs", "tool"]);
            logs.stdout.contains("built-on-the-host").then_some(())
        },
    );
    let entrypoint = &p.container("tool").raw["Config"]["Entrypoint"];
    assert_eq!(entrypoint[0], "/usr/local/bin/tool");
    let image: serde_json::Value = serde_json::from_str(&common::docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        &format!("{}-tool", p.name),
    ]))
    .expect("image config");
    assert_eq!(image["Entrypoint"][0], "/usr/local/bin/tool");
    assert!(
        image["Cmd"].is_null(),
        "the base's CMD is not kept: {image}"
    );
    assert_eq!(image["Labels"]["dev.novadev.service"], "tool", "{image}");
    // Loaded as the base plus one layer, not built: a classic build leaves a parent image.
    let parent = common::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Parent}}",
        &format!("{}-tool", p.name),
    ]);
    assert_eq!(
        parent.trim(),
        "",
        "packaged by a build, not by the layer load"
    );

    let keys = p.exec(
        "tool",
        &[
            "sh",
            "-c",
            "head -1 /run/secrets/jwt/private.pem /run/secrets/jwt/public.pem",
        ],
    );
    assert!(keys.stdout.contains("BEGIN PRIVATE KEY"), "{}", keys.stdout);
    assert!(keys.stdout.contains("BEGIN PUBLIC KEY"), "{}", keys.stdout);
    let on_host = p.daemon_dir().join("keys/jwt/private.pem");
    let first = std::fs::read(&on_host).expect("key pair in the state dir");
    let up_text = p.novadev(&["up", "--wait-timeout", "60s"]);
    assert!(up_text.ok(), "{}", up_text.stderr);
    assert!(
        !up_text.stdout.contains("PRIVATE KEY"),
        "keys are never printed"
    );
    assert_eq!(
        std::fs::read(&on_host).expect("still there"),
        first,
        "generated once"
    );
}

#[test]
fn failed_host_build_names_the_first_compiler_error_and_starts_nothing() {
    let p = Project::new("hostfail", HOST_BUILD);
    p.write(
        "tool/build.sh",
        "echo '   Compiling tool v0.1.0'\necho 'error[E0425]: cannot find value `nope` in this scope' >&2\necho ' --> src/main.rs:2:5' >&2\necho '' >&2\necho 'error: aborting due to 1 previous error' >&2\nexit 101\n",
    );
    p.write("tool/Dockerfile", "FROM scratch\n");
    let run = p.novadev(&["up", "--wait-timeout", "60s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("host build `sh ./build.sh` failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("error[E0425]: cannot find value `nope`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("src/main.rs:2:5"), "{}", run.stdout);
    assert!(p.labelled("container").is_empty());
}
