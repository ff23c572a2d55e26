#!/usr/bin/env python3
"""Compare `novadev config` with `docker-compose config` over Compose files.

Usage: compose-conformance.py NOVADEV_BINARY DIR...

Every file under the DIRs whose name ends in .yaml/.yml and that has a top-level `services:` line
is run through both tools (in the file's directory, with `-f FILE -p conformance`). Both outputs
are parsed and normalised to one comparable form per service, then compared.

What is compared, per service (absent means the Compose default):
  image, build (context, dockerfile, args, target), command and entrypoint (a string is split like
  a shell would), environment (unset bare keys dropped), env values as strings, ports (published,
  target, protocol; the host address only when it is not 127.0.0.1/empty: novadev binds published
  ports to 127.0.0.1 by design), expose, volumes (type, source, target, read_only, z/Z, nocopy,
  propagation), networks (names; none = default) and network_mode, depends_on (name and
  condition, with the dependencies links and network_mode service:x imply), healthcheck (test, interval, timeout, retries, start_period), restart, labels,
  working_dir, user, hostname, container_name, stop_signal, init, tty, stdin_open, extra_hosts,
  profiles, cap_add, cap_drop, privileged, read_only, security_opt, tmpfs, dns, dns_search,
  sysctls, ulimits, shm_size, platform, links, logging, secrets and configs (name and target),
  memory and CPU limits (deploy.resources or mem_limit/cpus).
Not compared: project name, top-level networks/volumes settings, x-* extensions, develop.watch,
keys novadev warns it does not support. docker-compose v1 refuses some Compose v2 keys; a file it
refuses only for `develop`, `name` or healthcheck `start_interval` is compared again on a copy without them (and says so).

Prints one line per file that is not identical (with the reasons), then the counts.
"""

import os
import re
import shlex
import subprocess
import sys
from collections import Counter

import yaml


def find_files(dirs):
    found = []
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [d for d in subdirs if d not in ("target", ".git", "node_modules")]
            for name in files:
                if not name.endswith((".yaml", ".yml")):
                    continue
                path = os.path.join(root, name)
                try:
                    with open(path, encoding="utf-8", errors="replace") as f:
                        text = f.read(1 << 20)
                except OSError:
                    continue
                if re.search(r"^services:", text, re.M):
                    found.append(os.path.abspath(path))
    return sorted(found)


def run(cmd, cwd):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if p.returncode != 0:
        lines = [l.strip() for l in (p.stderr or p.stdout).splitlines() if l.strip()]
        # The most specific line: skip the headers both tools put before their reasons.
        useful = [l for l in lines
                  if not l.startswith(("error: the stack has", "WARNING"))
                  and not l.endswith("is invalid because:")]
        return None, (useful or lines or ["exit %d" % p.returncode])[0][:160]
    try:
        return yaml.safe_load(p.stdout) or {}, None
    except yaml.YAMLError as e:
        return None, "unparsable output: %s" % str(e).splitlines()[0]


SIZE = re.compile(r"^\s*([0-9.]+)\s*([kmgt]?)i?b?\s*$", re.I)


def size(v):
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return int(v)
    m = SIZE.match(str(v))
    if not m:
        return str(v)
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")


def duration(v):
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    total, text = 0.0, str(v).strip()
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for n, u in DURATION.findall(text):
        total += float(n) * unit[u]
    return round(total, 6)


def words(v):
    if v is None:
        return None
    if isinstance(v, str):
        try:
            return shlex.split(v)
        except ValueError:
            return [v]
    return [str(x) for x in v]


def str_list(v):
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def key_values(v, sep="="):
    if v is None:
        return {}
    if isinstance(v, dict):
        return {str(k): (None if x is None else scalar(x)) for k, x in v.items()}
    out = {}
    for item in v:
        k, _, x = str(item).partition(sep)
        out[k] = x if _ else None
    return out


def scalar(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def port_range(text):
    lo, _, hi = str(text).partition("-")
    return int(lo), int(hi or lo)


def ports(v):
    out = set()
    for p in v or []:
        if isinstance(p, dict):
            published = p.get("published")
            proto = p.get("protocol") or "tcp"
            ip = p.get("host_ip") or ""
            out.add((ip, "" if published is None else str(published), int(p["target"]), proto))
            continue
        text = str(p)
        text, _, proto = text.partition("/")
        proto = proto or "tcp"
        ip = ""
        if text.startswith("["):
            ip, _, text = text[1:].partition("]")
            text = text.lstrip(":")
        parts = text.split(":")
        if len(parts) == 3:
            ip, host, container = parts
        elif len(parts) == 2:
            host, container = parts
        else:
            host, container = "", parts[0]
        c_lo, c_hi = port_range(container)
        if not host:
            for c in range(c_lo, c_hi + 1):
                out.add((ip, "", c, proto))
            continue
        h_lo, h_hi = port_range(host)
        if c_lo == c_hi and h_hi > h_lo:
            out.add((ip, "%d-%d" % (h_lo, h_hi), c_lo, proto))
            continue
        for h, c in zip(range(h_lo, h_hi + 1), range(c_lo, c_hi + 1)):
            out.add((ip, str(h), c, proto))
    # novadev binds published ports to 127.0.0.1 where Compose binds all addresses (by design).
    return sorted((("" if ip in ("127.0.0.1", "0.0.0.0") else ip), h, c, pr) for ip, h, c, pr in out)


def volumes(v):
    out = set()
    for m in v or []:
        if isinstance(m, dict):
            typ = m.get("type", "volume")
            opts = []
            if (m.get("bind") or {}).get("selinux"):
                opts.append(m["bind"]["selinux"])
            if (m.get("bind") or {}).get("propagation"):
                opts.append(m["bind"]["propagation"])
            if (m.get("volume") or {}).get("nocopy"):
                opts.append("nocopy")
            out.add((typ, str(m.get("source") or ""), norm_path(m["target"]),
                     bool(m.get("read_only")), tuple(sorted(opts))))
            continue
        parts = str(m).split(":")
        if len(parts) == 1:
            out.add(("volume", "", norm_path(parts[0]), False, ()))
            continue
        src, dst = parts[0], parts[1]
        flags = parts[2].split(",") if len(parts) > 2 else []
        typ = "bind" if src.startswith(("/", ".", "~")) else "volume"
        ro = "ro" in flags
        opts = tuple(sorted(f for f in flags if f not in ("ro", "rw", "cached", "delegated", "consistent")))
        out.add((typ, src, norm_path(dst), ro, opts))
    return sorted(out)


def norm_path(p):
    p = "/" + "/".join(x for x in str(p).split("/") if x)
    return p


def depends(s):
    v = s.get("depends_on")
    if v is None:
        out = {}
    elif isinstance(v, list):
        out = {str(x): "service_started" for x in v}
    else:
        out = {str(k): (x or {}).get("condition", "service_started") for k, x in v.items()}
    # `links` and `network_mode: service:x` imply a dependency; novadev writes it out, Compose
    # keeps it implicit.
    implied = [name for name, _ in links(s.get("links"))]
    mode = str(s.get("network_mode") or "")
    if mode.startswith("service:"):
        implied.append(mode[len("service:"):])
    for name in implied:
        out.setdefault(name, "service_started")
    return out


def healthcheck(h):
    if not h:
        return None
    test = h.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if h.get("disable") or test == ["NONE"]:
        return "disabled"
    return (tuple(test or ()), duration(h.get("interval")), duration(h.get("timeout")),
            h.get("retries"), duration(h.get("start_period")))


def networks(v):
    if not v:
        return ["default"]
    return sorted(v.keys() if isinstance(v, dict) else v)


def ulimits(v):
    out = {}
    for k, x in (v or {}).items():
        if isinstance(x, dict):
            out[k] = (int(x["soft"]), int(x["hard"]))
        else:
            out[k] = (int(x), int(x))
    return out


def files_ref(v, default_dir):
    out = set()
    for x in v or []:
        if isinstance(x, str):
            out.add((x, default_dir + x if default_dir else "/" + x))
        else:
            target = x.get("target")
            if target is None:
                target = (default_dir or "/") + x["source"]
            elif not str(target).startswith("/"):
                target = (default_dir or "/") + str(target)
            out.add((x["source"], norm_path(target)))
    return sorted(out)


def links(v):
    out = set()
    for x in v or []:
        name, _, alias = str(x).partition(":")
        out.add((name, alias or name))
    return sorted(out)


def limits(s):
    res = ((s.get("deploy") or {}).get("resources") or {})
    lim = res.get("limits") or {}
    resv = res.get("reservations") or {}
    cpus = lim.get("cpus", s.get("cpus"))
    return (size(lim.get("memory", s.get("mem_limit"))),
            size(resv.get("memory", s.get("mem_reservation"))),
            None if cpus is None else float(cpus))


def build(b):
    if b is None:
        return None
    if isinstance(b, str):
        b = {"context": b}
    return (str(b.get("context", ".")).rstrip("/"), b.get("dockerfile") or "Dockerfile",
            key_values(b.get("args")), b.get("target"))


def normalise(doc):
    out = {}
    for name, s in (doc.get("services") or {}).items():
        s = s or {}
        env = {k: x for k, x in key_values(s.get("environment")).items() if x is not None}
        logging = s.get("logging")
        out[name] = {
            "image": s.get("image"),
            "build": build(s.get("build")),
            "command": words(s.get("command")),
            "entrypoint": words(s.get("entrypoint")),
            "environment": env,
            "ports": ports(s.get("ports")),
            "expose": sorted(str(x) for x in s.get("expose") or []),
            "volumes": volumes(s.get("volumes")),
            "networks": [] if s.get("network_mode") else networks(s.get("networks")),
            "network_mode": s.get("network_mode"),
            "depends_on": depends(s),
            "healthcheck": healthcheck(s.get("healthcheck")),
            "restart": str(s.get("restart") or "no"),
            "labels": key_values(s.get("labels")),
            "working_dir": s.get("working_dir"),
            "user": None if s.get("user") is None else str(s.get("user")),
            "hostname": s.get("hostname"),
            "container_name": s.get("container_name"),
            "stop_signal": s.get("stop_signal"),
            "init": bool(s.get("init")),
            "tty": bool(s.get("tty")),
            "stdin_open": bool(s.get("stdin_open")),
            "extra_hosts": sorted(
                ("%s:%s" % (k, x) for k, x in s["extra_hosts"].items())
                if isinstance(s.get("extra_hosts"), dict)
                else (str(x).replace("=", ":", 1) for x in s.get("extra_hosts") or [])),
            "profiles": sorted(s.get("profiles") or []),
            "cap_add": sorted(s.get("cap_add") or []),
            "cap_drop": sorted(s.get("cap_drop") or []),
            "privileged": bool(s.get("privileged")),
            "read_only": bool(s.get("read_only")),
            "security_opt": sorted(s.get("security_opt") or []),
            "tmpfs": sorted(str_list(s.get("tmpfs"))),
            "dns": str_list(s.get("dns")),
            "dns_search": str_list(s.get("dns_search")),
            "sysctls": key_values(s.get("sysctls")),
            "ulimits": ulimits(s.get("ulimits")),
            "shm_size": size(s.get("shm_size")),
            "platform": s.get("platform"),
            "links": links(s.get("links")),
            "logging": None if not logging else (logging.get("driver"), key_values(logging.get("options"))),
            "secrets": files_ref(s.get("secrets"), "/run/secrets/"),
            "configs": files_ref(s.get("configs"), None),
            "limits": limits(s),
        }
    return out


# Keys docker-compose v1 refuses but that are not compared anyway: a file refused only for them is
# compared again without them, on a copy beside it (so relative paths still resolve).
NOT_COMPARED_V2_KEYS = {"develop", "name", "start_interval"}
V1_REFUSAL = re.compile(r"Unsupported config option for services\.[^:]+: '([^']+)'|'([^']+)' does not match any of the regexes: '\^x-'")


def docker_compose_without_v2_keys(path, cwd, error):
    stripped = set()
    for _ in range(5):
        m = V1_REFUSAL.search(error or "")
        key = m and (m.group(1) or m.group(2))
        if key not in NOT_COMPARED_V2_KEYS:
            return None, error, stripped
        stripped.add(key)
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        for k in stripped:
            doc.pop(k, None)
            for svc in (doc.get("services") or {}).values():
                if isinstance(svc, dict):
                    svc.pop(k, None)
                    if isinstance(svc.get("healthcheck"), dict):
                        svc["healthcheck"].pop(k, None)
        copy = os.path.join(cwd, ".conformance-" + os.path.basename(path))
        try:
            with open(copy, "w", encoding="utf-8") as f:
                yaml.safe_dump(doc, f, sort_keys=False)
            out, error = run(["docker-compose", "-f", copy, "-p", "conformance", "config"], cwd)
        finally:
            os.remove(copy)
        if out is not None:
            return out, None, stripped
    return None, error, stripped


def compare(novadev_doc, compose_doc):
    a, b = normalise(novadev_doc), normalise(compose_doc)
    if sorted(a) != sorted(b):
        return ["services (novadev: %s; docker-compose: %s)" % (",".join(sorted(a)), ",".join(sorted(b)))]
    reasons = []
    for name in sorted(a):
        for field in a[name]:
            if a[name][field] != b[name][field]:
                reasons.append("%s.%s" % (name, field))
    return reasons


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    novadev = os.path.abspath(sys.argv[1])
    files = find_files(sys.argv[2:])
    counts = Counter()
    reasons = Counter()
    env = dict(os.environ, NO_COLOR="1")
    os.environ.update(env)
    for path in files:
        cwd = os.path.dirname(path)
        rel = os.path.relpath(path)
        # docker-compose v1 `config` lists every service whatever its profiles: so does `*`.
        mine, my_error = run([novadev, "-f", path, "-p", "conformance", "--profile", "*", "config"], cwd)
        theirs, their_error = run(["docker-compose", "-f", path, "-p", "conformance", "config"], cwd)
        stripped = set()
        if their_error and not my_error:
            theirs, their_error, stripped = docker_compose_without_v2_keys(path, cwd, their_error)
        note = " (docker-compose v1 compared without: %s)" % ", ".join(sorted(stripped)) if stripped and not their_error else ""
        if my_error and their_error:
            counts["rejected by both"] += 1
            print("both reject  %s\n    novadev: %s\n    docker-compose: %s" % (rel, my_error, their_error))
        elif my_error:
            counts["rejected by novadev only"] += 1
            print("novadev only rejects  %s: %s" % (rel, my_error))
        elif their_error:
            counts["rejected by docker-compose only"] += 1
            print("docker-compose only rejects  %s: %s" % (rel, their_error))
        else:
            diff = compare(mine, theirs)
            if diff:
                counts["differing"] += 1
                reasons.update(d.split(".", 1)[-1] for d in diff)
                print("differs  %s: %s%s" % (rel, ", ".join(diff), note))
            else:
                counts["identical"] += 1
                if note:
                    print("identical  %s%s" % (rel, note))
    print()
    print("files: %d" % len(files))
    for key in ("identical", "differing", "rejected by novadev only",
                "rejected by docker-compose only", "rejected by both"):
        print("%s: %d" % (key, counts[key]))
    if reasons:
        print("differing fields: " + ", ".join("%s (%d)" % kv for kv in reasons.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
