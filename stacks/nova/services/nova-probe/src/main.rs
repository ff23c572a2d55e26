//! `nova-probe ADDR [SERVICE] [--timeout MS]`: calls
//! `grpc.health.v1.Health/Check` and prints SERVING / NOT_SERVING / ...;
//! exits 0 only when SERVING, 1 otherwise, 2 on a usage error.

use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: nova-probe ADDR [SERVICE] [--timeout MS]\n\
  ADDR     host:port (or http://host:port) of a gRPC server\n\
  SERVICE  service name to ask about (default \"\": the whole server)\n\
  --timeout MS  connect + call deadline (default 2000)\n\
exit status: 0 SERVING, 1 anything else (NOT_SERVING, unknown service, no answer)";

struct Args {
    addr: String,
    service: String,
    timeout: Duration,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut positional = Vec::new();
    let mut timeout = Duration::from_millis(2000);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs a value in ms")?;
                timeout = Duration::from_millis(
                    v.parse()
                        .map_err(|_| format!("--timeout: {v:?} is not a number of ms"))?,
                );
            }
            s if s.starts_with("--timeout=") => {
                let v = &s["--timeout=".len()..];
                timeout = Duration::from_millis(
                    v.parse()
                        .map_err(|_| format!("--timeout: {v:?} is not a number of ms"))?,
                );
            }
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s:?}")),
            s => positional.push(s.to_string()),
        }
    }
    match positional.len() {
        1 | 2 => Ok(Some(Args {
            addr: positional[0].clone(),
            service: positional.get(1).cloned().unwrap_or_default(),
            timeout,
        })),
        0 => Err("missing ADDR".into()),
        _ => Err("too many arguments".into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("nova-probe: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = nova_runtime::grpc::probe(&args.addr, &args.service, args.timeout).await;
    nova_runtime::report_probe(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments() {
        let a = parse(&s(&["localhost:50051"])).unwrap().unwrap();
        assert_eq!(
            (a.addr.as_str(), a.service.as_str()),
            ("localhost:50051", "")
        );
        let a = parse(&s(&["--timeout", "300", "h:1", "social-service"]))
            .unwrap()
            .unwrap();
        assert_eq!(a.service, "social-service");
        assert_eq!(a.timeout, Duration::from_millis(300));
        let a = parse(&s(&["h:1", "--timeout=50"])).unwrap().unwrap();
        assert_eq!(a.timeout, Duration::from_millis(50));
        assert!(parse(&s(&[])).is_err());
        assert!(parse(&s(&["a", "b", "c"])).is_err());
        assert!(parse(&s(&["--bogus", "a"])).is_err());
        assert!(parse(&s(&["--timeout", "x", "a"])).is_err());
        assert!(parse(&s(&["-h"])).unwrap().is_none());
    }
}
