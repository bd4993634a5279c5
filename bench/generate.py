"""Load N realistic LLM-call rows (default 10 million) into a PostgreSQL database for the
dashboard benchmarks: several workspaces (one large), 30 days, endpoint tags, prompt versions,
models, users, tenants and metadata, errors and latencies with a long tail.

Usage: python bench/generate.py [--rows 10000000] [--database-url URL]
Then `llmmeter worker --once` (or bench/run_dashboard.sh) builds the rollups."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import uuid_utils

from llmmeter import migrate
from llmmeter.config import PlanTier, Settings
from llmmeter.db import create_engine, create_sessionmaker
from llmmeter.workspace.service import workspace_service

TAGS = [
    f"{area}.{action}"
    for area in ("checkout", "search", "support", "docs", "chat")
    for action in ("summary", "rerank", "reply", "classify")
]
VERSIONS = ["v1", "v2", "v3", "v4"]
MODELS = [
    ("openai", "gpt-4o-mini", 150, 600),
    ("openai", "gpt-4o", 2500, 10000),
    ("openai", "gpt-4.1-mini", 400, 1600),
    ("anthropic", "claude-3-5-haiku", 800, 4000),
    ("anthropic", "claude-3-5-sonnet", 3000, 15000),
    ("google", "gemini-1.5-flash", 75, 300),
]
COLUMNS = (
    "id, workspace_id, external_request_id, provider, model, status, error_code, input_tokens,"
    " output_tokens, total_tokens, latency_ms, prompt_version, endpoint_tag, user_id, tenant_id,"
    " data_mode, environment, metadata, created_at, received_at, updated_at, cost_nano_usd,"
    " pricing_status, attempts, fingerprint"
)
SHARES = [0.7, 0.15, 0.1, 0.05]  # rows per workspace: one large, several smaller


def progress(done: int, total: int, started: float) -> None:
    width = 40
    filled = int(width * done / total)
    rate = done / max(time.monotonic() - started, 1e-9)
    eta = (total - done) / rate if rate else 0
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}"
        f"  {rate:,.0f} rows/s  eta {eta:,.0f} s "
    )
    sys.stderr.flush()


async def make_workspaces(settings: Settings, n: int) -> list[uuid.UUID]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            made = [
                await workspace_service.create(session, f"bench-{i}", PlanTier.enterprise)
                for i in range(n)
            ]
            return [w.id for w in made]
    finally:
        await engine.dispose()


def rows_for(workspace_id: uuid.UUID, count: int, now: datetime, rng: random.Random):  # type: ignore[no-untyped-def]
    span = 30 * 86400
    users = [f"u{i:05d}" for i in range(2000)]
    tenants = [f"tenant-{i}" for i in range(40)]
    # As in real applications, each endpoint has its model (a fallback now and then) and a
    # current prompt version (the previous one still in some traffic).
    own_model = {tag: MODELS[i % len(MODELS)] for i, tag in enumerate(TAGS)}
    own_version = {tag: 1 + i % (len(VERSIONS) - 1) for i, tag in enumerate(TAGS)}
    for i in range(count):
        tag = TAGS[min(int(rng.expovariate(0.25)), len(TAGS) - 1)]
        fallback = rng.random() < 0.08
        provider, model, in_price, out_price = MODELS[0] if fallback else own_model[tag]
        version = VERSIONS[own_version[tag] - (1 if rng.random() < 0.15 else 0)]
        created = now - timedelta(seconds=rng.random() * span)
        tokens_in = int(rng.lognormvariate(6.5, 0.9))
        tokens_out = int(rng.lognormvariate(5, 0.8))
        error = rng.random() < 0.03
        latency = int(rng.lognormvariate(6.8, 0.6) * (1 + tokens_out / 400))
        user = users[int(rng.paretovariate(1.2)) % len(users)]
        tenant = tenants[int(rng.expovariate(0.2)) % len(tenants)]
        metadata = {"tenantId": tenant, "_user": user, "region": rng.choice(("eu", "us", "ap"))}
        cost = (tokens_in * in_price + tokens_out * out_price) * 1000 // 1_000  # nano-USD
        yield (
            uuid_utils.uuid7().hex,
            workspace_id,
            f"gen-{workspace_id.hex[:6]}-{i}",
            provider,
            model,
            "error" if error else "success",
            rng.choice(("rate_limit_429", "timeout", "server_error")) if error else None,
            tokens_in,
            tokens_out,
            tokens_in + tokens_out,
            latency,
            version,
            tag,
            user,
            tenant,
            "real" if rng.random() < 0.95 else "test",
            "prod" if rng.random() < 0.85 else "staging",
            orjson.dumps(metadata).decode(),
            created,
            created,
            created,
            cost,
            "priced",
            1,
            hashlib.sha256(str(i).encode()).digest(),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/llmmeter_dash"
    )
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, _env_file=None)
    migrate.upgrade(settings)
    workspaces = asyncio.run(make_workspaces(settings, len(SHARES)))
    now = datetime.now(UTC)
    rng = random.Random(42)
    started = time.monotonic()
    done = 0
    with psycopg.connect(args.database_url) as conn, conn.cursor() as cur:
        for workspace_id, share in zip(workspaces, SHARES, strict=True):
            count = int(args.rows * share)
            with cur.copy(f"COPY llm_requests ({COLUMNS}) FROM STDIN") as copy:
                for row in rows_for(workspace_id, count, now, rng):
                    copy.write_row(row)
                    done += 1
                    if done % 50_000 == 0:
                        progress(done, args.rows, started)
            conn.commit()
        progress(done, args.rows, started)
        cur.execute("ANALYZE llm_requests")
    sys.stderr.write(f"\nloaded {done:,} rows in {time.monotonic() - started:,.0f} s\n")
    print(workspaces[0])  # the large workspace, for the benchmark


if __name__ == "__main__":
    main()
