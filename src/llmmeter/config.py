"""Runtime configuration: one Settings object built from the environment (prefix LLMMETER_)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class PlanTier(StrEnum):
    free = "free"
    starter = "starter"
    pro = "pro"
    team = "team"
    enterprise = "enterprise"


class Plan(BaseModel):
    name: str
    # None means unlimited.
    monthly_requests: int | None = Field(ge=0)
    rate_per_second: float = Field(gt=0)
    burst: int = Field(ge=1)
    raw_retention_days: int | None = Field(default=None, ge=1)
    summary_retention_days: int | None = Field(default=None, ge=1)


DEFAULT_PLANS: dict[PlanTier, Plan] = {
    PlanTier.free: Plan(
        name="Free",
        monthly_requests=10_000,
        rate_per_second=10,
        burst=50,
        raw_retention_days=14,
        summary_retention_days=90,
    ),
    PlanTier.starter: Plan(
        name="Starter",
        monthly_requests=100_000,
        rate_per_second=50,
        burst=200,
        raw_retention_days=30,
        summary_retention_days=180,
    ),
    PlanTier.pro: Plan(
        name="Pro",
        monthly_requests=1_000_000,
        rate_per_second=200,
        burst=1_000,
        raw_retention_days=90,
        summary_retention_days=365,
    ),
    PlanTier.team: Plan(
        name="Team",
        monthly_requests=5_000_000,
        rate_per_second=500,
        burst=2_500,
        raw_retention_days=180,
        summary_retention_days=730,
    ),
    PlanTier.enterprise: Plan(
        name="Enterprise",
        monthly_requests=None,
        rate_per_second=2_000,
        burst=10_000,
    ),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LLMMETER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LLMMETER_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL URL; unset means the embedded SQLite file.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LLMMETER_REDIS_URL", "REDIS_URL"),
        description="Redis URL for the shared rate limiter; unset means in-process.",
    )
    redis_timeout_ms: int = Field(
        default=50, ge=1, description="Redis answers slower than this count as an outage."
    )
    limiter_probe_seconds: float = Field(
        default=1.0, gt=0, description="While Redis is out, how often to try it again."
    )
    limiter_lease_ms: float = Field(
        default=25.0,
        ge=0,
        description="A worker busy with one workspace takes up to this long's worth of its "
        "rate from Redis at once and admits from it without asking again; 0 asks Redis for "
        "every request. Leases never exceed the plan's limit; unused records go back.",
    )
    sqlite_path: Path = Field(
        default=Path("llmmeter.db"), description="SQLite file of the embedded mode."
    )
    allow_signup: bool = Field(
        default=True, description="Anyone may create an account (else invitation links only)."
    )
    environment: str = Field(default="development", description="development or production.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: str = "info"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_records: int = Field(default=500, ge=1)
    api_key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a worker reuses what it read about an API key and its workspace; "
        "changes made through another worker or replica (revocation, budgets, plan) take effect "
        "within this time. 0 reads them on every request.",
    )
    ingest_batch_max_records: int = Field(
        default=256,
        ge=1,
        le=5000,
        description="Single-record ingests queued while a write is in flight are written "
        "together in one transaction, at most this many records at a time (1: one "
        "transaction per request).",
    )
    ingest_writers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Group-commit writers per worker, each with its own connection: a "
        "record that arrives while one write is in flight starts the next at once instead "
        "of waiting for it.",
    )
    headers_to_metadata: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("LLMMETER_HEADERS_TO_METADATA", "HEADERS_TO_METADATA"),
        description="Request headers copied into metadata under lower-case keys.",
    )
    public_url: str | None = Field(
        default=None, description="Base URL of the web app in alert links; default host:port."
    )
    alert_interval_seconds: float = Field(
        default=30, gt=0, le=60, description="How often the alert worker evaluates each rule."
    )
    alert_http_timeout_seconds: float = Field(
        default=5, gt=0, description="Timeout of one webhook, Slack or PagerDuty call."
    )
    run_worker: bool | None = Field(
        default=None,
        description="Run the alert worker inside `serve`; default: only on the embedded mode.",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "llmmeter@localhost"
    smtp_starttls: bool = Field(default=True, description="STARTTLS before authenticating.")
    plans: dict[PlanTier, Plan] = Field(default_factory=lambda: dict(DEFAULT_PLANS))
    default_plan: PlanTier = PlanTier.free

    @field_validator("headers_to_metadata", mode="before")
    @classmethod
    def _split_headers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("plans", mode="after")
    @classmethod
    def _complete_plans(cls, value: dict[PlanTier, Plan]) -> dict[PlanTier, Plan]:
        # An operator may override some tiers only; the rest keep their defaults.
        return {**DEFAULT_PLANS, **value}

    @property
    def development(self) -> bool:
        """Local development: session cookies may travel over plain HTTP."""
        return self.environment.strip().lower() in ("development", "dev", "local")

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def worker_in_app(self) -> bool:
        return self.embedded if self.run_worker is None else self.run_worker

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def plan(self, tier: str) -> Plan:
        return self.plans[PlanTier(tier)]
