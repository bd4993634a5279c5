"""API keys: `lm_live_`/`lm_test_` + 40 base62 characters, kept only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.api_key.cache import key_cache
from llmmeter.api_key.repository import IngestKeyRow, api_key_repository
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.budget import scoped
from llmmeter.budget.config import BudgetConfig
from llmmeter.kit.errors import FieldError, InvalidAPIKey, NotFound, ValidationFailed
from llmmeter.kit.tenancy import Tenant
from llmmeter.models import ApiKey

_ALPHABET = string.ascii_letters + string.digits
_RANDOM_CHARS = 40  # 40 × log2(62) ≈ 238 bits
KEY_PATTERN = re.compile(r"lm_(live|test)_[A-Za-z0-9]{32,128}")
# Writing last_used_at on every request would turn each ingest into two row updates.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyMode(StrEnum):
    live = "live"
    test = "test"


class Grace(StrEnum):
    """How long a rotated key keeps working."""

    none = "none"
    one_hour = "1h"
    one_day = "24h"
    one_week = "7d"

    @property
    def delta(self) -> timedelta:
        return {
            "none": timedelta(0),
            "1h": timedelta(hours=1),
            "24h": timedelta(hours=24),
            "7d": timedelta(days=7),
        }[self.value]


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full key: shown once, never stored


def hash_key(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def generate_secret(mode: KeyMode) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"lm_{mode.value}_{body}"


def _touch_due(row: IngestKeyRow, now: datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION


def _principal(row: IngestKeyRow, now: datetime) -> IngestPrincipal:
    if row.revoked_at is not None and row.revoked_at <= now:
        raise InvalidAPIKey("This API key has been revoked.")
    if row.expires_at is not None and row.expires_at <= now:
        raise InvalidAPIKey("This API key has expired.")
    return IngestPrincipal(
        workspace_id=row.workspace_id,
        api_key_id=row.key_id,
        key_mode=row.mode,
        plan_tier=row.plan_tier,
        time_zone=row.time_zone,
        pricing_version=row.pricing_version,
        workspace_metadata=row.workspace_metadata or {},
        key_metadata=row.key_metadata or {},
        budget=BudgetConfig(
            daily_usd=row.budget_daily_usd,
            monthly_usd=row.budget_monthly_usd,
            warning_ratio=row.budget_warning_ratio,
            policy=row.budget_policy,
        ),
        scoped_budgets=scoped.active(row.scoped_budgets, now),
    )


class ApiKeyService:
    def authenticate_cached(self, raw: str | None, now: datetime) -> IngestPrincipal | None:
        """The answer without the database when this worker read the key moments ago (see
        api_key.cache); None when the database is needed (not cached, or last-used is due)."""
        if raw is None or not KEY_PATTERN.fullmatch(raw):
            raise InvalidAPIKey()
        row = key_cache.get(hash_key(raw))
        if row is None or _touch_due(row, now):
            return None
        return _principal(row, now)

    async def authenticate(
        self, session: AsyncSession, raw: str | None, now: datetime, cache_seconds: float = 0
    ) -> IngestPrincipal:
        # A malformed key cannot exist in the table: answer without a query.
        if raw is None or not KEY_PATTERN.fullmatch(raw):
            raise InvalidAPIKey()
        digest = hash_key(raw)
        row = key_cache.get(digest)
        if row is None:
            row = await api_key_repository.find_for_ingest(session, digest)
            if row is None:
                raise InvalidAPIKey()
            key_cache.put(digest, row, cache_seconds)
        principal = _principal(row, now)
        if _touch_due(row, now):
            await api_key_repository.touch(session, row.key_id, now, now - LAST_USED_RESOLUTION)
            row.last_used_at = now  # the cached copy too: stamped once a minute, not per hit
        return principal

    async def create(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        name: str,
        *,
        mode: KeyMode = KeyMode.live,
        metadata_defaults: dict[str, str] | None = None,
        rotated_from: uuid.UUID | None = None,
        created_by: uuid.UUID | None = None,
    ) -> IssuedKey:
        if len(name) > 128:
            raise ValidationFailed([FieldError(["name"], "use at most 128 characters")])
        secret = generate_secret(mode)
        key = ApiKey(
            workspace_id=workspace_id,
            name=name.strip() or "API key",
            key_hash=hash_key(secret),
            display_prefix=secret[:12],
            last4=secret[-4:],
            mode=mode.value,
            metadata_defaults=metadata_defaults or {},
            rotated_from_id=rotated_from,
            created_by_id=created_by,
        )
        await api_key_repository.add(session, key)
        return IssuedKey(key=key, secret=secret)

    async def list(self, session: AsyncSession, tenant: Tenant) -> Sequence[ApiKey]:
        return await api_key_repository.list_for(session, tenant)

    async def rotate(
        self,
        session: AsyncSession,
        tenant: Tenant,
        key_id: uuid.UUID,
        grace: Grace,
        now: datetime,
        *,
        by: uuid.UUID | None = None,
    ) -> IssuedKey:
        old = await self._usable(session, tenant, key_id, now)
        issued = await self.create(
            session,
            old.workspace_id,
            old.name,
            mode=KeyMode(old.mode),
            metadata_defaults=dict(old.metadata_defaults),
            rotated_from=old.id,
            created_by=by or old.created_by_id,
        )
        ends = now + grace.delta
        if old.expires_at is None or old.expires_at > ends:
            old.expires_at = ends
        await api_key_repository.save(session, old)
        return issued

    async def revoke(
        self, session: AsyncSession, tenant: Tenant, key_id: uuid.UUID, now: datetime
    ) -> ApiKey:
        key = await self._get(session, tenant, key_id)
        if key.revoked_at is None:
            key.revoked_at = now
            await api_key_repository.save(session, key)
        return key

    async def set_metadata_defaults(
        self, session: AsyncSession, tenant: Tenant, key_id: uuid.UUID, defaults: dict[str, str]
    ) -> ApiKey:
        key = await self._get(session, tenant, key_id)
        key.metadata_defaults = defaults
        await api_key_repository.save(session, key)
        return key

    async def ids_created_by(
        self, session: AsyncSession, tenant: Tenant, user_id: uuid.UUID
    ) -> Sequence[uuid.UUID]:
        return await api_key_repository.ids_created_by(session, tenant, user_id)

    async def _get(self, session: AsyncSession, tenant: Tenant, key_id: uuid.UUID) -> ApiKey:
        key = await api_key_repository.get(session, tenant, key_id)
        if key is None:
            raise NotFound("No such API key.")  # another workspace's key included
        return key

    async def _usable(
        self, session: AsyncSession, tenant: Tenant, key_id: uuid.UUID, now: datetime
    ) -> ApiKey:
        key = await self._get(session, tenant, key_id)
        if not key.usable_at(now):
            raise NotFound("No such active API key.")
        return key


api_key_service = ApiKeyService()
