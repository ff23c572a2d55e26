//! Connecting to a cluster (kubeconfig, context), and turning the `kube` crate's errors into
//! ours: an unreachable server, an unknown context, a rejected object, each one sentence.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use kube::{Api, Client, Config};

use crate::k8s::error::K8sError;

/// How long the first request may take before the cluster counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which cluster: a kubeconfig file (default: `$KUBECONFIG`, else `~/.kube/config`) and one of
/// its contexts (default: its current context).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A connected cluster: the `kube` client and where it points.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    server: String,
    version: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("version", &self.version)
            .finish()
    }
}

impl Cluster {
    /// Reads the kubeconfig, checks the context exists, and asks the server its version, so that
    /// a cluster that cannot be reached fails here, once, with its address.
    pub async fn connect(options: &ConnectOptions) -> Result<Cluster, K8sError> {
        let kubeconfig = match &options.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|e| K8sError::Kubeconfig { message: chain(&e) })?;
        if let Some(context) = &options.context
            && !kubeconfig.contexts.iter().any(|c| &c.name == context)
        {
            let mut known: Vec<String> =
                kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
            known.sort();
            return Err(K8sError::UnknownContext {
                context: context.clone(),
                known,
            });
        }
        let config = Config::from_custom_kubeconfig(
            kubeconfig,
            &KubeConfigOptions {
                context: options.context.clone(),
                ..KubeConfigOptions::default()
            },
        )
        .await
        .map_err(|e| K8sError::Kubeconfig { message: chain(&e) })?;
        let server = config.cluster_url.to_string();
        let client =
            Client::try_from(config).map_err(|e| K8sError::Kubeconfig { message: chain(&e) })?;
        let version = match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await
        {
            Ok(Ok(info)) => info.git_version,
            Ok(Err(e)) => {
                return Err(K8sError::Unreachable {
                    server,
                    message: chain(&e),
                });
            }
            Err(_) => {
                return Err(K8sError::Unreachable {
                    server,
                    message: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                });
            }
        };
        Ok(Cluster {
            client,
            server,
            version,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The API server's version (`v1.20.2`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A dynamic API for a resource, in a namespace or cluster-wide.
    pub(crate) fn api(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
    ) -> Api<kube::api::DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    /// Our error for a failed request about `kind` `object`.
    pub(crate) fn error(
        &self,
        action: &'static str,
        kind: &str,
        object: &str,
        error: kube::Error,
    ) -> K8sError {
        match error {
            kube::Error::Api(status) if matches!(status.code, 400 | 422) => K8sError::Rejected {
                kind: kind.to_string(),
                object: object.to_string(),
                message: status.message.clone(),
                code: status.code,
            },
            kube::Error::Api(status) => K8sError::Api {
                action,
                kind: kind.to_string(),
                object: object.to_string(),
                message: format!("{} (HTTP {})", status.message, status.code),
            },
            e @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => K8sError::Unreachable {
                server: self.server.clone(),
                message: chain(&e),
            },
            other => K8sError::Api {
                action,
                kind: kind.to_string(),
                object: object.to_string(),
                message: chain(&other),
            },
        }
    }
}

/// An error and its causes, `a: b: c`, without repeating a cause its parent already quotes.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}
