"""Video visits benchmark: call set-up time in real browsers, and broker fan-out.

    .venv/bin/python bench/video.py [--runs 10] [--subscribers 100] [--messages 2000]
                                    [--redis redis://127.0.0.1:6379/1] [--keep]

1. Time to connected: the platform on a fresh SQLite database in a temporary directory, served
   by a threaded server on loopback; headless Chromium (Debian's, fake camera and microphone)
   with the specialist and the patient signed in, in two browser contexts. Each run takes a new
   video appointment; the clock starts before both open their join links and stops when
   ``RTCPeerConnection.connectionState`` is "connected" on both sides. Between: the device
   check (camera preview), joining, the waiting room and the specialist's admission, all
   driven as fast as the pages allow. Median, min and max of ``--runs``.
2. Broker fan-out: ``--messages`` signaling-sized messages published on one channel with
   ``--subscribers`` subscribers reading in their own threads (as connected WebSockets' pumps
   do); messages/second until every subscriber has every message, and deliveries/second.
   In-process, and through Redis (``--redis``, default $REDIS_URL) with the subscribers spread
   over four brokers (four web processes' worth of connections).

Nothing is written into the repository. Not collected by pytest (it is not under tests/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.broker import Broker, MemoryBroker, RedisBroker  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench password 123"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP *.localhost 127.0.0.1",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"]
CONNECTED = ("() => window.videoCall && videoCall.pc && "
             "videoCall.pc.connectionState === 'connected'")
MESSAGE = {"type": "candidate", "gen": 7, "from": "patient", "sender": uuid.uuid4().hex,
           "candidate": {"candidate": "candidate:842163049 1 udp 1677729535 192.0.2.10 "
                                      "61010 typ srflx raddr 0.0.0.0 rport 0 generation 0",
                         "sdpMid": "0", "sdpMLineIndex": 0}}


# --- 1. time to connected ----------------------------------------------------------------------


def _platform(tmp: Path) -> Any:
    from engine.migrate import upgrade
    from engine.platform import Platform
    from engine.runtime import Runtime
    from engine.settings import PlatformSettings

    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    settings = PlatformSettings.from_env(
        brands_dir=ROOT / "brands", themes_dir=ROOT / "themes", data_dir=tmp / "data",
        database_url=url, secret_key="bench-secret", redis_url=None, smtp_url=None,
        reload=False, argon2_fast=True)
    return Platform(Runtime.create(replace(settings)))


def _people(platform: Any, runs: int) -> tuple[str, str, list[str]]:
    """A specialist, a patient and ``runs`` confirmed video appointments starting in 5 minutes;
    returns both emails and the (specialist, patient) link paths per run."""
    from engine import clock
    from engine.db import brand_session
    from engine.identity import services as identity
    from engine.privacy import consent
    from modules.booking.models import Appointment, AppointmentType
    from modules.video import services

    cfg = platform.brands["acme-clinic"].loaded.config
    secret = platform.runtime.settings.secret_key
    tag = uuid.uuid4().hex[:8]
    links: list[tuple[str, str]] = []
    with brand_session(platform.runtime.sessions, None) as s:
        specialist = identity.create_user(s, cfg, role="specialist", name="Dra. Banco",
                                          email=f"s-{tag}@example.com", password=PASSWORD)
        identity.add_membership(s, cfg, specialist)
        patient = identity.create_user(s, cfg, role="patient", name="Paciente Banco",
                                       email=f"p-{tag}@example.com", password=PASSWORD)
        for doc in consent.current_documents(cfg):  # telehealth consent, as at sign-up
            consent.record(s, patient, cfg, doc.key, granted=True, method="signup",
                           brands_dir=platform.runtime.settings.brands_dir)
        kind = AppointmentType(brand_id=cfg.slug, specialist_id=specialist.id, name="Vídeo",
                               duration_minutes=30, modality="video", currency=cfg.currency)
        s.add(kind)
        s.flush()
        start = clock.now() + timedelta(minutes=5)
        for _ in range(runs):
            # one appointment per run (each starts with a patient not yet admitted); SQLite has
            # no overlap constraint, so they may share the time
            a = Appointment(brand_id=cfg.slug, specialist_id=specialist.id,
                            patient_id=patient.id, appointment_type_id=kind.id,
                            booked_by_id=patient.id, modality="video", start_at=start,
                            end_at=start + timedelta(minutes=30), blocked_start_at=start,
                            blocked_end_at=start + timedelta(minutes=30), status="confirmed",
                            price_minor=0, currency=cfg.currency)
            s.add(a)
            s.flush()
            links.append(tuple(f"/video/join/{services.join_token(secret, cfg, a, u.id)}"
                               for u in (specialist, patient)))  # type: ignore[arg-type]
        s.commit()
        return specialist.email, patient.email, links  # type: ignore[return-value]


def _sign_in(browser: Any, base: str, email: str) -> Any:
    context = browser.new_context(base_url=base)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/account/signin")
    page.fill("main form[method=post] input[name=email]", email)
    page.fill("main form[method=post] input[name=password]", PASSWORD)
    page.click("main form[method=post] button[type=submit]")
    page.wait_for_selector("header .account-name")
    return context, page


def time_to_connected(runs: int) -> list[float]:
    import logging

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log between figures

    tmp = Path(tempfile.mkdtemp(prefix="daraport-video-bench-"))
    try:
        platform = _platform(tmp)
        server = make_server("127.0.0.1", 0, platform, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://acme.localhost:{server.server_port}"
        specialist_email, patient_email, links = _people(platform, runs)
        times: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_ARGS)
            s_ctx, s_page = _sign_in(browser, base, specialist_email)
            p_ctx, p_page = _sign_in(browser, base, patient_email)
            for s_link, p_link in links:
                started = time.perf_counter()
                p_page.goto(p_link, wait_until="commit")
                s_page.goto(s_link, wait_until="commit")
                for page in (p_page, s_page):
                    page.click("#video-join:not([disabled])")
                s_page.click("#video-admit")
                for page in (p_page, s_page):
                    page.wait_for_function(CONNECTED, polling=20)
                times.append(time.perf_counter() - started)
                print(f"  run {len(times):2d}: {times[-1]:.3f} s", flush=True)
                for page in (p_page, s_page):
                    page.goto("about:blank")
            s_ctx.close()
            p_ctx.close()
            browser.close()
        server.shutdown()
        return times
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- 2. broker fan-out --------------------------------------------------------------------------


def fan_out(publisher: Broker, brokers: list[Broker], subscribers: int,
            messages: int) -> tuple[float, float]:
    """(messages/s, deliveries/s) of ``messages`` published to ``subscribers`` subscribers
    spread over ``brokers``, until the last subscriber has the last message."""
    channel = f"bench:{uuid.uuid4().hex}"
    subs = [brokers[i % len(brokers)].subscribe(channel) for i in range(subscribers)]
    done = threading.Barrier(subscribers + 1)
    counts = [0] * subscribers

    def read(i: int) -> None:
        sub = subs[i]
        while counts[i] < messages:
            if sub.get(timeout=10) is None:
                break
            counts[i] += 1
        done.wait()

    threads = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(subscribers)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    for n in range(messages):
        publisher.publish(channel, {**MESSAGE, "n": n})
    done.wait()
    elapsed = time.perf_counter() - started
    for sub in subs:
        sub.close()
    lost = subscribers * messages - sum(counts)
    if lost:
        print(f"  ({lost} deliveries missing: a subscriber fell {lost} behind the bound)")
    return messages / elapsed, sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if not args.skip_browser:
        print(f"1. time from both opening their links to connected ({args.runs} runs, "
              "headless Chromium, threaded dev server, SQLite):")
        times = time_to_connected(args.runs)
        print(f"   median {statistics.median(times):.3f} s   min {min(times):.3f} s   "
              f"max {max(times):.3f} s")
    print(f"2. broker fan-out: {args.messages} messages to {args.subscribers} subscribers")
    memory = MemoryBroker()
    rate, deliveries = fan_out(memory, [memory], args.subscribers, args.messages)
    print(f"   in-process: {rate:,.0f} messages/s ({deliveries:,.0f} deliveries/s)")
    if args.redis:
        publisher = RedisBroker(args.redis, prefix="bench:")
        brokers = [RedisBroker(args.redis, prefix="bench:") for _ in range(4)]
        try:
            rate, deliveries = fan_out(publisher, brokers, args.subscribers, args.messages)
            print(f"   Redis (4 subscribing brokers): {rate:,.0f} messages/s "
                  f"({deliveries:,.0f} deliveries/s)")
        finally:
            for b in [publisher, *brokers]:
                b.close()
    else:
        print("   Redis: skipped (no --redis / REDIS_URL)")


if __name__ == "__main__":
    main()
