//! What to watch and what a changed path means: which services it concerns and with which
//! action. Pure apart from reading ignore files when the plan is made.
//!
//! A service with `develop.watch` rules is watched by those rules (Compose semantics). A service
//! with a build (`build:` or `x-novadev.host_build`) and no rules is rebuilt when anything in its
//! build context (or host-build workdir) changes, unless `x-novadev.rebuild_on_change: false`.
//! Ignored everywhere: `.git/`, `target/`, editor temp files, and what `.gitignore` files under the
//! project say; per build context its `.dockerignore`; per rule its `ignore:` patterns. A host
//! build's own output never triggers its service: the artifact, and the directories on the way to
//! it (their creation), are not changes to the sources — otherwise every build would start the next.
//! Nor is anything under novadev's own state directory (the daemon's log, socket and keys), which
//! may well sit inside the tree: its log grows with every event, so watching it feeds itself.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::stack::model::{Stack, WatchAction};

/// Patterns ignored in every watched tree.
const ALWAYS_IGNORED: &[&str] = &[
    ".git/",
    "target/",
    // Cargo makes a new `target/` as `target` plus six random characters, then renames it.
    "target??????",
    "*.swp",
    "*.swx",
    "*.swo",
    "*~",
    ".#*",
    "#*#",
    "4913",
    ".DS_Store",
];

/// One watched root of one service.
#[derive(Debug, Clone)]
pub struct Entry {
    pub service: String,
    pub root: PathBuf,
    pub action: WatchAction,
    /// Index into the service's `develop.watch`, when the entry comes from a rule.
    pub rule: Option<usize>,
    ignore: Gitignore,
    /// A host build's artifact: written by the build itself, so not a source change.
    artifact: Option<PathBuf>,
}

/// A changed path that concerns a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    pub service: String,
    pub action: WatchAction,
    pub rule: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    entries: Vec<Entry>,
    /// `.gitignore` files found under the roots (each rooted at its own directory) plus the
    /// always-ignored patterns.
    gitignores: Vec<Gitignore>,
    always: Gitignore,
    /// Directories novadev itself writes to (its state dir): never a change to anything.
    private: Vec<PathBuf>,
}

fn matcher(root: &Path, patterns: &[String]) -> Gitignore {
    let mut builder = GitignoreBuilder::new(root);
    for p in patterns {
        // A bad pattern in a stack is reported when the rule is used; here it is skipped.
        let _ = builder.add_line(None, p);
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

impl Plan {
    /// The plan for `stack`, with novadev's state directory left out.
    pub fn from_stack(stack: &Stack) -> Plan {
        Plan::with_private(stack, &[crate::paths::base_dir()])
    }

    /// The plan for `stack`, with `private` directories (and what is under them) left out.
    pub fn with_private(stack: &Stack, private: &[PathBuf]) -> Plan {
        let mut entries = Vec::new();
        for (name, svc) in &stack.services {
            let rules = svc
                .develop
                .as_ref()
                .map(|d| d.watch.as_slice())
                .unwrap_or(&[]);
            if !rules.is_empty() {
                for (i, rule) in rules.iter().enumerate() {
                    entries.push(Entry {
                        service: name.clone(),
                        root: rule.path.clone(),
                        action: rule.action,
                        rule: Some(i),
                        ignore: matcher(&rule.path, &rule.ignore),
                        artifact: None,
                    });
                }
                continue;
            }
            if svc.novadev.rebuild_on_change == Some(false) {
                continue;
            }
            let host_build = svc.novadev.host_build.as_ref();
            let context = svc
                .build
                .as_ref()
                .map(|b| b.context.clone())
                .or_else(|| host_build.map(|h| h.workdir.clone()));
            if let Some(context) = context {
                let ignore =
                    crate::build::dockerignore(&context).unwrap_or_else(|_| Gitignore::empty());
                entries.push(Entry {
                    service: name.clone(),
                    root: context,
                    action: WatchAction::Rebuild,
                    rule: None,
                    ignore,
                    artifact: host_build.map(|h| h.artifact.clone()),
                });
            }
        }
        let mut plan = Plan {
            entries,
            gitignores: Vec::new(),
            always: matcher(
                Path::new("/"),
                &ALWAYS_IGNORED
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            ),
            private: private_forms(private),
        };
        plan.gitignores = plan.find_gitignores(&stack.project_dir);
        plan
    }

    /// `.gitignore` files in the project dir's ancestors (the repository's) and under the roots.
    fn find_gitignores(&self, project_dir: &Path) -> Vec<Gitignore> {
        let mut files: Vec<PathBuf> = project_dir
            .ancestors()
            .map(|d| d.join(".gitignore"))
            .filter(|f| f.is_file())
            .collect();
        for root in self.roots() {
            let walker = ignore::WalkBuilder::new(&root)
                .standard_filters(false)
                .hidden(false)
                .filter_entry({
                    let always = self.always.clone();
                    move |e| {
                        let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                        !always.matched(e.path(), is_dir).is_ignore()
                    }
                })
                .build();
            for entry in walker.flatten() {
                if entry.file_name() == ".gitignore" {
                    files.push(entry.path().to_path_buf());
                }
            }
        }
        files.sort();
        files.dedup();
        files
            .into_iter()
            .filter_map(|f| {
                let dir = f.parent()?.to_path_buf();
                let mut b = GitignoreBuilder::new(dir);
                b.add(&f);
                b.build().ok()
            })
            .collect()
    }

    /// Directories to watch: the entries' roots, without those inside another root.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self.entries.iter().map(|e| e.root.clone()).collect();
        roots.sort();
        roots.dedup();
        let all = roots.clone();
        roots.retain(|r| !all.iter().any(|o| o != r && r.starts_with(o)));
        roots
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ignored for every service (never worth a watch or an event).
    pub fn globally_ignored(&self, path: &Path, is_dir: bool) -> bool {
        if self.private.iter().any(|p| path.starts_with(p)) {
            return true;
        }
        if self
            .always
            .matched_path_or_any_parents(strip_root(path), is_dir)
            .is_ignore()
        {
            return true;
        }
        for g in &self.gitignores {
            if path.starts_with(g.path()) && g.matched_path_or_any_parents(path, is_dir).is_ignore()
            {
                return true;
            }
        }
        false
    }

    /// Which services a change to `path` concerns.
    pub fn hits(&self, path: &Path, is_dir: bool) -> Vec<Hit> {
        if self.globally_ignored(path, is_dir) {
            return Vec::new();
        }
        let mut hits: Vec<Hit> = self
            .entries
            .iter()
            .filter(|e| path.starts_with(&e.root))
            .filter(|e| !e.is_own_output(path, is_dir))
            .filter(|e| {
                !e.ignore
                    .matched_path_or_any_parents(path, is_dir)
                    .is_ignore()
            })
            .map(|e| Hit {
                service: e.service.clone(),
                action: e.action,
                rule: e.rule,
            })
            .collect();
        hits.sort();
        hits.dedup();
        hits
    }
}

impl Entry {
    /// The artifact itself, or a directory on the way to it (created by the build).
    fn is_own_output(&self, path: &Path, is_dir: bool) -> bool {
        match &self.artifact {
            Some(artifact) => {
                path == artifact || (is_dir && path != self.root && artifact.starts_with(path))
            }
            None => false,
        }
    }
}

/// Each private directory as given (made absolute) and as resolved (symlinks followed), since
/// watched paths may come in either form.
fn private_forms(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut forms = Vec::new();
    for dir in dirs {
        if let Ok(absolute) = std::path::absolute(dir) {
            forms.push(absolute);
        }
        if let Ok(real) = dir.canonicalize() {
            forms.push(real);
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// `always` is rooted at `/`: match it on the path relative to `/`.
fn strip_root(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::{Build, Develop, Service, WatchRule};
    use std::collections::BTreeMap;

    fn stack(dir: &Path) -> Stack {
        let mut services = BTreeMap::new();
        let mut web = Service::new("web");
        web.build = Some(Build {
            context: dir.join("web"),
            dockerfile: "Dockerfile".into(),
            args: Default::default(),
            target: None,
            dockerfile_inline: None,
            cache_from: Vec::new(),
            pos: Default::default(),
        });
        services.insert("web".to_string(), web);
        let mut api = Service::new("api");
        api.develop = Some(Develop {
            watch: vec![
                WatchRule {
                    path: dir.join("api/src"),
                    action: WatchAction::SyncRestart,
                    target: Some("/app/src".into()),
                    ignore: vec!["*.md".into()],
                    exec: None,
                    pos: Default::default(),
                },
                WatchRule {
                    path: dir.join("api/Cargo.toml"),
                    action: WatchAction::Rebuild,
                    target: None,
                    ignore: vec![],
                    exec: None,
                    pos: Default::default(),
                },
            ],
        });
        services.insert("api".to_string(), api);
        let mut db = Service::new("db");
        db.image = Some("postgres:15".into());
        services.insert("db".to_string(), db);
        Stack {
            name: "p".into(),
            project_dir: dir.to_path_buf(),
            files: vec![],
            services,
            networks: Default::default(),
            volumes: Default::default(),
            novadev: Default::default(),
        }
    }

    fn setup() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for d in ["web/static", "web/target/debug", "api/src", "web/node"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("web/.dockerignore"), "*.log\n").unwrap();
        std::fs::write(dir.path().join("web/.gitignore"), "generated/\n").unwrap();
        dir
    }

    #[test]
    fn build_context_changes_rebuild_the_service() {
        let dir = setup();
        let plan = Plan::from_stack(&stack(dir.path()));
        let hits = plan.hits(&dir.path().join("web/static/index.html"), false);
        assert_eq!(
            hits,
            vec![Hit {
                service: "web".into(),
                action: WatchAction::Rebuild,
                rule: None
            }]
        );
    }

    #[test]
    fn ignored_paths_concern_nobody() {
        let dir = setup();
        let plan = Plan::from_stack(&stack(dir.path()));
        let root = dir.path();
        for p in [
            "web/target/debug/app",
            "web/targettbwUet",
            "web/targettbwUet/CACHEDIR.TAG",
            "web/debug.log",
            "web/generated/x.rs",
            "web/static/.index.html.swp",
            "web/static/index.html~",
            "api/src/README.md",
        ] {
            assert!(
                plan.hits(&root.join(p), false).is_empty(),
                "{p} must be ignored"
            );
        }
        assert!(plan.globally_ignored(&root.join("web/target"), true));
        assert!(
            plan.hits(&root.join("db/data"), false).is_empty(),
            "image-only services are not watched"
        );
    }

    #[test]
    fn develop_watch_rules_decide_the_action() {
        let dir = setup();
        let plan = Plan::from_stack(&stack(dir.path()));
        let hits = plan.hits(&dir.path().join("api/src/main.rs"), false);
        assert_eq!(hits[0].action, WatchAction::SyncRestart);
        assert_eq!(hits[0].rule, Some(0));
        let hits = plan.hits(&dir.path().join("api/Cargo.toml"), false);
        assert_eq!(hits[0].action, WatchAction::Rebuild);
        assert_eq!(hits[0].rule, Some(1));
    }

    #[test]
    fn nested_roots_are_watched_once() {
        let dir = setup();
        let plan = Plan::from_stack(&stack(dir.path()));
        let roots = plan.roots();
        assert!(roots.contains(&dir.path().join("web")));
        assert!(roots.contains(&dir.path().join("api/src")));
    }

    #[test]
    fn novadevs_own_state_dir_inside_the_tree_concerns_nobody() {
        let dir = setup();
        let state = dir.path().join("web/.novadev-state");
        std::fs::create_dir_all(state.join("proj")).unwrap();
        let plan = Plan::with_private(&stack(dir.path()), std::slice::from_ref(&state));
        assert!(plan.hits(&state.join("proj/daemon.log"), false).is_empty());
        assert!(plan.hits(&state.join("proj"), true).is_empty());
        assert!(plan.globally_ignored(&state, true));
        assert_eq!(
            plan.hits(&dir.path().join("web/index.html"), false).len(),
            1
        );
    }

    #[test]
    fn a_host_builds_own_artifact_does_not_trigger_it_again() {
        let dir = setup();
        let mut stack = stack(dir.path());
        let mut tool = Service::new("tool");
        tool.novadev.host_build = Some(crate::stack::model::HostBuild {
            command: vec!["sh".into(), "./build.sh".into()],
            workdir: dir.path().join("tool"),
            artifact: dir.path().join("tool/out/bin/tool"),
            base_image: "debian:bookworm-slim".into(),
            install_path: "/usr/local/bin/tool".into(),
            live: false,
        });
        stack.services.insert("tool".into(), tool);
        let plan = Plan::from_stack(&stack);
        let root = dir.path();
        assert!(plan.hits(&root.join("tool/out/bin/tool"), false).is_empty());
        assert!(plan.hits(&root.join("tool/out"), true).is_empty());
        assert!(plan.hits(&root.join("tool/out/bin"), true).is_empty());
        // Sources, and anything else in the output directory, still rebuild it.
        assert_eq!(plan.hits(&root.join("tool/src/main.rs"), false).len(), 1);
        assert_eq!(
            plan.hits(&root.join("tool/out/bin/notes.txt"), false).len(),
            1
        );
        assert_eq!(plan.hits(&root.join("tool/build.sh"), false).len(), 1);
    }
}
