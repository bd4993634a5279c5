"""`llmmeter serve | worker | migrate | create-workspace | create-key | rotate-key | revoke-key |
set-plan | set-budget`."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter import migrate
from llmmeter.account.service import account_service
from llmmeter.alert import worker as alert_worker
from llmmeter.api_key.service import Grace, IssuedKey, KeyMode, api_key_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.budget.config import BudgetPolicy
from llmmeter.config import PlanTier, Settings
from llmmeter.db import create_engine, create_sessionmaker
from llmmeter.kit.errors import AppError
from llmmeter.kit.time import utc_now
from llmmeter.workspace.service import workspace_service


def _print(*lines: str) -> None:
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def sample_curl(base_url: str, key: str) -> str:
    record = {
        "externalRequestId": f"req_{uuid.uuid4().hex[:16]}",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "endpointTag": "quickstart",
        "promptVersion": "v1",
        "inputTokens": 120,
        "outputTokens": 45,
        "latencyMs": 820,
        "status": "success",
    }
    return (
        f"curl -sS -X POST {base_url}/v1/ingest/llm-request "
        f"-H {shlex.quote('X-API-Key: ' + key)} -H 'Content-Type: application/json' "
        f"-d {shlex.quote(orjson.dumps(record).decode())}"
    )


async def _create_workspace(
    settings: Settings, name: str, plan: PlanTier, time_zone: str
) -> tuple[uuid.UUID, IssuedKey]:
    async with _session(settings) as session:
        workspace = await workspace_service.create(session, name, plan, time_zone=time_zone)
        issued = await api_key_service.create(session, workspace.id, "Default key")
        return workspace.id, issued


async def _needs_setup(settings: Settings) -> bool:
    async with _session(settings) as session:
        return await account_service.needs_setup(session)


async def _bootstrap(settings: Settings) -> tuple[uuid.UUID, IssuedKey] | None:
    async with _session(settings) as session:
        if await workspace_service.count(session):
            return None
    return await _create_workspace(settings, "Default", settings.default_plan, "UTC")


def _announce_key(workspace_id: uuid.UUID, issued: IssuedKey, base_url: str) -> None:
    _print(
        f"workspace: {workspace_id}",
        f"api key (shown once, store it now): {issued.secret}",
        "",
        "post a record:",
        f"  {sample_curl(base_url, issued.secret)}",
        "",
    )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    host, port = args.host or settings.host, args.port or settings.port
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if settings.embedded or args.migrate:
        migrate.upgrade(settings)
    if settings.embedded:
        created = asyncio.run(_bootstrap(settings))
        _print(f"llmmeter: embedded mode, data in {settings.sqlite_path.resolve()}")
        if created:
            _announce_key(*created, base_url)
        else:
            _print("existing workspace kept; `llmmeter create-key --workspace ID` makes a new key")
    if asyncio.run(_needs_setup(settings)):
        _print(f"dashboard: open {base_url}/setup to create the first user (it owns the workspace)")
    else:
        _print(f"dashboard: sign in at {base_url}/signin")
    uvicorn.run(
        "llmmeter.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers or settings.workers,
        log_level=settings.log_level,
        proxy_headers=True,
    )


async def _worker(settings: Settings, once: bool) -> tuple[int, int]:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        if once:
            return await alert_worker.run_once(sessionmaker, settings, utc_now)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await alert_worker.run_forever(sessionmaker, settings, utc_now, stop)
        return 0, 0
    finally:
        await engine.dispose()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    if settings.embedded:
        migrate.upgrade(settings)
    if not args.once:
        _print(
            f"llmmeter worker: evaluating alert rules every {settings.alert_interval_seconds:g} s"
        )
    evaluated, sent = asyncio.run(_worker(settings, args.once))
    if args.once:
        _print(f"evaluated {evaluated} rules, sent {sent} messages")


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> None:
    migrate.upgrade(settings)
    _print("database is at the latest revision")


def cmd_create_workspace(settings: Settings, args: argparse.Namespace) -> None:
    workspace_id, issued = asyncio.run(
        _create_workspace(settings, args.name, PlanTier(args.plan), args.time_zone)
    )
    _announce_key(workspace_id, issued, f"http://{settings.host}:{settings.port}")


async def _create_key(settings: Settings, args: argparse.Namespace) -> IssuedKey:
    async with _session(settings) as session:
        workspace = await workspace_service.get(session, WorkspaceScope(args.workspace))
        mode = KeyMode.test if args.test else KeyMode.live
        return await api_key_service.create(session, workspace.id, args.name, mode=mode)


def cmd_create_key(settings: Settings, args: argparse.Namespace) -> None:
    issued = asyncio.run(_create_key(settings, args))
    _print(f"key id: {issued.key.id}", f"api key (shown once, store it now): {issued.secret}")


async def _rotate_key(settings: Settings, args: argparse.Namespace) -> IssuedKey:
    async with _session(settings) as session:
        scope = WorkspaceScope(args.workspace)
        return await api_key_service.rotate(session, scope, args.key, Grace(args.grace), utc_now())


def cmd_rotate_key(settings: Settings, args: argparse.Namespace) -> None:
    issued = asyncio.run(_rotate_key(settings, args))
    _print(
        f"new key id: {issued.key.id}",
        f"api key (shown once, store it now): {issued.secret}",
        f"the old key stops working after the grace period ({args.grace})",
    )


async def _revoke_key(settings: Settings, args: argparse.Namespace) -> None:
    async with _session(settings) as session:
        await api_key_service.revoke(session, WorkspaceScope(args.workspace), args.key, utc_now())


def cmd_revoke_key(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_revoke_key(settings, args))
    _print("key revoked")


async def _set_plan(settings: Settings, args: argparse.Namespace) -> None:
    async with _session(settings) as session:
        await workspace_service.set_plan(
            session, WorkspaceScope(args.workspace), PlanTier(args.plan)
        )


def cmd_set_plan(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_set_plan(settings, args))
    _print(f"plan set to {args.plan}; it applies from the next request")


def _usd(value: str) -> Decimal | None:
    if value.lower() in ("", "none", "off"):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {value!r}") from None


async def _set_budget(settings: Settings, args: argparse.Namespace) -> None:
    async with _session(settings) as session:
        await workspace_service.set_budget(
            session,
            WorkspaceScope(args.workspace),
            daily_usd=args.daily,
            monthly_usd=args.monthly,
            warning_ratio=args.ratio,
            policy=BudgetPolicy(args.policy),
        )


def cmd_set_budget(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_set_budget(settings, args))
    _print(
        f"budget: daily {args.daily or 'none'} USD, monthly {args.monthly or 'none'} USD, "
        f"warning at {args.ratio}, policy {args.policy}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmmeter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--migrate", action="store_true", help="migrate PostgreSQL before serving")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(func=cmd_migrate)

    worker = sub.add_parser("worker", help="evaluate alert rules and send alerts, in a loop")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.set_defaults(func=cmd_worker)

    ws = sub.add_parser("create-workspace", help="create a workspace and print its first key")
    ws.add_argument("--name", required=True)
    ws.add_argument("--plan", choices=[t.value for t in PlanTier], default="free")
    ws.add_argument("--time-zone", default="UTC")
    ws.set_defaults(func=cmd_create_workspace)

    key = sub.add_parser("create-key", help="create an API key and print it once")
    key.add_argument("--workspace", type=uuid.UUID, required=True)
    key.add_argument("--name", default="API key")
    key.add_argument(
        "--test", action="store_true", help="an lm_test_ key (records default to test)"
    )
    key.set_defaults(func=cmd_create_key)

    rotate = sub.add_parser(
        "rotate-key", help="replace a key; the old one works for a grace period"
    )
    rotate.add_argument("--workspace", type=uuid.UUID, required=True)
    rotate.add_argument("--key", type=uuid.UUID, required=True)
    rotate.add_argument("--grace", choices=[g.value for g in Grace], default="none")
    rotate.set_defaults(func=cmd_rotate_key)

    revoke = sub.add_parser("revoke-key", help="stop a key at once")
    revoke.add_argument("--workspace", type=uuid.UUID, required=True)
    revoke.add_argument("--key", type=uuid.UUID, required=True)
    revoke.set_defaults(func=cmd_revoke_key)

    plan = sub.add_parser("set-plan", help="change a workspace's plan (applies at once)")
    plan.add_argument("--workspace", type=uuid.UUID, required=True)
    plan.add_argument("--plan", choices=[t.value for t in PlanTier], required=True)
    plan.set_defaults(func=cmd_set_plan)

    budget = sub.add_parser("set-budget", help="set daily/monthly budgets ('none' for no limit)")
    budget.add_argument("--workspace", type=uuid.UUID, required=True)
    budget.add_argument("--daily", type=_usd, default=None, metavar="USD")
    budget.add_argument("--monthly", type=_usd, default=None, metavar="USD")
    budget.add_argument("--ratio", type=Decimal, default=Decimal("0.8"), help="warning ratio")
    budget.add_argument("--policy", choices=[p.value for p in BudgetPolicy], default="observe")
    budget.set_defaults(func=cmd_set_budget)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    func: Callable[[Settings, argparse.Namespace], None] = args.func
    try:
        func(Settings(), args)
    except AppError as exc:
        sys.stderr.write(f"llmmeter: {exc.message}\n")
        raise SystemExit(2) from None
