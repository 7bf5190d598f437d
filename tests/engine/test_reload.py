"""Live reload over real HTTP: a changed brand file is applied without a restart, one brand at a
time, without failing requests; a broken file never replaces the last good config."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from engine.cli import main
from engine.config.loader import revision_of
from tests.config.helpers import edit, where
from tests.conftest import BRAND_HOSTS, LiveServer

pytestmark = pytest.mark.live

DEADLINE = 2.0  # seconds a change may take to reach a running server


def get(server: LiveServer, host: str, path: str = "/healthz") -> requests.Response:
    """A request to the live server as a browser on ``host`` would send it (*.localhost does
    not resolve everywhere, so the connection goes to loopback with the Host header)."""
    return requests.get(f"http://127.0.0.1:{server.port}{path}", timeout=5,
                        headers={"Host": f"{BRAND_HOSTS.get(host, host)}:{server.port}"},
                        allow_redirects=False)


def within(deadline: float, check: Callable[[], bool]) -> float:
    """Seconds until ``check()`` holds; fails the test when it does not within ``deadline``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > deadline:
            pytest.fail(f"not true within {deadline}s")
        time.sleep(0.05)


class Hammer:
    """GET /healthz of every brand from a thread, recording every status code."""

    def __init__(self, server: LiveServer):
        self.server, self._stop = server, threading.Event()
        self.codes: list[int | str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                for host in BRAND_HOSTS.values():
                    try:
                        resp = session.get(f"http://127.0.0.1:{self.server.port}/healthz",
                                           headers={"Host": host}, timeout=5)
                        self.codes.append(resp.status_code)
                    except requests.RequestException as exc:
                        self.codes.append(type(exc).__name__)

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(10)


def health(server: LiveServer, brand: str) -> dict[str, Any]:
    resp = get(server, brand)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def test_changed_file_is_applied_within_2s_rebuilding_only_that_brand(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    wellness_app = server.platform.app_for("wellness-corp")
    acme_app = server.platform.app_for("acme-clinic")
    old_revision = health(server, "acme-clinic")["revision"]
    with Hammer(server) as hammer:
        time.sleep(0.3)
        text = edit(brands_dir / "acme-clinic.yaml", "page_size: 12", "page_size: 6")
        within(DEADLINE, lambda: health(server, "acme-clinic")["revision"] == revision_of(text))
        time.sleep(0.3)
    assert old_revision != revision_of(text)
    assert server.platform.app_for("wellness-corp") is wellness_app
    assert server.platform.app_for("acme-clinic") is not acme_app
    assert len(hammer.codes) > 20
    assert set(hammer.codes) == {200}


def test_broken_file_keeps_the_last_good_config_until_it_is_fixed(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    acme_app = server.platform.app_for("acme-clinic")
    good = health(server, "acme-clinic")
    assert good["config_error"] is None
    with Hammer(server) as hammer:
        text = edit(brands_dir / "acme-clinic.yaml", "page_size: 12", "page_size: twelve")
        within(DEADLINE, lambda: health(server, "acme-clinic")["config_error"] is not None)
        broken = health(server, "acme-clinic")
        assert get(server, "acme-clinic", "/specialists/").status_code == 200
    line, col = where(text, "twelve")
    assert broken["config_error"] == (
        f"brands/acme-clinic.yaml:{line}:{col}: modules.directory.page_size: Input should be a "
        f"valid integer, unable to parse string as an integer")
    assert (broken["revision"], broken["status"]) == (good["revision"], "degraded")
    assert server.platform.app_for("acme-clinic") is acme_app
    assert health(server, "wellness-corp")["config_error"] is None
    assert set(hammer.codes) == {200}

    fixed = edit(brands_dir / "acme-clinic.yaml", "page_size: twelve", "page_size: 10")
    within(DEADLINE, lambda: health(server, "acme-clinic")["config_error"] is None)
    assert health(server, "acme-clinic")["revision"] == revision_of(fixed)
    assert health(server, "acme-clinic")["status"] == "ok"


def cli(brands_dir: Path, *args: str) -> None:
    result = CliRunner().invoke(main, list(args), env={"DARAPORT_BRANDS_DIR": str(brands_dir)})
    assert result.exit_code == 0, result.output


def test_module_disabled_through_the_cli_404s_within_2s_while_the_other_brand_serves_it(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    assert get(server, "acme-clinic", "/match/").status_code == 404
    cli(brands_dir, "modules", "enable", "acme-clinic", "matching")
    within(DEADLINE, lambda: get(server, "acme-clinic", "/match/").status_code == 200)
    wellness_app = server.platform.app_for("wellness-corp")

    cli(brands_dir, "modules", "disable", "acme-clinic", "matching")
    within(DEADLINE, lambda: get(server, "acme-clinic", "/match/").status_code == 404)
    assert get(server, "wellness-corp", "/match/").status_code == 200
    assert get(server, "acme-clinic", "/specialists/").status_code == 200
    assert server.platform.app_for("wellness-corp") is wellness_app


def test_deleted_brand_file_takes_its_brand_off_the_platform(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    acme_app = server.platform.app_for("acme-clinic")
    (brands_dir / "wellness-corp.yaml").unlink()
    within(DEADLINE, lambda: get(server, "wellness-corp").status_code == 404)
    assert health(server, "acme-clinic")["brand"] == "acme-clinic"
    assert server.platform.app_for("acme-clinic") is acme_app
    assert server.platform.errors == {}


def test_new_brand_file_is_served_without_touching_the_others(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    apps = {slug: server.platform.app_for(slug) for slug in ("acme-clinic", "wellness-corp")}
    text = (brands_dir / "acme-clinic.yaml").read_text()
    for old in ("slug: acme-clinic", "acme.localhost", "acme-clinic.example"):
        text = text.replace(old, old.replace("acme", "bravo"))
    (brands_dir / "bravo-clinic.yaml").write_text(text)
    within(DEADLINE, lambda: get(server, "bravo.localhost").status_code == 200)
    assert health(server, "bravo.localhost")["brand"] == "bravo-clinic"
    assert {slug: server.platform.app_for(slug) for slug in apps} == apps


def test_new_brand_claiming_a_served_host_is_refused_and_the_host_keeps_its_brand(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    acme_app = server.platform.app_for("acme-clinic")
    # 'aaa' sorts before 'acme-clinic': the served brand must win, not the first file by name
    text = (brands_dir / "acme-clinic.yaml").read_text().replace("slug: acme-clinic", "slug: aaa")
    (brands_dir / "aaa.yaml").write_text(text)
    new = brands_dir / "aaa.yaml"
    within(DEADLINE, lambda: new in server.platform.errors)
    line, col = where(text, "acme.localhost")
    assert server.platform.errors[new][0] == (
        f"brands/aaa.yaml:{line}:{col}: domains.0: host 'acme.localhost' is already claimed by "
        f"brands/acme-clinic.yaml")
    assert health(server, "acme-clinic")["brand"] == "acme-clinic"
    assert health(server, "acme-clinic")["config_error"] is None
    assert server.platform.app_for("acme-clinic") is acme_app
    assert "aaa" not in server.platform.brands


def test_broken_networks_file_keeps_every_brand_serving_and_is_reported(
        live_server: Callable[..., LiveServer], brands_dir: Path) -> None:
    server = live_server(brands_dir, reload=True)
    apps = {slug: server.platform.app_for(slug) for slug in ("acme-clinic", "wellness-corp")}
    networks = brands_dir / "_networks.yaml"
    original = networks.read_text()
    networks.write_text(original.replace("networks:\n", "networks: [\n"))
    within(DEADLINE, lambda: health(server, "acme-clinic")["config_error"] is not None)
    for slug in apps:
        error = health(server, slug)["config_error"]
        assert error.startswith("brands/_networks.yaml:"), error
        assert server.platform.app_for(slug) is apps[slug]
    # a brand edit meanwhile is still applied, validated against the last good networks
    text = edit(brands_dir / "acme-clinic.yaml", "page_size: 12", "page_size: 8")
    within(DEADLINE, lambda: health(server, "acme-clinic")["revision"] == revision_of(text))
    shutil.copy(Path(__file__).parents[2] / "brands" / "_networks.yaml", networks)
    within(DEADLINE, lambda: health(server, "wellness-corp")["config_error"] is None)
    assert health(server, "acme-clinic")["config_error"] is None
