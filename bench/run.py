"""Daraport benchmark: the platform next to a bare Flask hello-world, in one run.

    .venv/bin/python bench/run.py [--duration 10] [--connections 8] [--keep]

1. Throughput: the platform (two example brands plus a generated third, a fresh SQLite database
   with 50 specialists listed on acme-clinic) and a hello-world app under the same gunicorn
   settings, each loaded in turn by wrk (or a Python load generator when wrk is missing) on
   loopback: requests/second of /healthz and acme's /specialists/ as ratios to hello-world.
2. Memory: one fresh process serving 50 brands (48 generated from the examples), RSS after
   loading and after one request to each brand.
3. Module toggle: a module switched off through the operators' editor on the running gunicorn
   platform; seconds until its page answers 404 on every worker, then back on.

Everything lives in a temporary directory (removed at the end unless --keep); nothing is written
into the repository. Not collected by pytest (it is not under tests/).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True  # nothing into the repo, not even __pycache__
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ACME = "acme-clinic"
ACME_HOST = "acme.localhost"
TOGGLE_SLUG = "bench-toggle"
TOGGLE_HOST = "toggle.localhost"
SPECIALISTS = 50
PAGE_SIZE = 50  # modules.directory.page_size on the temp acme copy: all 50 on one page
MEMORY_BRANDS = 50
SPECIALTIES = ("ansiedad", "depresión", "pareja", "duelo", "trauma", "adicciones", "infancia",
               "adolescencia", "estrés laboral", "trastornos alimentarios", "sueño", "autoestima")
LANGUAGE_SETS = (("es",), ("es", "en"), ("es", "ca"), ("en",), ("es", "fr"))
MODALITY_SETS = (("video",), ("in_person",), ("video", "in_person"))
TARGETS = {"/healthz": 0.8, "/specialists/": 0.3}
RSS_TARGET_MB = 250.0
TOGGLE_TARGET_S = 2.0


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


# --- brands and data --------------------------------------------------------------------------


def _yaml() -> Any:
    from engine.config.loader import yaml_rt

    return yaml_rt()


def write_brand_copy(source: Path, target: Path, slug: str, host: str,
                     edit: Callable[[Any], None] | None = None) -> None:
    """A copy of an example brand under a new slug and host (no aliases)."""
    yaml = _yaml()
    doc = yaml.load(source.read_text(encoding="utf-8"))
    doc["slug"] = slug
    doc["name"] = f"{doc['name']} {slug}"
    doc["domains"] = [host]
    doc.pop("aliases", None)
    if edit is not None:
        edit(doc)
    with target.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)


def set_page_size(path: Path, page_size: int) -> None:
    yaml = _yaml()
    doc = yaml.load(path.read_text(encoding="utf-8"))
    doc["modules"]["directory"]["page_size"] = page_size
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)


def prepare_brands(brands: Path) -> None:
    """The two examples (acme with page_size 50) plus the toggle brand (acme + matching)."""
    from engine.config.editor import set_module_enabled
    from engine.modules import registry

    shutil.copytree(ROOT / "brands", brands)
    set_page_size(brands / f"{ACME}.yaml", PAGE_SIZE)
    toggle = brands / f"{TOGGLE_SLUG}.yaml"
    write_brand_copy(brands / f"{ACME}.yaml", toggle, TOGGLE_SLUG, TOGGLE_HOST)
    set_module_enabled(toggle, "matching", True, registry(), ROOT / "themes")
    check_brands(brands, 3)


def prepare_memory_brands(brands: Path) -> None:
    """The two examples plus 48 copies with distinct slugs and hosts."""
    shutil.copytree(ROOT / "brands", brands)
    examples = [brands / f"{ACME}.yaml", brands / "wellness-corp.yaml"]
    for i in range(MEMORY_BRANDS - len(examples)):
        slug = f"bench-brand-{i:02d}"
        write_brand_copy(examples[i % 2], brands / f"{slug}.yaml", slug, f"{slug}.localhost")
    check_brands(brands, MEMORY_BRANDS)


def check_brands(brands: Path, expected: int) -> None:
    from engine.config import load_brand_set
    from engine.modules import registry

    result = load_brand_set(brands, registry(), ROOT / "themes")
    errors = result.all_errors()
    if errors or len(result.brands) != expected:
        raise SystemExit("generated brands are invalid:\n" + "\n".join(map(str, errors)))


def seed(database_url: str, brands: Path) -> int:
    """Migrate a fresh database and list SPECIALISTS specialists with profiles on acme."""
    from sqlalchemy import func, select

    from engine.db import brand_session
    from engine.identity import services as identity
    from engine.migrate import upgrade
    from engine.platform import create_platform
    from engine.runtime import Runtime
    from engine.settings import PlatformSettings
    from modules.directory import services as directory
    from modules.directory.models import Profile
    from modules.directory.schemas import ProfileInput

    upgrade(database_url)
    rt = Runtime.create(PlatformSettings.from_env(reload=False, argon2_fast=True))
    platform = create_platform(rt)
    cfg = platform.brands[ACME].loaded.config
    session = brand_session(rt.sessions, ACME)
    try:
        for i in range(SPECIALISTS):
            name = f"Especialista {i:02d} Bench"
            user = identity.create_user(session, cfg, role="specialist",
                                        email=f"specialist{i:02d}@bench.example", name=name,
                                        password=secrets.token_urlsafe(12))
            directory.save_profile(session, user, cfg, ProfileInput(
                display_name=name, headline="Psicología clínica y psicoterapia",
                bio="Acompaño a adultos y adolescentes.\n\nConsulta en Madrid y por vídeo.",
                specialties=(SPECIALTIES[i % len(SPECIALTIES)],
                             SPECIALTIES[(i * 5 + 3) % len(SPECIALTIES)]),
                languages=LANGUAGE_SETS[i % len(LANGUAGE_SETS)],
                modalities=MODALITY_SETS[i % len(MODALITY_SETS)]))
        session.commit()
        return int(session.scalar(select(func.count()).select_from(Profile)) or 0)
    finally:
        session.close()
        rt.engine.dispose()


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


# --- module toggle ----------------------------------------------------------------------------


def wait_for(port: int, path: str, host: str, want_404: bool, stable: int,
             timeout: float = 10.0) -> tuple[float | None, float | None]:
    """Seconds until the first matching answer and until ``stable`` matching answers in a row
    (new connection each, so every worker is asked)."""
    start = time.perf_counter()
    first = None
    streak = 0
    while time.perf_counter() - start < timeout:
        status = get(port, path, host)[0]
        if (status == 404) == want_404:
            first = first if first is not None else time.perf_counter() - start
            streak += 1
            if streak >= stable:
                return first, time.perf_counter() - start
        else:
            streak = 0
        time.sleep(0.01)
    return first, None


@dataclass
class ToggleResult:
    module: str
    path: str
    refused: str | None
    before: int
    off_first: float | None
    off_all: float | None
    on_first: float | None
    on_all: float | None
    edit_seconds: float


def toggle(port: int, brands: Path, workers: int) -> ToggleResult:
    from engine.config.editor import EditRefused, set_module_enabled
    from engine.modules import registry

    path = brands / f"{TOGGLE_SLUG}.yaml"
    reg, themes = registry(), ROOT / "themes"
    refused = None
    module, page = "directory", "/specialists/"
    before = get(port, page, TOGGLE_HOST)[0]
    stable = 4 * workers
    t0 = time.perf_counter()
    try:
        set_module_enabled(path, module, False, reg, themes)
    except EditRefused as exc:
        # every installed journey needs the directory: fall back to a module that can go
        refused = " ".join(line.strip() for line in str(exc).strip().splitlines()[:2])
        module, page = "matching", "/match/"
        before = get(port, page, TOGGLE_HOST)[0]
        t0 = time.perf_counter()
        set_module_enabled(path, module, False, reg, themes)
    edit_seconds = time.perf_counter() - t0
    off_first, off_all = wait_for(port, page, TOGGLE_HOST, True, stable)
    if off_first is not None:
        off_first += edit_seconds
    if off_all is not None:
        off_all += edit_seconds
    t1 = time.perf_counter()
    set_module_enabled(path, module, True, reg, themes)
    on_edit = time.perf_counter() - t1
    on_first, on_all = wait_for(port, page, TOGGLE_HOST, False, stable)
    return ToggleResult(module, page, refused, before, off_first, off_all,
                        None if on_first is None else on_first + on_edit,
                        None if on_all is None else on_all + on_edit, edit_seconds)


# --- main ---------------------------------------------------------------------------------------


def fmt(v: float | None, unit: str = "s") -> str:
    return "never" if v is None else f"{v:.2f} {unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-class", default="sync")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    opts = ap.parse_args()
    gsettings = GunicornSettings(opts.workers, opts.worker_class, opts.threads)

    tmp = Path(tempfile.mkdtemp(prefix="daraport-bench-"))
    env = dict(os.environ)
    env.update({
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DARAPORT_INSTANCE_DIR": str(tmp / "instance"),
        "DARAPORT_DATA_DIR": str(tmp / "data"),
        "DARAPORT_BRANDS_DIR": str(tmp / "brands"),
        "DARAPORT_THEMES_DIR": str(ROOT / "themes"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "DARAPORT_RELOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
    })
    for key in ("REDIS_URL", "SMTP_URL"):
        env.pop(key, None)
    os.environ.update({k: env[k] for k in env if k.startswith(("DARAPORT_", "SECRET_KEY",
                                                               "DATABASE_URL"))})
    try:
        return run(opts, gsettings, tmp, env)
    finally:
        if opts.keep:
            print(f"\n(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(opts: argparse.Namespace, gsettings: GunicornSettings, tmp: Path,
        env: dict[str, str]) -> int:
    print(f"Daraport benchmark — temp dir {tmp}; {os.cpu_count()} CPUs")
    print(f"gunicorn: {gsettings.describe()} for both apps; load: "
          f"{'wrk' if shutil.which('wrk') else 'python'} -c {opts.connections}, "
          f"{opts.warmup:g} s warm-up + {opts.duration:g} s per run, loopback")
    prepare_brands(tmp / "brands")
    profiles = seed(env["DATABASE_URL"], tmp / "brands")
    print(f"data: {profiles} specialists listed on {ACME}; modules.directory.page_size = "
          f"{PAGE_SIZE} on the temp copy of {ACME}.yaml (all on one page); third brand "
          f"{TOGGLE_SLUG} ({TOGGLE_HOST}) = acme + matching, for the toggle")

    results: dict[tuple[str, str], LoadResult] = {}
    worker_rss: dict[str, list[float]] = {}
    with gunicorn("platform", "platform_wsgi", gsettings, env, tmp, ACME_HOST) as platform, \
            gunicorn("hello", "hello_wsgi", gsettings, env, tmp, ACME_HOST) as hello:
        status, body = get(platform.port, "/specialists/", ACME_HOST)
        cards = body.count(b'class="profile-card"')
        print(f"acme /specialists/: HTTP {status}, {len(body) / 1024:.0f} KiB, {cards} cards")
        if status != 200 or cards != SPECIALISTS:
            print(f"error: expected {SPECIALISTS} cards on one page", file=sys.stderr)
            return 1
        for path in TARGETS:
            for server in (hello, platform):
                load(server.port, path, ACME_HOST, opts.warmup, opts.connections)
                results[(server.name, path)] = load(server.port, path, ACME_HOST,
                                                    opts.duration, opts.connections)
                r = results[(server.name, path)]
                print(f"  {server.name:8} {path:14} {r.rps:9.1f} req/s  latency {r.latency:>8}"
                      f"  errors {r.bad}")
        worker_rss = {s.name: s.worker_rss_mb() for s in (platform, hello)}
        toggled = toggle(platform.port, tmp / "brands", gsettings.workers)

    print(f"memory: building {MEMORY_BRANDS} brands in one fresh process ...")
    prepare_memory_brands(tmp / "brands50")
    mem_env = dict(env, DARAPORT_BRANDS_DIR=str(tmp / "brands50"), DARAPORT_RELOAD="0")
    probe = subprocess.run([sys.executable, str(BENCH / "memory_probe.py")], env=mem_env,
                           capture_output=True, text=True, timeout=600, cwd=tmp)
    if probe.returncode != 0:
        print(probe.stderr, file=sys.stderr)
        return 1
    mem = json.loads(probe.stdout.strip().splitlines()[-1])

    # --- summary ---
    ok_all = True
    print("\n=== Throughput (requests/second; same gunicorn settings, same load) ===")
    print(f"{'endpoint':16}{'hello-world':>13}{'platform':>11}{'ratio':>8}{'target':>9}  result")
    for path, target in TARGETS.items():
        h, p = results[("hello", path)], results[("platform", path)]
        ratio = p.rps / h.rps if h.rps else 0.0
        ok = ratio >= target and p.bad == 0 and h.bad == 0
        ok_all &= ok
        print(f"{path:16}{h.rps:13.1f}{p.rps:11.1f}{ratio:8.2f}{'>= ' + str(target):>9}  "
              f"{'ok' if ok else 'MISSED'}" + (f" ({p.bad} errors)" if p.bad else ""))
    print(f"worker RSS after load: platform "
          f"{', '.join(f'{v:.0f}' for v in worker_rss['platform'])} MB; hello "
          f"{', '.join(f'{v:.0f}' for v in worker_rss['hello'])} MB")

    print(f"\n=== Memory: one process, {mem['brands']} brands ===")
    rss_ok = max(mem["rss_loaded_mb"], mem["rss_after_home_mb"],
                 mem["rss_after_directory_mb"]) < RSS_TARGET_MB and mem["brands"] == MEMORY_BRANDS
    ok_all &= rss_ok
    print(f"after imports           {mem['rss_imports_mb']:7.1f} MB")
    print(f"after loading           {mem['rss_loaded_mb']:7.1f} MB   "
          f"(load took {mem['load_seconds']:.2f} s)")
    print(f"after GET / on each     {mem['rss_after_home_mb']:7.1f} MB   "
          f"({mem['seconds_']:.2f} s for {mem['brands']} first requests)")
    print(f"after /specialists/ too {mem['rss_after_directory_mb']:7.1f} MB   "
          f"target < {RSS_TARGET_MB:.0f} MB: {'ok' if rss_ok else 'MISSED'}")
    if mem["non_200"] or mem["errors"]:
        print(f"  non-200 answers: {mem['non_200']}; load errors: {mem['errors']}")

    print(f"\n=== Module toggle on the running gunicorn platform ({TOGGLE_SLUG}) ===")
    if toggled.refused:
        print(f"directory cannot be disabled on any brand: {toggled.refused}")
        print(f"measured with '{toggled.module}' instead ({toggled.path}), same reload path")
    off_ok = toggled.off_all is not None and toggled.off_all < TOGGLE_TARGET_S
    ok_all &= off_ok and toggled.on_all is not None
    print(f"{toggled.path} before: HTTP {toggled.before}; edit validated+written in "
          f"{toggled.edit_seconds:.3f} s")
    print(f"disable -> first 404 {fmt(toggled.off_first)}, 404 on every worker "
          f"{fmt(toggled.off_all)} (target < {TOGGLE_TARGET_S:g} s: "
          f"{'ok' if off_ok else 'MISSED'})")
    print(f"re-enable -> first non-404 {fmt(toggled.on_first)}, on every worker "
          f"{fmt(toggled.on_all)}")
    print(f"\n{'all targets met' if ok_all else 'some targets MISSED (see above)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
