//! Which daemon: a project on the local Docker engine, or the same project on a Kubernetes
//! cluster. Each has its own daemon and state directory (`<project>` and `<project>~k8s`: a
//! project name never holds `~`), so both can run side by side with the same verbs and UIs.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::paths::ProjectPaths;

/// Where on Kubernetes, as the CLI was told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeSpec {
    /// The kubeconfig (default: `$KUBECONFIG`, else `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// Its context (default: the current one).
    pub context: Option<String>,
    /// The default namespace (else `x-novadev.k8s.namespace`, else the project's name).
    pub namespace: Option<String>,
    /// A Docker container running a containerd node (a local one-node cluster) that built images
    /// are loaded into.
    pub node: Option<String>,
}

impl KubeSpec {
    pub fn connect_options(&self) -> crate::k8s::ConnectOptions {
        crate::k8s::ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// A daemon: its project, and the cluster when it is not the local engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonTarget {
    pub project: String,
    pub kube: Option<KubeSpec>,
}

impl DaemonTarget {
    pub fn docker(project: &str) -> DaemonTarget {
        DaemonTarget {
            project: project.to_string(),
            kube: None,
        }
    }

    /// The name of its state directory.
    pub fn key(&self) -> String {
        match self.kube {
            None => self.project.clone(),
            Some(_) => format!("{}~k8s", self.project),
        }
    }

    pub fn paths(&self) -> ProjectPaths {
        ProjectPaths::for_project(&self.key())
    }

    /// The arguments of `novadev daemon` for it.
    pub fn daemon_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> =
            vec!["daemon".into(), "--project".into(), (&self.project).into()];
        if let Some(k) = &self.kube {
            args.push("--k8s".into());
            let mut opt = |flag: &str, value: Option<OsString>| {
                if let Some(v) = value {
                    args.push(flag.into());
                    args.push(v);
                }
            };
            opt("--kubeconfig", k.kubeconfig.clone().map(Into::into));
            opt("--context", k.context.clone().map(Into::into));
            opt("--namespace", k.namespace.clone().map(Into::into));
            opt("--node", k.node.clone().map(Into::into));
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_daemon_has_its_own_state_dir_and_says_where_it_points() {
        let docker = DaemonTarget::docker("nova");
        assert_eq!(docker.key(), "nova");
        assert_eq!(docker.daemon_args(), vec!["daemon", "--project", "nova"]);
        let kube = DaemonTarget {
            project: "nova".into(),
            kube: Some(KubeSpec {
                context: Some("dev".into()),
                namespace: Some("team".into()),
                ..KubeSpec::default()
            }),
        };
        assert_eq!(kube.key(), "nova~k8s");
        assert_eq!(
            kube.daemon_args(),
            vec![
                "daemon",
                "--project",
                "nova",
                "--k8s",
                "--context",
                "dev",
                "--namespace",
                "team"
            ]
        );
    }
}
