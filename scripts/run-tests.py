#!/usr/bin/env python3
"""Runs the workspace's test binaries side by side, the way `cargo test` runs them one by one.

Usage: run-tests.py ARTIFACTS.jsonl [-- TEST-ARGS...]

ARTIFACTS.jsonl is what `cargo test --no-run --message-format=json` printed: every test
executable it built. Each binary runs from its package's directory, with the environment
`cargo test` gives it, and its output is printed whole when it ends (as cargo-nextest
does; nextest itself would cost a cold CI run minutes of compiling to install). Two
binaries run at a time (PLINTH_TEST_JOBS): the CLI tests spend most of their time
waiting on other processes, so the library tests fill the gaps instead of queueing
behind them. Exit status 101 when any binary fails, as `cargo test --no-fail-fast`.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time


def artifacts(path):
    """The test executables listed in cargo's JSON messages, in build order."""
    seen = set()
    found = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            msg = json.loads(line)
            if msg.get("reason") != "compiler-artifact":
                continue
            exe = msg.get("executable")
            if not exe or not msg.get("profile", {}).get("test") or exe in seen:
                continue
            seen.add(exe)
            target = msg["target"]
            package = msg["package_id"]
            manifest = msg["manifest_path"]
            found.append(
                {
                    "exe": exe,
                    "dir": os.path.dirname(manifest),
                    "manifest": manifest,
                    "name": target["name"],
                    "kind": target["kind"][0],
                    "src": os.path.relpath(target["src_path"], os.path.dirname(manifest)),
                    "package": package,
                }
            )
    return found


def package_env(job):
    """The variables `cargo test` sets for a test binary it runs."""
    env = dict(os.environ)
    env["CARGO_MANIFEST_DIR"] = job["dir"]
    env["CARGO_MANIFEST_PATH"] = job["manifest"]
    return env


def main():
    argv = sys.argv[1:]
    if not argv:
        sys.exit(__doc__)
    listing, test_args = argv[0], []
    if len(argv) > 1:
        if argv[1] != "--":
            sys.exit(f"run-tests.py: unexpected argument {argv[1]!r}")
        test_args = argv[2:]
    jobs = artifacts(listing)
    if not jobs:
        sys.exit("run-tests.py: cargo built no test executable")
    # The longest first: the CLI binary, then the rest in build order.
    jobs.sort(key=lambda j: 0 if j["kind"] == "test" and j["name"] == "cli" else 1)
    width = int(os.environ.get("PLINTH_TEST_JOBS", "2"))
    lock = threading.Lock()
    queue = list(jobs)
    results = []

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop(0)
            with tempfile.TemporaryFile() as out:
                start = time.monotonic()
                code = subprocess.call(
                    [job["exe"], *test_args],
                    cwd=job["dir"],
                    env=package_env(job),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                took = time.monotonic() - start
                out.seek(0)
                text = out.read().decode("utf-8", "replace")
            with lock:
                kind = "unittests" if job["kind"] in ("lib", "bin") else job["src"]
                print(
                    f"     Running {kind} ({job['exe']}) [{took:.1f} s]",
                    flush=True,
                )
                sys.stdout.write(text)
                sys.stdout.flush()
                results.append((job, code, text))

    threads = [threading.Thread(target=worker) for _ in range(max(1, width))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    failed = [(j, c) for j, c, _ in results if c != 0]
    passed = sum(
        int(line.split("test result:")[1].split(" passed")[0].split()[-1])
        for _, _, text in results
        for line in text.splitlines()
        if "test result:" in line and " passed" in line
    )
    print(f"\n{len(results)} test binaries, {passed} tests passed", flush=True)
    for job, code in failed:
        print(f"FAILED: {job['exe']} (exit {code})", file=sys.stderr)
    sys.exit(101 if failed else 0)


if __name__ == "__main__":
    main()
