from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_names_app_postgres_and_redis_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"app", "postgres", "redis"} <= set(services)
    for name in ("app", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    app = services["app"]
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert app["environment"]["LLMMETER_DATABASE_URL"].startswith("postgresql://")
    assert app["environment"]["LLMMETER_REDIS_URL"].startswith("redis://")
    # The alert worker runs beside the app, after the app has migrated the database.
    worker = services["worker"]
    assert worker["command"] == ["llmmeter", "worker"]
    assert worker["depends_on"]["app"]["condition"] == "service_healthy"


def test_dockerfile_is_slim_non_root_and_migrates_before_serving() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "-slim" in text.splitlines()[0] or any(
        line.startswith("FROM") and "-slim" in line for line in text.splitlines()
    )
    assert "\nUSER " in text
    assert "USER root" not in text
    cmd = next(line for line in text.splitlines() if line.startswith("CMD"))
    assert cmd.index("migrate") < cmd.index("serve")
