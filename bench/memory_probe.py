"""Resident memory of ONE process serving every brand of DARAPORT_BRANDS_DIR.

Run by ``bench/run.py`` in a fresh interpreter (so nothing else inflates the figure); prints one
JSON object. RSS is read from /proc/self/status after the imports, after the platform is built,
after one request to each brand's home page and after one to each brand's directory.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    from werkzeug.test import Client

    from engine.platform import create_platform
    from engine.runtime import Runtime
    from engine.settings import PlatformSettings

    out: dict[str, object] = {"rss_imports_mb": rss_mb()}
    started = time.perf_counter()
    platform = create_platform(Runtime.create(PlatformSettings.from_env(reload=False)))
    out["load_seconds"] = time.perf_counter() - started
    out["brands"] = len(platform.brands)
    out["errors"] = {str(p): e for p, e in platform.errors.items()}
    out["rss_loaded_mb"] = rss_mb()
    client = Client(platform)
    statuses: dict[str, int] = {}
    for path, key in (("/", "rss_after_home_mb"), ("/specialists/", "rss_after_directory_mb")):
        started = time.perf_counter()
        for slug, served in sorted(platform.brands.items()):
            resp = client.get(path, headers={"Host": served.loaded.config.domains[0]})
            statuses[f"{slug} {path}"] = resp.status_code
            resp.close()
        out[key] = rss_mb()
        out[f"seconds{path.replace('/', '_')}"] = time.perf_counter() - started
    out["non_200"] = {k: v for k, v in statuses.items() if v != 200}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
