"""What the app's lifespan builds, and typed access to it from a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.templating import Jinja2Templates
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from llmmeter.config import Settings
from llmmeter.kit.time import Clock
from llmmeter.limits.service import RateLimiter
from llmmeter.pricing.catalog import PriceCatalog

if TYPE_CHECKING:
    from llmmeter.ingest.service import Writer


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    clock: Clock
    catalog: PriceCatalog
    limiter: RateLimiter
    templates: Jinja2Templates
    writer: Writer


def app_state(request: Request) -> AppState:
    state: AppState = request.state.app
    return state
