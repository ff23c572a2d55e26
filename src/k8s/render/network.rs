//! A service's ports: container ports, the ClusterIP Service other pods reach it by (named like
//! the service, so Compose hostnames keep working), a headless Service for gRPC clients that
//! balance over pod addresses, and a StatefulSet's governing headless Service.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ContainerPort, Service as K8sService, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::k8s::labels;
use crate::k8s::manifest::Manifest;
use crate::k8s::render::{Context, Warnings};
use crate::k8s::settings::WorkloadKind;
use crate::stack::model::{Protocol, Service};

/// One container port the service listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
    pub grpc: bool,
}

impl Port {
    /// `grpc-50051`, `tcp-5432`, `udp-53`: unique per (number, protocol), at most 15 characters.
    pub fn name(&self) -> String {
        let prefix = match (self.protocol, self.grpc) {
            (Protocol::Tcp, true) => "grpc",
            (Protocol::Tcp, false) => "tcp",
            (Protocol::Udp, _) => "udp",
        };
        format!("{prefix}-{}", self.number)
    }

    fn protocol(&self) -> String {
        match self.protocol {
            Protocol::Tcp => "TCP".into(),
            Protocol::Udp => "UDP".into(),
        }
    }
}

/// The container ports of `ports` and `expose`, deduplicated and sorted.
pub fn ports(cx: &Context<'_>, service: &Service, warnings: &mut Warnings) -> Vec<Port> {
    let grpc_ports = &cx.settings[&service.name].grpc_ports;
    let is_grpc = |n: u16, p: Protocol| {
        p == Protocol::Tcp && ((50051..=50059).contains(&n) || grpc_ports.contains(&n))
    };
    // Sorted by number, TCP before UDP (`Protocol` has no order of its own).
    let udp = |p: Protocol| p == Protocol::Udp;
    let mut set = BTreeSet::new();
    for p in &service.ports {
        set.insert((p.container_port, udp(p.protocol)));
    }
    for spec in &service.expose {
        match parse_expose(spec) {
            Some((from, to, protocol)) => {
                for n in from..=to {
                    set.insert((n, udp(protocol)));
                }
            }
            None => warnings.service(
                &service.name,
                format!("expose `{spec}` is not a port or port range: not translated"),
            ),
        }
    }
    set.into_iter()
        .map(|(number, is_udp)| {
            let protocol = if is_udp { Protocol::Udp } else { Protocol::Tcp };
            Port {
                number,
                protocol,
                grpc: is_grpc(number, protocol),
            }
        })
        .collect()
}

/// `3000`, `3000/udp`, `3000-3005`, `3000-3005/tcp`.
fn parse_expose(spec: &str) -> Option<(u16, u16, Protocol)> {
    let (range, protocol) = match spec.split_once('/') {
        Some((range, "tcp")) => (range, Protocol::Tcp),
        Some((range, "udp")) => (range, Protocol::Udp),
        Some(_) => return None,
        None => (spec, Protocol::Tcp),
    };
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let n = range.parse().ok()?;
            (n, n)
        }
    };
    (from > 0 && from <= to).then_some((from, to, protocol))
}

pub fn container_ports(ports: &[Port]) -> Option<Vec<ContainerPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|p| ContainerPort {
                container_port: i32::from(p.number),
                name: Some(p.name()),
                protocol: Some(p.protocol()),
                ..ContainerPort::default()
            })
            .collect()
    })
}

/// The name of a StatefulSet's governing Service.
pub fn headless_name(workload: &str) -> String {
    format!("{workload}-headless")
}

/// The Services of a service: ClusterIP (if it has ports), `-grpc` (if gRPC ports, not for a
/// StatefulSet, whose `-headless` already resolves to pod addresses), `-headless` (StatefulSet).
pub fn services(cx: &Context<'_>, service: &Service, ports: &[Port]) -> Vec<Manifest> {
    let placement = &cx.placements[&service.name];
    let selector = labels::selector(&cx.stack.name, &service.name);
    let service_ports = |only_grpc: bool| -> Vec<ServicePort> {
        ports
            .iter()
            .filter(|p| !only_grpc || p.grpc)
            .map(|p| ServicePort {
                name: Some(p.name()),
                port: i32::from(p.number),
                target_port: Some(IntOrString::Int(i32::from(p.number))),
                // Always written: a 1.20 server's server-side apply rejects ports without it.
                protocol: Some(p.protocol()),
                ..ServicePort::default()
            })
            .collect()
    };
    let make = |name: String, headless: bool, ports: Vec<ServicePort>| {
        Manifest::Service(K8sService {
            metadata: cx.meta(&service.name, name, &placement.namespace),
            spec: Some(ServiceSpec {
                selector: Some(selector.clone()),
                cluster_ip: headless.then(|| "None".to_string()),
                type_: Some("ClusterIP".into()),
                ports: (!ports.is_empty()).then_some(ports),
                ..ServiceSpec::default()
            }),
            ..K8sService::default()
        })
    };
    let mut out = Vec::new();
    if !ports.is_empty() {
        out.push(make(placement.name.clone(), false, service_ports(false)));
    }
    match placement.kind {
        WorkloadKind::Statefulset => {
            out.push(make(
                headless_name(&placement.name),
                true,
                service_ports(false),
            ));
        }
        WorkloadKind::Deployment if ports.iter().any(|p| p.grpc) => {
            out.push(make(
                format!("{}-grpc", placement.name),
                true,
                service_ports(true),
            ));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_forms_parse() {
        assert_eq!(parse_expose("3000"), Some((3000, 3000, Protocol::Tcp)));
        assert_eq!(parse_expose("53/udp"), Some((53, 53, Protocol::Udp)));
        assert_eq!(
            parse_expose("8000-8002/tcp"),
            Some((8000, 8002, Protocol::Tcp))
        );
        assert_eq!(parse_expose("x"), None);
        assert_eq!(parse_expose("9-1"), None);
        assert_eq!(parse_expose("80/sctp"), None);
    }

    #[test]
    fn port_names_say_the_protocol() {
        let grpc = Port {
            number: 50051,
            protocol: Protocol::Tcp,
            grpc: true,
        };
        let udp = Port {
            number: 53,
            protocol: Protocol::Udp,
            grpc: false,
        };
        assert_eq!(grpc.name(), "grpc-50051");
        assert_eq!(udp.name(), "udp-53");
    }
}
