//! A service's pod logs, as one stream of lines (every pod of the service, merged), optionally
//! following them.

use std::time::Duration;

use futures_util::io::AsyncBufReadExt;
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, LogParams};

use crate::k8s::cluster::{Cluster, chain};
use crate::k8s::error::K8sError;
use crate::k8s::labels;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// The last N lines of each pod.
    pub tail: Option<i64>,
    pub since: Option<Duration>,
    /// Prefix each line with the kubelet's RFC 3339 timestamp.
    pub timestamps: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub service: String,
    pub pod: String,
    pub line: String,
}

/// The log lines of `service`'s pods (its app container; the waits are not the service).
pub async fn logs(
    cluster: &Cluster,
    project: &str,
    service: &str,
    options: &LogOptions,
) -> Result<BoxStream<'static, Result<LogLine, K8sError>>, K8sError> {
    let selector = labels::service_selector(project, service);
    let pods = Api::<Pod>::all(cluster.client().clone())
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| cluster.error("listing", "Pod", &selector, e))?;
    let mut pods: Vec<Pod> = pods.items;
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    if pods.is_empty() {
        return Err(K8sError::NoPod {
            service: service.to_string(),
        });
    }
    let params = LogParams {
        follow: options.follow,
        tail_lines: options.tail,
        since_seconds: options
            .since
            .map(|d| i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)),
        timestamps: options.timestamps,
        container: None,
        ..LogParams::default()
    };
    let mut streams = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let container = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone());
        let api = Api::<Pod>::namespaced(cluster.client().clone(), &namespace);
        let object = format!("{namespace}/{name}");
        let reader = api
            .log_stream(
                &name,
                &LogParams {
                    container,
                    ..params.clone()
                },
            )
            .await
            .map_err(|e| cluster.error("reading logs of", "Pod", &object, e))?;
        let service = service.to_string();
        let pod_name = name.clone();
        let lines = reader.lines().map(move |line| match line {
            Ok(line) => Ok(LogLine {
                service: service.clone(),
                pod: pod_name.clone(),
                line,
            }),
            Err(e) => Err(K8sError::Api {
                action: "reading logs of",
                kind: "Pod".into(),
                object: object.clone(),
                message: chain(&e),
            }),
        });
        streams.push(lines.boxed());
    }
    Ok(stream::select_all(streams).boxed())
}
