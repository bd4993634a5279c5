"""Every benchmark of the performance issue in one run, written to bench/RESULTS.md.

Usage: .venv/bin/python bench/run_all.py [--seconds 15] [--rows 10000000]
Needs PostgreSQL and Redis on loopback and `wrk`. Takes ~15 minutes plus the data load
(the 10 M-row database is reused when it is already there)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG = "postgresql://postgres@127.0.0.1:5432"
INGEST_DB, DASH_DB = f"{PG}/llmmeter_bench", f"{PG}/llmmeter_dash"


def sh(cmd: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        cmd,
        shell=True,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return out.stdout


def psql(sql: str, db: str = "postgres") -> str:
    return sh(f'psql -qtA -h 127.0.0.1 -U postgres -d {db} -c "{sql}"')


def machine() -> list[str]:
    return [
        f"- CPU: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"RAM {int(sh('free -g').split()[7])} GiB, {platform.platform()}",
        f"- Python {platform.python_version()}, {psql('SHOW server_version').strip()} PostgreSQL, "
        f"Redis {sh('redis-server --version').split()[2].removeprefix('v=')}, "
        f"{sh('wrk --version 2>&1 || true').splitlines()[0]}",
        "- PostgreSQL and Redis on loopback, `synchronous_commit` on; load generator (wrk) on "
        "the same 2-core box; 2 uvicorn workers per server; one server up at a time.",
    ]


def rss_sampler(pid: int, stop: threading.Event, peak: dict[str, int]) -> None:
    while not stop.is_set():
        out = subprocess.run(
            ["ps", "-o", "rss=", "--ppid", str(pid)], capture_output=True, text=True
        ).stdout
        for line in out.split():
            peak["kb"] = max(peak.get("kb", 0), int(line))
        time.sleep(0.5)


def serve(name: str, port: int, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not start")


def wrk(port: int, conns: int, seconds: int, script: str, env: dict[str, str]) -> dict[str, float]:
    out = sh(f"wrk -t2 -c{conns} -d{seconds}s -s bench/{script} http://127.0.0.1:{port}", env=env)
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}


def ingest(seconds: int) -> dict[str, dict[str, object]]:
    psql("DROP DATABASE IF EXISTS llmmeter_bench WITH (FORCE)")
    psql("CREATE DATABASE llmmeter_bench")
    env = {
        "LLMMETER_DATABASE_URL": INGEST_DB,
        "LLMMETER_REDIS_URL": "redis://127.0.0.1:6379/14",
        # Throughput, not the plan's rate limit, is measured: lift it for the bench workspace.
        "LLMMETER_PLANS": '{"enterprise": {"name": "Enterprise", "monthly_requests": null,'
        ' "rate_per_second": 1000000, "burst": 1000000}}',
        "LLMMETER_WORKERS": "2",
    }
    sh(f"{BIN}/llmmeter migrate", env)
    key = re.search(
        r"lm_live_\w+",
        sh(f"{BIN}/llmmeter create-workspace --name bench --plan enterprise", env),
    )
    assert key
    env["LLMMETER_BENCH_KEY"] = key.group(0)
    servers = {
        "baseline": [str(BIN / "uvicorn"), "bench.baseline_app:app"],
        "llmmeter": [str(BIN / "llmmeter"), "serve"],
    }
    results: dict[str, dict[str, object]] = {}
    for port, (name, cmd) in enumerate(servers.items(), start=8300):
        proc = serve(name, port, cmd, env)
        peak: dict[str, int] = {}
        stop = threading.Event()
        sampler = threading.Thread(target=rss_sampler, args=(proc.pid, stop, peak))
        sampler.start()
        # Both servers get the same 3 s warm-up (connections opened, statements prepared,
        # caches filled); its figures are kept in the raw lines as `warmup_c64`.
        r: dict[str, object] = {"warmup_c64": wrk(port, 64, 3, "ingest.lua", env)}
        r["c64"] = wrk(port, 64, seconds, "ingest.lua", env)
        stop.set()
        sampler.join()
        r["rss_mb"] = peak.get("kb", 0) / 1024
        r["c4"] = wrk(port, 4, seconds, "ingest.lua", env)
        for size in (100, 500):
            r[f"b{size}"] = wrk(
                port, 8, seconds, "ingest_batch.lua", {**env, "BATCH_SIZE": str(size)}
            )
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        results[name] = r
        print(name, r, flush=True)
    return results


def dashboard(rows: int) -> tuple[list[str], str]:
    exists = psql("SELECT 1 FROM pg_database WHERE datname = 'llmmeter_dash'").strip()
    loaded = exists and int(psql("SELECT count(*) FROM llm_requests", "llmmeter_dash") or 0) >= rows
    if not loaded:
        psql("DROP DATABASE IF EXISTS llmmeter_dash WITH (FORCE)")
        psql("CREATE DATABASE llmmeter_dash")
        sh(f"{BIN}/python bench/generate.py --rows {rows} --database-url {DASH_DB}")
    workspace = psql(
        "SELECT workspace_id FROM llm_requests GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        "llmmeter_dash",
    ).strip()
    out = sh(f"{BIN}/python bench/dashboard.py {workspace} --database-url {DASH_DB}")
    return [x for x in out.splitlines() if x.startswith(("RESULT", "INFO"))], workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    started = datetime.now(UTC)
    dash, _ = dashboard(args.rows)
    print("\n".join(dash), flush=True)
    results = ingest(args.seconds)
    write(started, args, dash, results)


def _ms(line: str, field: str) -> float:
    found = re.search(rf"{field}=([\d.]+)", line)
    return float(found.group(1)) if found else float("nan")


def write(started: datetime, args: argparse.Namespace, dash: list[str], r: dict) -> None:  # type: ignore[type-arg]
    b, m = r["baseline"], r["llmmeter"]
    find = lambda name: next(x for x in dash if name in x)  # noqa: E731
    raw30, roll30, page30 = (
        find("30d_day_x_tag raw"),
        find("30d_day_x_tag rollups"),
        find("30d_page"),
    )
    raw24, page24 = find("24h_by_hour raw"), find("24h_page")
    ratio = m["c64"]["req_per_s"] / b["c64"]["req_per_s"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/run_all.py "
        f"--seconds {args.seconds} --rows {args.rows}` (one run; every figure below comes from it).",
        "",
        *machine(),
        "",
        "Each server runs alone with 2 uvicorn workers; wrk runs on the same box. Before the "
        "measured runs each server gets the same 3-second warm-up at 64 connections (its figures "
        "are the `warmup_c64` raw lines below).",
        "",
        "| what | baseline (same run) | llmmeter | target | met |",
        "|---|---|---|---|---|",
        f"| single-record ingest, 64 conns | {b['c64']['req_per_s']:.0f} req/s, p99 "
        f"{b['c64']['p99_ms']:.0f} ms | {m['c64']['req_per_s']:.0f} req/s ({ratio:.2f}×), p99 "
        f"{m['c64']['p99_ms']:.0f} ms, errors {m['c64']['errors'] + m['c64']['non2xx_status']:.0f} "
        f"| ≥ 2.0×, p99 ≤ 50 ms, 0 errors | {'yes' if ratio >= 2 and m['c64']['p99_ms'] <= 50 else 'no'} |",
        f"| single-record ingest, 4 conns | p50 {b['c4']['p50_ms']:.1f} / p99 {b['c4']['p99_ms']:.1f} ms "
        f"| p50 {m['c4']['p50_ms']:.1f} / p99 {m['c4']['p99_ms']:.1f} ms | p50 ≤ 5, p99 ≤ 25 ms "
        f"| {'yes' if m['c4']['p50_ms'] <= 5 and m['c4']['p99_ms'] <= 25 else 'no'} |",
        *(
            f"| batch ingest, {n} records/request (8 conns) | {b[f'b{n}']['records_per_s']:.0f} "
            f"records/s | {m[f'b{n}']['records_per_s']:.0f} records/s | ≥ 15,000 records/s | "
            f"{'yes' if m[f'b{n}']['records_per_s'] >= 15000 else 'no'} |"
            for n in (100, 500)
        ),
        f"| 30-day overview, day × endpoint tag (spend, count, p95) | raw: p95 "
        f"{_ms(raw30, 'p95'):.0f} ms | rollups: p95 {_ms(roll30, 'p95'):.1f} ms; whole page "
        f"(overview + daily series + tag table): p95 {_ms(page30, 'p95'):.1f} ms | ≤ 150 ms p95 | "
        f"{'yes' if _ms(roll30, 'p95') <= 150 else 'no'} (the rollup query) |",
        f"| 24-hour view by hour | raw: p95 {_ms(raw24, 'p95'):.0f} ms | page (overview + hourly "
        f"series): p95 {_ms(page24, 'p95'):.1f} ms | ≤ 200 ms | "
        f"{'yes' if _ms(page24, 'p95') <= 200 else 'no'} |",
        f"| memory under the 64-conn load | {b['rss_mb']:.0f} MB (largest worker) | "
        f"{m['rss_mb']:.0f} MB (largest worker) | ≤ 250 MB per worker | "
        f"{'yes' if m['rss_mb'] <= 250 else 'no'} |",
        "",
        "Raw lines:",
        "",
        "```text",
        *dash,
        *(f"{name} {key} {value}" for name, res in r.items() for key, value in res.items()),
        "```",
        "",
    ]
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines))
    print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    sys.exit(main())
