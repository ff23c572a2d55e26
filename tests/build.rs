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

/// A Cargo workspace of two services, each a `cargo build -p X` host build (through a `cargo`
/// that notes each invocation, see [`workspace`]).
const WORKSPACE: &str = r#"
services:
  alpha:
    build: ./ws
    init: true
    x-novadev:
      host_build:
        command: ["./tools/cargo", "build", "-p", "alpha"]
        workdir: ./ws
        artifact: target/debug/alpha
  beta:
    build: ./ws
    init: true
    x-novadev:
      host_build:
        command: ["./tools/cargo", "build", "-p", "beta"]
        workdir: ./ws
        artifact: target/debug/beta
"#;

/// Write the workspace of [`WORKSPACE`]; `cargo` invocations are noted in `invocations.log`.
fn workspace(p: &Project, alpha_main: &str, beta_main: &str) {
    p.write(
        "ws/Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"alpha\", \"beta\"]\n",
    );
    for (name, main) in [("alpha", alpha_main), ("beta", beta_main)] {
        p.write(
            &format!("ws/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        );
        p.write(&format!("ws/{name}/src/main.rs"), main);
    }
    p.write(
        "ws/tools/cargo",
        "#!/bin/sh\necho \"$*\" >> ../invocations.log\nexec cargo \"$@\"\n",
    );
    let tool = p.path().join("ws/tools/cargo");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    p.write("ws/Dockerfile", "FROM scratch\n");
    // The lock file up front, as a real workspace has it (cargo writing it during the first
    // build would be a source change, and the dev loop would build again).
    let lock = std::process::Command::new("cargo")
        .arg("generate-lockfile")
        .current_dir(p.path().join("ws"))
        .output()
        .expect("run cargo");
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
}

/// The `cargo build` invocations so far.
fn builds(p: &Project) -> Vec<String> {
    std::fs::read_to_string(p.path().join("invocations.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("build"))
        .map(str::to_string)
        .collect()
}

fn service_main(says: &str) -> String {
    format!(
        "fn main() {{\n    println!(\"{says}\");\n    std::thread::sleep(std::time::Duration::from_secs(86_400));\n}}\n"
    )
}

fn image_id(p: &Project, service: &str) -> String {
    common::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{}-{service}", p.name),
    ])
    .trim()
    .to_string()
}

#[test]
fn one_cargo_builds_a_workspace_and_only_changed_inputs_are_rebuilt() {
    let p = Project::new("cargows", WORKSPACE);
    workspace(&p, &service_main("alpha v1"), &service_main("beta v1"));

    let up = p.novadev(&["up", "--wait-timeout", "300s"]);
    assert!(up.ok(), "{}\n{}", up.stdout, up.stderr);
    assert_eq!(
        builds(&p),
        ["build --message-format=json -p alpha -p beta"],
        "one invocation built both; daemon log:\n{}",
        p.daemon_log()
    );
    assert!(
        up.stdout
            .contains("cargo builds 2 service(s) in ws/ at once: alpha, beta"),
        "{}",
        up.stdout
    );
    assert!(
        up.stdout.contains("cargo in ws/: compiling"),
        "progress is shown: {}",
        up.stdout
    );
    for name in ["alpha", "beta"] {
        common::wait_for(
            "the binary's output",
            std::time::Duration::from_secs(20),
            || {
                p.novadev(&["logs", name])
                    .stdout
                    .contains(&format!("{name} v1"))
                    .then_some(())
            },
        );
    }
    let (alpha1, beta1) = (image_id(&p, "alpha"), image_id(&p, "beta"));

    // Sources edited while no daemon runs: the next `up` rebuilds exactly what changed.
    let down = p.novadev(&["down"]);
    assert!(down.ok(), "{}", down.stderr);
    p.write("ws/alpha/src/main.rs", &service_main("alpha v2"));
    let up = p.novadev(&["up", "--wait-timeout", "300s"]);
    assert!(up.ok(), "{}\n{}", up.stdout, up.stderr);
    assert!(
        up.stdout
            .contains("cargo builds 1 service(s) in ws/ at once: alpha"),
        "only alpha's inputs changed: {}",
        up.stdout
    );
    assert_ne!(image_id(&p, "alpha"), alpha1, "alpha was rebuilt");
    assert_eq!(image_id(&p, "beta"), beta1, "beta was not");
    common::wait_for(
        "the new binary's output",
        std::time::Duration::from_secs(20),
        || {
            p.novadev(&["logs", "alpha"])
                .stdout
                .contains("alpha v2")
                .then_some(())
        },
    );

    // Nothing changed: nothing is built.
    let alpha2 = image_id(&p, "alpha");
    let up = p.novadev(&["up", "--wait-timeout", "300s"]);
    assert!(up.ok(), "{}\n{}", up.stdout, up.stderr);
    assert_eq!(builds(&p).len(), 2, "no build: {}", up.stdout);
    assert!(!up.stdout.contains("building"), "{}", up.stdout);
    assert_eq!(
        (image_id(&p, "alpha"), image_id(&p, "beta")),
        (alpha2, beta1)
    );
}

#[test]
fn a_compile_error_in_one_service_of_a_workspace_fails_that_service_only() {
    let p = Project::new("cargowsfail", WORKSPACE);
    workspace(
        &p,
        &service_main("alpha v1"),
        "fn main() { let n: u32 = \"three\"; }\n",
    );
    let up = p.novadev(&["up", "--wait-timeout", "300s", "--json"]);
    assert_eq!(up.code, 1, "{}\n{}", up.stdout, up.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&up.stdout).unwrap_or_else(|e| panic!("{e}: {}", up.stdout));
    let phase = |name: &str| {
        report["services"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["service"] == name))
            .map(|s| (s["phase"].clone(), s["detail"].to_string()))
            .unwrap_or_default()
    };
    let (alpha, _) = phase("alpha");
    let (beta, why) = phase("beta");
    assert_eq!(alpha, "ready", "{report}");
    assert_ne!(beta, "ready", "{report}");
    assert!(why.contains("error[E0308]: mismatched types"), "{why}");
    assert!(why.contains("src/main.rs"), "{why}");
}
