"""Audit benchmark (run by hand, not by pytest): ``cli.py audit verify`` over 1,000,000 events
on PostgreSQL, the append rate through ``audit.record`` (one and eight writers), and the time
to find a tampered event in the middle of the big chain.

    .venv/bin/python bench/audit.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                    [--events 1000000]

A fresh PostgreSQL database beside the one --pg names, dropped at the end. The events are
written with COPY, their MACs computed by the same code the application uses (engine.audit), in
three chains (two brands and the platform), then verified by the real command in a subprocess.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.platforms import postgres_database  # noqa: E402
from engine import audit, audit_chain  # noqa: E402
from engine.db import brand_session, make_engine, make_sessionmaker  # noqa: E402
from engine.migrate import upgrade  # noqa: E402

CHAINS = (("acme-clinic", 0.45), ("wellness-corp", 0.45), (None, 0.10))
ACTIONS = ("auth.signin", "appointment.view", "intake.view", "access.denied", "auth.signout")
COLUMNS = ("chain", "seq", "occurred_at", "brand_id", "actor_id", "actor_role", "ip", "action",
           "outcome", "target_type", "target_id", "patient_id", "request_id", "details",
           "prev_mac", "mac")


def load_events(url: str, total: int, key: bytes) -> tuple[float, float]:
    """COPY ``total`` chained events; (seconds computing MACs, seconds writing)."""
    import psycopg

    start = datetime(2026, 1, 1, tzinfo=UTC)
    heads: dict[str, tuple[int, str]] = {}
    compute = write = 0.0
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                batch: list[tuple] = []
                for i in range(total):
                    t0 = time.perf_counter()
                    brand = CHAINS[0][0] if i % 20 < 9 else CHAINS[1][0] if i % 20 < 18 \
                        else CHAINS[2][0]
                    chain = audit.chain_of(brand)
                    seq, prev = heads.get(chain, (0, audit.GENESIS_MAC))
                    seq += 1
                    at = start + timedelta(milliseconds=i * 30)
                    action = ACTIONS[i % len(ACTIONS)]
                    row = (chain, seq, at, brand, 1000 + i % 5000, "specialist",
                           f"10.0.{i % 250}.{i % 200}", action,
                           "denied" if action == "access.denied" else "success",
                           "appointment", str(i), 20000 + i % 90000, secrets.token_hex(16),
                           '{"endpoint":"booking.appointment"}' if i % 3 == 0 else None)
                    mac = audit.compute_mac(key, prev, audit.canonical(*row))
                    heads[chain] = (seq, mac)
                    batch.append((*row, prev, mac))
                    t1 = time.perf_counter()
                    compute += t1 - t0
                    if len(batch) == 10000:
                        for r in batch:
                            copy.write_row(r)
                        batch.clear()
                    write += time.perf_counter() - t1
                for r in batch:
                    copy.write_row(r)
            t2 = time.perf_counter()
            for chain, (seq, mac) in heads.items():
                cur.execute("INSERT INTO audit_chain_head (chain, seq, mac) VALUES (%s, %s, %s)",
                            (chain, seq, mac))
        conn.commit()
        write += time.perf_counter() - t2
    return compute, write


def run_verify(url: str, env: dict[str, str]) -> tuple[float, str, int, float]:
    """(wall seconds, output, exit status, CPU seconds of the command's process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "cli.py", "audit", "verify"], cwd=ROOT,
                          env={**env, "DATABASE_URL": url}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, proc.stdout + proc.stderr, proc.returncode, cpu


def append_rate(url: str, writers: int, per_writer: int) -> float:
    engine = make_engine(url, pool_size=writers + 2)
    factory = make_sessionmaker(engine)
    barrier = threading.Barrier(writers)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(per_writer):
            with brand_session(factory, None) as s:
                audit.record(s, action="bench.append", brand_id="acme-clinic",
                             details={"writer": n, "i": i})
                s.commit()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return writers * per_writer / elapsed


def commit_rate(url: str, n: int = 200) -> float:
    """The machine's baseline: one-row INSERT + COMMIT per second on the same database."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_commit (id serial PRIMARY KEY, v text)"))
    t0 = time.perf_counter()
    for _ in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_commit (v) VALUES ('x')"))
    rate = n / (time.perf_counter() - t0)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_commit"))
    engine.dispose()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    key = secrets.token_hex(32)
    os.environ[audit.KEY_ENV] = key
    instance = tempfile.mkdtemp(prefix="daraport-bench-audit-")
    env = {**os.environ, "DARAPORT_INSTANCE_DIR": instance, "DARAPORT_RELOAD": "0"}
    with postgres_database(args.pg, "audit") as url:
        upgrade(url)
        print(f"loading {args.events:,} events (COPY, MACs by engine.audit) ...", flush=True)
        compute, write = load_events(url, args.events, key.encode())
        print(f"  computed MACs in {compute:.1f}s ({args.events / compute:,.0f}/s), "
              f"wrote in {write:.1f}s", flush=True)
        engine = make_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE audit_event"))
        engine.dispose()

        elapsed, out, code, cpu = run_verify(url, env)
        assert code == 0, out
        print("$ python cli.py audit verify")
        print("\n".join("  " + line for line in out.strip().splitlines()))
        print(f"  wall time of the command (with interpreter start): {elapsed:.2f}s, "
              f"{args.events / elapsed:,.0f} events/s; its CPU time {cpu:.1f}s "
              f"({args.events / cpu:,.0f} events per CPU-second; PostgreSQL's share not "
              f"counted); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        # tamper in the middle of the largest chain, as the database owner would
        target = 300_000 if args.events >= 700_000 else max(1, args.events // 4)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("UPDATE audit_event SET actor_id = 7 WHERE chain = "
                              "'brand:acme-clinic' AND seq = :s"), {"s": target})
        engine.dispose()
        elapsed, out, code, cpu = run_verify(url, env)
        broken = [line for line in out.splitlines() if line.startswith("BROKEN")]
        assert code == 1 and broken and f"#{target} " in broken[0], out
        print(f"after editing brand:acme-clinic #{target}: exit {code} in {elapsed:.2f}s")
        print("  " + broken[0])

        one = append_rate(url, 1, 500)
        eight = append_rate(url, 8, 250)
        print(f"append through audit.record (one transaction per event): "
              f"{one:,.0f}/s with 1 writer, {eight:,.0f}/s with 8 writers (one chain); "
              f"baseline one-row INSERT + COMMIT: {commit_rate(url):,.0f}/s")
        engine = make_engine(url)
        with brand_session(make_sessionmaker(engine), None) as s:
            r = audit_chain.verify_chain(s, "brand:acme-clinic")
            assert r.problem is not None and r.problem.seq == target
        engine.dispose()


if __name__ == "__main__":
    main()
