#!/usr/bin/env python3
"""Runs the workspace's test binaries, built by `cargo test --no-run`, the way
`cargo test` would, except that the CLI tests (`plinth`'s `cli` binary: 90 seconds
on two cores, one of them idle a sixth of that time while tests wait on servers
and podman) run beside the other binaries instead of after them. The others (37
CPU-seconds in all) run one after another at a lower priority (nice 10), filling
the CLI tests' idle time without taking the CPU from them; measured on two cores:
105 s for all of them, 120 s one binary after the other.

Usage: run-tests.py ARTIFACTS [TEST-ARGS...]
ARTIFACTS is the JSON that `cargo test --no-run --message-format=json-render-diagnostics`
printed; TEST-ARGS go to every test binary. Each binary runs in its package's
directory, as under cargo. Exit status 1 when any binary failed (all of them run).

Why a script: cargo runs test binaries one at a time, and no cargo option says
otherwise.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading

FOREGROUND = ("plinth", "cli")


def artifacts(path):
    """(package, target, kind, executable, manifest dir) of every test binary."""
    found = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            m = json.loads(line)
            if m.get("reason") != "compiler-artifact" or not m.get("executable"):
                continue
            if not m["profile"]["test"]:
                continue
            manifest = m["manifest_path"]
            found.append(
                {
                    # The workspace's crates live in directories named after them.
                    "package": os.path.basename(os.path.dirname(manifest)),
                    "target": m["target"]["name"],
                    "kind": m["target"]["kind"][0],
                    "src": m["target"]["src_path"],
                    "exe": m["executable"],
                    "dir": os.path.dirname(manifest),
                }
            )
    return found


def header(b):
    src = os.path.relpath(b["src"], b["dir"])
    return f"     Running {src} ({os.path.relpath(b['exe'])})\n"


def run(b, args, out, nice=False):
    env = dict(os.environ, CARGO_MANIFEST_DIR=b["dir"], CARGO_PKG_NAME=b["package"])
    cmd = [b["exe"], *args]
    if nice:
        cmd = ["nice", "-n", "10", *cmd]
    return subprocess.run(cmd, cwd=b["dir"], env=env, stdout=out, stderr=subprocess.STDOUT).returncode


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bins = artifacts(sys.argv[1])
    args = sys.argv[2:]
    if not bins:
        sys.exit("run-tests.py: cargo built no test binary")
    fg = [b for b in bins if (b["package"], b["target"]) == FOREGROUND]
    rest = [b for b in bins if (b["package"], b["target"]) != FOREGROUND]
    failed = []
    done = []  # (binary, log file) of the background ones, in order

    def background():
        for b in rest:
            log = tempfile.TemporaryFile()
            if run(b, args, log, nice=bool(fg)) != 0:
                failed.append(b)
            done.append((b, log))

    t = threading.Thread(target=background)
    t.start()
    for b in fg:
        sys.stdout.write(header(b))
        sys.stdout.flush()
        if run(b, args, None) != 0:
            failed.append(b)
    t.join()
    for b, log in done:
        sys.stdout.write(header(b))
        sys.stdout.flush()
        log.seek(0)
        sys.stdout.buffer.write(log.read())
        sys.stdout.flush()
    if failed:
        print("error: test failed in:", file=sys.stderr)
        for b in failed:
            print(f"  {b['package']} {b['kind']} {b['target']} ({b['exe']})", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
