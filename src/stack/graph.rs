//! The dependency graph of a stack: `depends_on` edges between services.
//!
//! Owns cycle detection (naming the cycle), topological waves (what can start together), the
//! closure of a set of services (`up web` starts only what web needs) and the reverse order for
//! stopping. It reads the resolved `Stack` and must not know about files, YAML or Docker.

use std::collections::{BTreeMap, BTreeSet};

use crate::stack::Diagnostic;
use crate::stack::model::{Condition, Pos, Stack};

/// Services and their `depends_on` edges. Every name in it is a service of the stack.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// service → (dependency → condition)
    deps: BTreeMap<String, BTreeMap<String, Condition>>,
    /// service → services that depend on it directly
    rdeps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Builds the graph. Reports every dependency cycle ("dependency cycle: a -> b -> a", at the
    /// edge that closes it) and every edge to a service that is not in the stack.
    pub fn build(stack: &Stack) -> Result<Graph, Vec<Diagnostic>> {
        let mut graph = Graph::default();
        let mut errors = Vec::new();
        let mut positions: BTreeMap<(String, String), Pos> = BTreeMap::new();
        for (name, service) in &stack.services {
            graph.rdeps.entry(name.clone()).or_default();
            let deps = graph.deps.entry(name.clone()).or_default();
            for (dep, d) in &service.depends_on {
                if !stack.services.contains_key(dep) {
                    errors.push(Diagnostic::at(
                        &d.pos,
                        format!("service `{name}` depends on unknown service `{dep}`"),
                    ));
                    continue;
                }
                deps.insert(dep.clone(), d.condition);
                positions.insert((name.clone(), dep.clone()), d.pos.clone());
            }
        }
        for (name, deps) in &graph.deps {
            for dep in deps.keys() {
                graph
                    .rdeps
                    .entry(dep.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
        for cycle in graph.cycles() {
            let (Some(last), Some(first)) = (cycle.last(), cycle.first()) else {
                continue;
            };
            let closing = positions.get(&(last.clone(), first.clone())).cloned();
            let mut names = cycle.clone();
            names.push(first.clone());
            errors.push(Diagnostic::new(
                closing,
                format!("dependency cycle: {}", names.join(" -> ")),
            ));
        }
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(errors)
        }
    }

    /// Every elementary cycle found by a depth-first search in name order, each once, as the list
    /// of its members in dependency order (`a` depends on `b` → `[a, b]`).
    fn cycles(&self) -> Vec<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks: BTreeMap<&str, Mark> =
            self.deps.keys().map(|k| (k.as_str(), Mark::New)).collect();
        let mut found = Vec::new();
        let mut seen_sets: BTreeSet<BTreeSet<String>> = BTreeSet::new();
        for root in self.deps.keys() {
            if marks.get(root.as_str()) != Some(&Mark::New) {
                continue;
            }
            // Iterative DFS: (node, its dependencies still to visit).
            let mut path: Vec<&str> = vec![root];
            let mut stack: Vec<Vec<&str>> = vec![self.dep_names(root)];
            marks.insert(root, Mark::OnPath);
            while let Some(todo) = stack.last_mut() {
                match todo.pop() {
                    Some(next) => match marks.get(next).copied().unwrap_or(Mark::Done) {
                        Mark::New => {
                            marks.insert(next, Mark::OnPath);
                            path.push(next);
                            stack.push(self.dep_names(next));
                        }
                        Mark::OnPath => {
                            let start = path.iter().position(|p| *p == next).unwrap_or(0);
                            let cycle: Vec<String> =
                                path[start..].iter().map(|s| s.to_string()).collect();
                            if seen_sets.insert(cycle.iter().cloned().collect()) {
                                found.push(cycle);
                            }
                        }
                        Mark::Done => {}
                    },
                    None => {
                        stack.pop();
                        if let Some(done) = path.pop() {
                            marks.insert(done, Mark::Done);
                        }
                    }
                }
            }
        }
        found
    }

    /// Dependencies in reverse name order, so that popping visits them in name order.
    fn dep_names(&self, service: &str) -> Vec<&str> {
        self.deps
            .get(service)
            .map(|d| d.keys().rev().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// All services, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.deps.keys().map(String::as_str)
    }

    pub fn contains(&self, service: &str) -> bool {
        self.deps.contains_key(service)
    }

    /// Topological layers, dependencies first, each sorted. With a subset, only its services
    /// appear and edges leaving the subset are ignored.
    pub fn waves(&self, subset: Option<&BTreeSet<String>>) -> Vec<Vec<String>> {
        let included = |s: &str| subset.is_none_or(|set| set.contains(s));
        let mut remaining: BTreeMap<&str, usize> = self
            .deps
            .iter()
            .filter(|(name, _)| included(name))
            .map(|(name, deps)| (name.as_str(), deps.keys().filter(|d| included(d)).count()))
            .collect();
        let mut waves = Vec::new();
        while !remaining.is_empty() {
            let wave: Vec<String> = remaining
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(s, _)| s.to_string())
                .collect();
            if wave.is_empty() {
                // Only reachable on a graph with a cycle, which `build` refuses; never loop forever.
                waves.push(remaining.keys().map(|s| s.to_string()).collect());
                break;
            }
            for done in &wave {
                remaining.remove(done.as_str());
                for dependent in self.rdeps.get(done).into_iter().flatten() {
                    if let Some(n) = remaining.get_mut(dependent.as_str()) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            waves.push(wave);
        }
        waves
    }

    /// The waves reversed: dependents first, for stopping.
    pub fn reverse_waves(&self, subset: Option<&BTreeSet<String>>) -> Vec<Vec<String>> {
        let mut waves = self.waves(subset);
        waves.reverse();
        waves
    }

    /// The roots and all their transitive dependencies. `Err` names an unknown service.
    pub fn closure(&self, roots: &[String]) -> Result<BTreeSet<String>, String> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<&str> = Vec::new();
        for root in roots {
            if !self.contains(root) {
                return Err(format!("no such service: `{root}`"));
            }
            todo.push(root);
        }
        while let Some(next) = todo.pop() {
            if out.insert(next.to_string()) {
                todo.extend(
                    self.deps
                        .get(next)
                        .into_iter()
                        .flatten()
                        .map(|(d, _)| d.as_str()),
                );
            }
        }
        Ok(out)
    }

    /// The roots and every service that depends on them, directly or not (what a restart of the
    /// roots affects). `Err` names an unknown service.
    pub fn dependents_closure(&self, roots: &[String]) -> Result<BTreeSet<String>, String> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<&str> = Vec::new();
        for root in roots {
            if !self.contains(root) {
                return Err(format!("no such service: `{root}`"));
            }
            todo.push(root);
        }
        while let Some(next) = todo.pop() {
            if out.insert(next.to_string()) {
                todo.extend(
                    self.rdeps
                        .get(next)
                        .into_iter()
                        .flatten()
                        .map(String::as_str),
                );
            }
        }
        Ok(out)
    }

    /// Direct dependencies with their conditions, sorted by name.
    pub fn dependencies(&self, service: &str) -> Vec<(String, Condition)> {
        self.deps
            .get(service)
            .map(|d| d.iter().map(|(k, c)| (k.clone(), *c)).collect())
            .unwrap_or_default()
    }

    /// Services that depend on `service` directly, sorted.
    pub fn dependents(&self, service: &str) -> Vec<String> {
        self.rdeps
            .get(service)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::{Dependency, Service};
    use std::path::PathBuf;
    use std::sync::Arc;

    /// A stack from (service, [dependencies]); each edge is placed on its own line of a fake file
    /// so that messages can be checked for the closing edge's position.
    fn stack(edges: &[(&str, &[&str])]) -> Stack {
        let file = Arc::new(PathBuf::from("/p/compose.yaml"));
        let mut line = 0;
        let mut services = BTreeMap::new();
        for (name, deps) in edges {
            let mut service = Service::new(*name);
            service.image = Some("img".into());
            for dep in *deps {
                line += 1;
                service.depends_on.insert(
                    dep.to_string(),
                    Dependency {
                        condition: if *dep == "db" {
                            Condition::ServiceHealthy
                        } else {
                            Condition::ServiceStarted
                        },
                        required: true,
                        restart: false,
                        pos: Pos {
                            file: file.clone(),
                            line,
                            column: 7,
                        },
                    },
                );
            }
            services.insert(name.to_string(), service);
        }
        Stack {
            name: "p".into(),
            project_dir: PathBuf::from("/p"),
            files: vec![PathBuf::from("/p/compose.yaml")],
            services,
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            novadev: Default::default(),
        }
    }

    fn errors(edges: &[(&str, &[&str])]) -> Vec<String> {
        Graph::build(&stack(edges))
            .expect_err("has errors")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cycle_is_reported_with_its_members() {
        // a -> b (line 1), b -> c (line 2), c -> a (line 3, closes the cycle)
        let errs = errors(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(
            errs,
            vec!["/p/compose.yaml:3:7: dependency cycle: a -> b -> c -> a"]
        );
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let errs = errors(&[("a", &["a"]), ("b", &[])]);
        assert_eq!(errs, vec!["/p/compose.yaml:1:7: dependency cycle: a -> a"]);
    }

    #[test]
    fn separate_cycles_are_all_reported() {
        let errs = errors(&[("a", &["b"]), ("b", &["a"]), ("x", &["y"]), ("y", &["x"])]);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].ends_with("dependency cycle: a -> b -> a"),
            "{errs:?}"
        );
        assert!(
            errs[1].ends_with("dependency cycle: x -> y -> x"),
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_dependency_is_reported() {
        let errs = errors(&[("a", &["ghost"])]);
        assert!(errs[0].contains("unknown service `ghost`"), "{errs:?}");
    }

    #[test]
    fn waves_put_dependencies_first_and_sort_each_layer() {
        let g = Graph::build(&stack(&[
            ("web", &["api"]),
            ("api", &["db", "cache"]),
            ("worker", &["db"]),
            ("db", &[]),
            ("cache", &[]),
            ("docs", &[]),
        ]))
        .expect("acyclic");
        assert_eq!(
            g.waves(None),
            vec![
                strings(&["cache", "db", "docs"]),
                strings(&["api", "worker"]),
                strings(&["web"]),
            ]
        );
        assert_eq!(
            g.reverse_waves(None),
            vec![
                strings(&["web"]),
                strings(&["api", "worker"]),
                strings(&["cache", "db", "docs"]),
            ]
        );
    }

    #[test]
    fn subset_waves_only_contain_the_subset() {
        let g = Graph::build(&stack(&[
            ("web", &["api"]),
            ("api", &["db"]),
            ("db", &[]),
            ("other", &[]),
        ]))
        .expect("acyclic");
        let closure = g.closure(&strings(&["api"])).expect("known");
        assert_eq!(closure, set(&["api", "db"]));
        assert_eq!(
            g.waves(Some(&closure)),
            vec![strings(&["db"]), strings(&["api"])]
        );
        // Edges leaving the subset are ignored: web alone is ready at once.
        assert_eq!(g.waves(Some(&set(&["web"]))), vec![strings(&["web"])]);
    }

    #[test]
    fn closure_follows_transitive_dependencies_and_rejects_unknown_names() {
        let g = Graph::build(&stack(&[
            ("a", &["b"]),
            ("b", &["c"]),
            ("c", &[]),
            ("d", &[]),
        ]))
        .expect("acyclic");
        assert_eq!(g.closure(&strings(&["a"])), Ok(set(&["a", "b", "c"])));
        assert_eq!(g.closure(&strings(&["c", "d"])), Ok(set(&["c", "d"])));
        assert!(
            g.closure(&strings(&["a", "nope"]))
                .is_err_and(|e| e.contains("nope"))
        );
        assert_eq!(g.closure(&[]), Ok(BTreeSet::new()));
    }

    #[test]
    fn dependencies_and_dependents_are_direct_and_sorted() {
        let g = Graph::build(&stack(&[
            ("web", &["db", "api"]),
            ("api", &["db"]),
            ("db", &[]),
        ]))
        .expect("acyclic");
        assert_eq!(
            g.dependencies("web"),
            vec![
                ("api".to_string(), Condition::ServiceStarted),
                ("db".to_string(), Condition::ServiceHealthy),
            ]
        );
        assert_eq!(g.dependents("db"), strings(&["api", "web"]));
        assert_eq!(g.dependents("web"), Vec::<String>::new());
        assert_eq!(g.dependents("nope"), Vec::<String>::new());
        assert_eq!(
            g.dependents_closure(&strings(&["db"])),
            Ok(set(&["api", "db", "web"]))
        );
    }

    #[test]
    fn empty_stack_has_no_waves() {
        let g = Graph::build(&stack(&[])).expect("empty");
        assert!(g.waves(None).is_empty());
    }

    #[test]
    fn unknown_dependencies_and_cycles_together_are_all_reported() {
        let errs = errors(&[("a", &["b", "ghost"]), ("b", &["a"]), ("c", &["c", "nope"])]);
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("`ghost`")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("`nope`")), "{errs:?}");
        assert!(errs.iter().any(|e| e.ends_with("a -> b -> a")), "{errs:?}");
        assert!(errs.iter().any(|e| e.ends_with("c -> c")), "{errs:?}");
    }

    /// Stacks as a deserializing daemon could get them: any names, edges to services that do not
    /// exist, self-edges, cycles. `build` must answer (never panic), and a graph it accepts must
    /// order every service after its dependencies.
    #[test]
    fn any_stack_builds_or_is_refused_without_panicking() {
        let names = ["a", "b", "c", "d", "e", "f", "ghost"];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..2000 {
            let count = 1 + next(6);
            let mut edges: Vec<(&str, Vec<&str>)> = Vec::new();
            for name in &names[..count] {
                let deps = (0..next(4)).map(|_| names[next(names.len())]).collect();
                edges.push((name, deps));
            }
            let borrowed: Vec<(&str, &[&str])> =
                edges.iter().map(|(n, d)| (*n, d.as_slice())).collect();
            let stack = stack(&borrowed);
            let Ok(graph) = Graph::build(&stack) else {
                continue;
            };
            let waves = graph.waves(None);
            let order: Vec<&String> = waves.iter().flatten().collect();
            assert_eq!(order.len(), stack.services.len(), "{waves:?}");
            let position = |s: &str| order.iter().position(|o| o.as_str() == s);
            for (name, service) in &stack.services {
                for dep in service.depends_on.keys() {
                    assert!(
                        position(dep) < position(name),
                        "{dep} before {name}: {waves:?}"
                    );
                }
                let closure = graph.closure(std::slice::from_ref(name)).expect("known");
                assert!(service.depends_on.keys().all(|d| closure.contains(d)));
            }
        }
    }
}
