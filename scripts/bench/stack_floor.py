#!/usr/bin/env python3
"""The floor of a cold `up` on this engine, by hand: the stack's containers, created beforehand
(by `docker-compose up --no-start`, not timed), started with plain `docker start` along the
dependency graph, each the moment its `depends_on` conditions hold, readiness probed with the
service's own healthcheck test through `docker exec` in a loop with no pause, one-shots awaited
with `docker wait`. What no tool can beat on this engine with these containers: the engine's own
start of each container along the longest chain, plus the services' own start to ready.

Usage: stack_floor.py COMPOSE_FILE PROJECT   (prints the seconds from the first start to the last
service ready; the containers are left as they are for the caller to remove)
"""

import subprocess
import sys
import threading
import time

import yaml


def docker(*args, check=True):
    return subprocess.run(
        ["docker", *args], check=check, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def probe_of(healthcheck):
    if not healthcheck or healthcheck.get("disable"):
        return None
    test = healthcheck.get("test")
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def main():
    path, project = sys.argv[1], sys.argv[2]
    services = yaml.safe_load(open(path))["services"]
    ids = {}
    listing = docker(
        "ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
        "--format", '{{.Label "com.docker.compose.service"}} {{.ID}}',
    ).stdout
    for row in listing.splitlines():
        service, cid = row.split()
        ids[service] = cid
    missing = sorted(set(services) - set(ids))
    if missing:
        sys.exit(f"stack_floor: no container for {', '.join(missing)}; create them first")

    def depends(name):
        deps = services[name].get("depends_on") or {}
        if isinstance(deps, list):
            return {d: "service_started" for d in deps}
        return {d: (c or {}).get("condition", "service_started") for d, c in deps.items()}

    one_shot = {
        dep for name in services for dep, cond in depends(name).items()
        if cond == "service_completed_successfully"
    }
    # For each service: the events its dependents wait on.
    started = {name: threading.Event() for name in services}
    ready = {name: threading.Event() for name in services}
    ready_at = {}
    failures = []

    def run(name):
        for dep, cond in depends(name).items():
            (started if cond == "service_started" else ready)[dep].wait()
        cid = ids[name]
        if docker("start", cid, check=False).returncode != 0:
            failures.append(f"{name}: docker start failed")
        started[name].set()
        if name in one_shot:
            code = docker("wait", cid, check=False).stdout.strip()
            if code != "0":
                failures.append(f"{name}: exited {code}")
        else:
            probe = probe_of(services[name].get("healthcheck"))
            deadline = time.monotonic() + 600
            while probe and time.monotonic() < deadline:
                if docker("exec", cid, *probe, check=False).returncode == 0:
                    break
            else:
                if probe:
                    failures.append(f"{name}: not healthy within 10 minutes")
        ready_at[name] = time.monotonic()
        ready[name].set()

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=660)
    if failures or len(ready_at) != len(services):
        sys.exit("stack_floor: " + ("; ".join(failures) or "not every service became ready"))
    print("%.3f" % (max(ready_at.values()) - t0))


if __name__ == "__main__":
    main()
