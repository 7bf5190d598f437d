"""Daraport benchmark: the platform next to a bare Flask hello-world, in one run.

    .venv/bin/python bench/run.py [--duration 10] [--rounds 2] [--connections 8] [--keep]

1. Throughput: the platform (two example brands plus a generated third, a fresh SQLite database
   with 50 specialists listed on acme-clinic) and a hello-world app under the same gunicorn
   settings, loaded by wrk (or a Python load generator when wrk is missing) on loopback, in
   alternating rounds so both see the same machine: requests/second of /healthz and acme's
   /specialists/ as ratios to hello-world (and the home page, for reference).
2. Memory: one fresh process serving 50 brands (48 generated from the examples), RSS after
   loading and after one request to each brand.
3. Module toggle: a module switched off through the operators' editor on the running gunicorn
   platform; seconds until its page answers 404 on every worker, then back on.

Everything lives in a temporary directory (removed at the end unless --keep); nothing is written
into the repository. Not collected by pytest (it is not under tests/).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.dont_write_bytecode = True  # nothing into the repo, not even __pycache__
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for entry in (str(ROOT), str(BENCH)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from harness import GunicornSettings, LoadResult, get, gunicorn, load  # noqa: E402
from setup_data import (  # noqa: E402
    ACME,
    MEMORY_BRANDS,
    PAGE_SIZE,
    SPECIALISTS,
    TOGGLE_HOST,
    TOGGLE_SLUG,
    prepare_brands,
    prepare_memory_brands,
    seed,
)

ACME_HOST = "acme.localhost"
# path -> minimum platform/hello-world ratio (None: shown for reference)
TARGETS: dict[str, float | None] = {"/healthz": 0.8, "/specialists/": 0.3, "/": None}
RSS_TARGET_MB = 250.0
TOGGLE_TARGET_S = 2.0


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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
    ap.add_argument("--duration", type=float, default=10.0,
                    help="seconds of measured load per endpoint and app")
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternating rounds the duration is split into (best is kept)")
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
          f"{opts.warmup:g} s warm-up + {opts.duration:g} s per endpoint and app in "
          f"{opts.rounds} alternating rounds (best kept), loopback; load average "
          f"{load_average()}")
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
        per_round = opts.duration / opts.rounds
        for path in TARGETS:
            for server in (hello, platform):
                load(server.port, path, ACME_HOST, opts.warmup, opts.connections)
            rounds: dict[str, list[LoadResult]] = {"hello": [], "platform": []}
            for _ in range(opts.rounds):
                for server in (hello, platform):
                    rounds[server.name].append(load(server.port, path, ACME_HOST, per_round,
                                                    opts.connections))
            for name, runs in rounds.items():
                best = max(runs, key=lambda r: r.rps)
                results[(name, path)] = LoadResult(best.rps, best.latency,
                                                   sum(r.bad for r in runs), best.tool)
                print(f"  {name:8} {path:14} " + "  ".join(f"{r.rps:8.1f}" for r in runs)
                      + f" req/s per round; latency {best.latency}; errors "
                      f"{sum(r.bad for r in runs)}")
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
        ok = (target is None or ratio >= target) and p.bad == 0 and h.bad == 0
        ok_all &= ok
        verdict = "ok" if ok else "MISSED"
        verdict = "(reference)" if target is None and ok else verdict
        shown = f">= {target}" if target is not None else "-"
        print(f"{path:16}{h.rps:13.1f}{p.rps:11.1f}{ratio:8.2f}{shown:>9}  {verdict}"
              + (f" ({p.bad} errors)" if p.bad else ""))
    print(f"load average now {load_average()} (other work on the machine skews absolute "
          f"figures; rounds alternate so the ratios stay fair)")
    print(f"worker RSS after load: platform "
          f"{', '.join(f'{v:.0f}' for v in worker_rss['platform'])} MB; hello "
          f"{', '.join(f'{v:.0f}' for v in worker_rss['hello'])} MB")

    print(f"\n=== Memory: one process, {mem['brands']} brands ===")
    rss_ok = max(mem["rss_loaded_mb"], mem["rss_after_home_mb"],
                 mem["rss_after_directory_mb"]) < RSS_TARGET_MB and mem["brands"] == MEMORY_BRANDS \
        and not mem["non_200"]
    ok_all &= rss_ok
    print(f"after imports           {mem['rss_imports_mb']:7.1f} MB")
    print(f"after loading           {mem['rss_loaded_mb']:7.1f} MB   "
          f"(load took {mem['load_seconds']:.2f} s)")
    print(f"after GET / on each     {mem['rss_after_home_mb']:7.1f} MB   "
          f"({mem['seconds_']:.2f} s for {mem['brands']} first requests)")
    print(f"after /specialists/ too {mem['rss_after_directory_mb']:7.1f} MB   "
          f"target < {RSS_TARGET_MB:.0f} MB: {'ok' if rss_ok else 'MISSED'}")
    if mem["non_200"] or mem["errors"]:
        ok_all = False
        bad = sorted(mem["non_200"].items())
        print(f"  {len(bad)} non-200 answers, e.g. {bad[:3]}; brand load errors: {mem['errors']}")
        print("  probe stderr (last lines):\n    " + "\n    ".join(
            probe.stderr.strip().splitlines()[-8:]))

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
