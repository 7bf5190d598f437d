"""Benchmark plumbing: free ports, /proc readings, gunicorn servers and the load generators."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


# --- small helpers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, host: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return sorted(out)


# --- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GunicornSettings:
    workers: int
    worker_class: str
    threads: int

    def args(self) -> list[str]:
        out = ["--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.threads > 1:
            out += ["--threads", str(self.threads)]
        return out

    def describe(self) -> str:
        threads = f", {self.threads} threads" if self.threads > 1 else ""
        return f"{self.workers} {self.worker_class} workers{threads}"


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in children(self.process.pid)]


@contextmanager
def gunicorn(name: str, module: str, settings: GunicornSettings, env: dict[str, str],
             workdir: Path, ready_host: str) -> Iterator[Server]:
    port = free_port()
    log = workdir / f"{name}.log"
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *settings.args(),
           "--no-control-socket", "--worker-tmp-dir", str(workdir), "--chdir", str(workdir),
           "--pythonpath", f"{ROOT},{BENCH}", "--log-level", "warning",
           "--error-logfile", str(log), "--timeout", "60", f"{module}:application"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(name, port, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{name} did not start:\n{log.read_text()}")
            try:
                # every worker must have booted: ask until each has answered once
                if get(port, "/healthz", ready_host, timeout=2)[0] == 200 \
                        and len(children(process.pid)) >= settings.workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} not ready after 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    rps: float
    latency: str
    bad: int  # non-2xx/3xx responses plus socket errors
    tool: str


def wrk(port: int, path: str, host: str, seconds: float, connections: int) -> LoadResult:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s",
           "-H", f"Host: {host}", f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 30)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    lat = re.search(r"Latency\s+(\S+)", text)
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if errs:
        # sync workers close after every response: wrk may count that close as a read error
        bad += int(errs.group(1)) + int(errs.group(3)) + int(errs.group(4))
    return LoadResult(rps, lat.group(1) if lat else "?", bad, "wrk")


def _py_worker(args: tuple[int, str, str, float]) -> tuple[int, int]:
    port, path, host, until = args
    done = bad = 0
    conn: http.client.HTTPConnection | None = None
    while time.monotonic() < until:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            resp.read()
            done += 1
            bad += resp.status >= 400
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            bad += 1
            if conn is not None:
                conn.close()
            conn = None
    return done, bad


def python_load(port: int, path: str, host: str, seconds: float, connections: int) -> LoadResult:
    """A keep-alive load generator, one process per connection (when wrk is not installed)."""
    from multiprocessing import Pool

    until = time.monotonic() + seconds
    with Pool(connections) as pool:
        results = pool.map(_py_worker, [(port, path, host, until)] * connections)
    done = sum(r[0] for r in results)
    return LoadResult(done / seconds, "?", sum(r[1] for r in results), "python")


def load(port: int, path: str, host: str, seconds: float, connections: int) -> LoadResult:
    if shutil.which("wrk"):
        return wrk(port, path, host, seconds, connections)
    return python_load(port, path, host, seconds, connections)
