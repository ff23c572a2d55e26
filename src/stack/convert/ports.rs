//! `ports:` (short and long syntax) and port ranges.

use super::*;

// ---- ports -----------------------------------------------------------------------------------

/// `80`, `8000-8002` → inclusive range.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let one = |t: &str| -> Result<u16, String> {
        let t = t.trim();
        match t.parse::<u32>() {
            Ok(0) => Err("port 0 is not a valid port".to_string()),
            Ok(n) if n <= 65535 => Ok(n as u16),
            Ok(n) => Err(format!("port {n} is out of range (1-65535)")),
            Err(_) => Err(format!("`{t}` is not a port number")),
        }
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("port range `{text}` is reversed"));
            }
            Ok((a, b))
        }
        None => one(text).map(|p| (p, p)),
    }
}

/// One published port of the short syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortPort {
    pub ip: Option<String>,
    pub host: Option<u16>,
    /// `6005-6015:80`: one container port published on a free port of a host range.
    pub host_end: Option<u16>,
    pub container: u16,
    pub protocol: Protocol,
}

impl ShortPort {
    fn new(ip: Option<String>, host: Option<u16>, container: u16, protocol: Protocol) -> ShortPort {
        ShortPort {
            ip,
            host,
            host_end: None,
            container,
            protocol,
        }
    }
}

/// Parses the short port syntax (`[ip:][host[-end]:]container[-end][/protocol]`). Equal-length
/// ranges give one mapping per port; a host range onto one container port gives one mapping
/// whose host port the engine picks from the range.
pub fn parse_port_spec(spec: &str) -> Result<Vec<ShortPort>, String> {
    let spec = spec.trim();
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, protocol_of(p)?),
        None => (spec, Protocol::Tcp),
    };
    let (ip, rest) = if let Some(after) = addr.strip_prefix('[') {
        let (ip, rest) = after
            .split_once(']')
            .ok_or_else(|| format!("unclosed `[` in port `{spec}`"))?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("expected `:` after `[{ip}]` in port `{spec}`"))?;
        (Some(ip.to_string()), rest)
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.len() {
            1 | 2 => (None, addr),
            3 => (Some(parts[0].to_string()), &addr[parts[0].len() + 1..]),
            _ => {
                return Err(format!(
                    "too many `:` in port `{spec}` (write IPv6 addresses as `[::1]:8080:80`)"
                ));
            }
        }
    };
    if ip
        .as_deref()
        .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err())
    {
        return Err(format!(
            "`{}` is not an IP address (in port `{spec}`)",
            ip.unwrap_or_default()
        ));
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (Some(h), c),
        None => {
            if ip.is_some() {
                return Err(format!("port `{spec}` needs a container port"));
            }
            (None, rest)
        }
    };
    let (c_lo, c_hi) = parse_port_range(container)?;
    let host = host.filter(|h| !h.is_empty());
    let mut out = Vec::new();
    match host {
        None => {
            for c in c_lo..=c_hi {
                out.push(ShortPort::new(ip.clone(), None, c, protocol));
            }
        }
        Some(h) => {
            let (h_lo, h_hi) = parse_port_range(h)?;
            if c_lo == c_hi && h_hi > h_lo {
                out.push(ShortPort {
                    host_end: Some(h_hi),
                    ..ShortPort::new(ip, Some(h_lo), c_lo, protocol)
                });
                return Ok(out);
            }
            if h_hi - h_lo != c_hi - c_lo {
                return Err(format!(
                    "port ranges of different lengths in `{spec}` ({} host ports, {} container ports)",
                    h_hi - h_lo + 1,
                    c_hi - c_lo + 1
                ));
            }
            for (h, c) in (h_lo..=h_hi).zip(c_lo..=c_hi) {
                out.push(ShortPort::new(ip.clone(), Some(h), c, protocol));
            }
        }
    }
    Ok(out)
}

pub(super) fn protocol_of(text: &str) -> Result<Protocol, String> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(format!("unsupported protocol `{other}` (tcp or udp)")),
    }
}

pub(super) fn mapping(pos: &Pos, p: ShortPort) -> PortMapping {
    PortMapping {
        host_ip: p.ip.unwrap_or_else(|| "127.0.0.1".to_string()),
        host_port: p.host,
        host_port_end: p.host_end,
        container_port: p.container,
        protocol: p.protocol,
        pos: pos.clone(),
    }
}

pub(super) fn port(cx: &mut Context<'_>, item: &Node) -> Vec<PortMapping> {
    if let Some(text) = item.as_str() {
        return match parse_port_spec(text) {
            Ok(list) => list.into_iter().map(|m| mapping(&item.pos, m)).collect(),
            Err(e) => {
                cx.report
                    .error(&item.pos, format!("invalid port `{text}`: {e}"));
                Vec::new()
            }
        };
    }
    let Some(entries) = item.as_map() else {
        cx.report.error(
            &item.pos,
            format!(
                "`ports` entries must be strings or mappings, got {}",
                item.kind()
            ),
        );
        return Vec::new();
    };
    let mut target = None;
    let mut published: Option<(String, Pos)> = None;
    let mut host_ip = None;
    let mut protocol = Protocol::Tcp;
    for (key, pk, pv) in keys::check(entries, "ports", keys::PORT_LONG, &[], cx.report) {
        match key {
            "target" => {
                if let Some(t) = scalar(cx, "ports.target", pk, pv) {
                    match parse_port_range(&t) {
                        Ok((lo, hi)) if lo == hi => target = Some(lo),
                        Ok(_) => cx
                            .report
                            .error(&pv.pos, "`ports.target` must be a single port"),
                        Err(e) => cx.report.error(&pv.pos, format!("invalid port: {e}")),
                    }
                }
            }
            "published" => {
                published = scalar(cx, "ports.published", pk, pv).map(|p| (p, pv.pos.clone()));
            }
            "host_ip" => {
                if let Some(ip) = string(cx, "ports.host_ip", pk, pv) {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        cx.report
                            .error(&pv.pos, format!("`{ip}` is not an IP address"));
                    } else {
                        host_ip = Some(ip);
                    }
                }
            }
            "protocol" => {
                if let Some(p) = string(cx, "ports.protocol", pk, pv) {
                    match protocol_of(&p) {
                        Ok(p) => protocol = p,
                        Err(e) => cx.report.error(&pv.pos, e),
                    }
                }
            }
            // `mode` (swarm's ingress/host), `name` and `app_protocol` are descriptive only.
            _ => {}
        }
    }
    let Some(target) = target else {
        if item.get("target").is_none() {
            cx.report
                .error(&item.pos, "`ports` entry needs a `target` (container port)");
        }
        return Vec::new();
    };
    // `published: 6005-6015` onto one target: the engine picks a free port in the range.
    let (host_port, host_end) = match published {
        None => (None, None),
        Some((p, _)) if p.is_empty() => (None, None),
        Some((p, ppos)) => match parse_port_range(&p) {
            Ok((lo, hi)) if lo == hi => (Some(lo), None),
            Ok((lo, hi)) => (Some(lo), Some(hi)),
            Err(e) => {
                cx.report.error(&ppos, format!("invalid port: {e}"));
                return Vec::new();
            }
        },
    };
    vec![mapping(
        &item.pos,
        ShortPort {
            host_end,
            ..ShortPort::new(host_ip, host_port, target, protocol)
        },
    )]
}
