#!/usr/bin/env python3
"""Wait, on the daemon's event stream, for a service's next rebuild to end ready: in a new
container, or (a live update) in the same container with its process restarted.

Used by scripts/bench-devloop.sh. Listening to /v1/events over the daemon's Unix socket costs
nothing while waiting, where polling `novadev status --json` would take CPU from the very build
being timed. Prints one line of epoch seconds and figures, from the daemon's own timestamps:

    build_started build_finished cargo_seconds ready

Usage: await-rebuild.py SOCKET SERVICE BUILDS_BEFORE OLD_CONTAINER_ID [TIMEOUT_SECONDS]
Exit 1 when the build fails or nothing happens within the timeout (default 600 s).
"""
import http.client
import json
import re
import socket
import sys
import time

CARGO_FINISHED = re.compile(r"Finished .* in (?:(\d+)m )?([\d.]+)s")


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def main():
    sock_path, service, builds_before, old_id = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 600.0
    builds_before = int(builds_before)
    conn = UnixConnection(sock_path, timeout)
    conn.request("GET", "/v1/events")
    resp = conn.getresponse()
    if resp.status != 200:
        sys.exit(f"await-rebuild: /v1/events answered {resp.status}")
    cargo = None
    build = None
    deadline = time.monotonic() + timeout
    try:
        for raw in resp:
            if time.monotonic() > deadline:
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.startswith("data:"):
                continue
            ev = json.loads(line[5:])
            if ev.get("kind") == "output" and ev.get("service") == service:
                m = CARGO_FINISHED.search(ev.get("text", ""))
                if m:
                    cargo = int(m.group(1) or 0) * 60 + float(m.group(2))
                continue
            if ev.get("kind") != "service" or ev["status"]["service"] != service:
                continue
            st = ev["status"]
            if st.get("builds", 0) <= builds_before:
                continue
            build = st.get("last_build") or build
            if st["phase"] == "build_failed":
                sys.exit(f"await-rebuild: the build failed: {st.get('detail')}")
            done = build and build.get("finished_ms")
            # Ready after the build: a new container, or (a live update) the same one restarted.
            fresh = st.get("container_id") != old_id or (st.get("ready_ms") or 0) >= (done or 0)
            if done and st["phase"] == "ready" and fresh:
                print(
                    f"{build['started_ms'] / 1000:.3f} {build['finished_ms'] / 1000:.3f} "
                    f"{cargo if cargo is not None else 'nan'} {ev['time_ms'] / 1000:.3f}"
                )
                return
    except socket.timeout:
        pass
    sys.exit("await-rebuild: not ready again within the timeout")


if __name__ == "__main__":
    main()
