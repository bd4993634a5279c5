from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from llmmeter.cli import main
from tests.fixtures.live import free_port

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"api key \(shown once, store it now\): (lm_(?:live|test)_\w+)")


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("DATABASE_URL", "REDIS_URL"))}
    env["LLMMETER_SQLITE_PATH"] = str(tmp_path / "cli.db")
    return env


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:sh|bash)\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_starts_with_the_two_setup_commands() -> None:
    serve, test = _readme_commands()
    assert serve.strip().endswith("llmmeter serve")
    assert "pip install" in serve
    assert "DATABASE_URL" not in serve
    assert test.strip() == "bash scripts/test.sh"
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("bash scripts/test.sh")


def _read_until_curl(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            lines.append(line)
            if "Uvicorn running on" in line:
                return lines
    raise AssertionError("server did not start:\n" + "".join(lines))


def test_embedded_serve_prints_a_curl_that_is_accepted(tmp_path: Path) -> None:
    """README command 1, from `llmmeter serve` on: a fresh directory, no database configured."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("DATABASE_URL", "REDIS_URL"))}
    with subprocess.Popen(
        [sys.executable, "-m", "llmmeter", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            _serve_and_post(proc, tmp_path)
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def _serve_and_post(proc: subprocess.Popen[str], tmp_path: Path) -> None:
    output = "".join(_read_until_curl(proc, timeout=60))
    assert (tmp_path / "llmmeter.db").exists()
    curl = next(line.strip() for line in output.splitlines() if line.strip().startswith("curl "))
    result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
    assert result.stdout, result.stderr
    answer = orjson.loads(result.stdout)
    assert answer["ok"] is True, result.stdout
    assert answer["deduplicated"] is False
    assert answer["costUsd"] > 0
    again = orjson.loads(
        subprocess.run(["bash", "-c", curl], capture_output=True, timeout=30).stdout
    )
    assert again["deduplicated"] is True


def test_workspace_and_key_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _embedded_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    for name in ("LLMMETER_DATABASE_URL", "DATABASE_URL", "LLMMETER_REDIS_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)

    main(["migrate"])
    main(["create-workspace", "--name", "Acme", "--plan", "starter"])
    out = capsys.readouterr().out
    workspace = re.search(r"workspace: ([0-9a-f-]{36})", out)
    assert workspace
    assert KEY.search(out)

    main(["create-key", "--workspace", workspace[1], "--name", "ci", "--test"])
    out = capsys.readouterr().out
    key_id = re.search(r"key id: ([0-9a-f-]{36})", out)
    created = KEY.search(out)
    assert key_id
    assert created
    assert created[1].startswith("lm_test_")

    main(["rotate-key", "--workspace", workspace[1], "--key", key_id[1], "--grace", "1h"])
    assert KEY.search(capsys.readouterr().out)
    main(["revoke-key", "--workspace", workspace[1], "--key", key_id[1]])
    assert "revoked" in capsys.readouterr().out

    main(["set-plan", "--workspace", workspace[1], "--plan", "pro"])
    assert "plan set to pro" in capsys.readouterr().out
    main(
        [
            "set-budget",
            "--workspace",
            workspace[1],
            "--daily",
            "25",
            "--monthly",
            "none",
            "--ratio",
            "0.9",
            "--policy",
            "hard_stop",
        ]
    )
    assert "policy hard_stop" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["set-budget", "--workspace", workspace[1], "--daily", "-3"])
    assert refused.value.code == 2

    with pytest.raises(SystemExit) as failed:
        main(["create-key", "--workspace", "00000000-0000-0000-0000-000000000000"])
    assert failed.value.code == 2
