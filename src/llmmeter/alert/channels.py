"""Turning one alert message into a channel's call: a signed generic webhook, a Slack
incoming-webhook message, a PagerDuty Events API v2 event, or an email over SMTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

import httpx
import orjson

from llmmeter.config import Settings

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SIGNATURE_HEADER = "X-Llmmeter-Signature"


class ChannelKind(StrEnum):
    webhook = "webhook"
    slack = "slack"
    pagerduty = "pagerduty"
    email = "email"


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry: bool = True  # worth another attempt (network trouble, 5xx, 429)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it with
    the channel's secret and rejects old timestamps (replays)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _headline(m: dict[str, Any]) -> str:
    state = m["state"].upper() if m["type"] != "alert.resolved" else "RESOLVED"
    return f"[{state}] {m['rule']['name']}: {m['valueText']}"


def slack_body(m: dict[str, Any]) -> dict[str, Any]:
    """Incoming-webhook format: `text` (notifications, fallback) plus Block Kit blocks."""
    text = _headline(m)
    fields = [
        {"type": "mrkdwn", "text": f"*Metric*\n{m['rule']['metricLabel']}"},
        {"type": "mrkdwn", "text": f"*Value*\n{m['valueText']}"},
        {"type": "mrkdwn", "text": f"*Threshold*\n{m['thresholdText']}"},
        {"type": "mrkdwn", "text": f"*Scope*\n{m['rule']['scope']}"},
        {"type": "mrkdwn", "text": f"*Window*\n{m['rule']['window']}"},
        {"type": "mrkdwn", "text": f"*Workspace*\n{m['workspaceName']}"},
    ]
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": text[:150]}},
            {"type": "section", "fields": fields},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the dashboard"},
                        "url": m["dashboardUrl"],
                    }
                ],
            },
        ],
    }


def pagerduty_body(m: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """Events API v2: trigger and resolve share a stable dedup_key per rule."""
    if m["type"] == "alert.resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": m["dedupKey"]}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": m["dedupKey"],
        "payload": {
            "summary": _headline(m)[:1024],
            "source": "llmmeter",
            "severity": "critical" if m["state"] == "critical" else "warning",
            "timestamp": m["at"],
            "component": m["rule"]["scope"],
            "group": m["workspaceName"],
            "class": m["rule"]["metric"],
            "custom_details": {
                "value": m["value"],
                "threshold": m["threshold"],
                "window": m["rule"]["window"],
                "workspaceId": m["workspaceId"],
            },
        },
        "links": [{"href": m["dashboardUrl"], "text": "llmmeter dashboard"}],
    }


def email_message(m: dict[str, Any], settings: Settings, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[llmmeter] {_headline(m)}"
    msg["From"] = settings.smtp_from
    msg["To"] = to
    lines = [
        _headline(m),
        "",
        f"Metric:    {m['rule']['metricLabel']}",
        f"Value:     {m['valueText']}",
        f"Threshold: {m['thresholdText']}",
        f"Scope:     {m['rule']['scope']}",
        f"Window:    {m['rule']['window']}",
        f"Workspace: {m['workspaceName']}",
        f"At:        {m['at']}",
        "",
        f"Dashboard: {m['dashboardUrl']}",
    ]
    msg.set_content("\n".join(lines))
    return msg


def _result(response: httpx.Response) -> SendResult:
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, code)
    retry = code >= 500 or code in (408, 429)
    return SendResult(False, code, f"HTTP {code}: {response.text[:200]}", retry)


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> SendResult:
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return SendResult(False, None, f"{type(exc).__name__}: {exc}"[:500])
    return _result(response)


def _send_email(settings: Settings, msg: EmailMessage) -> None:
    assert settings.smtp_host
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.alert_http_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(msg)


async def send(
    client: httpx.AsyncClient,
    settings: Settings,
    kind: str,
    config: dict[str, Any],
    message: dict[str, Any],
    delivery_id: str,
) -> SendResult:
    json_headers = {"Content-Type": "application/json", "User-Agent": "llmmeter-alerts"}
    match kind:
        case ChannelKind.webhook:
            body = orjson.dumps(message)
            headers = {
                **json_headers,
                SIGNATURE_HEADER: sign(config["secret"], int(time.time()), body),
                "X-Llmmeter-Event": message["type"],
                "X-Llmmeter-Delivery": delivery_id,
            }
            return await _post(client, config["url"], body, headers)
        case ChannelKind.slack:
            return await _post(
                client, config["url"], orjson.dumps(slack_body(message)), json_headers
            )
        case ChannelKind.pagerduty:
            url = config.get("url") or PAGERDUTY_EVENTS_URL
            body = orjson.dumps(pagerduty_body(message, config["routing_key"]))
            return await _post(client, url, body, json_headers)
        case ChannelKind.email:
            if not settings.smtp_host:
                return SendResult(False, None, "SMTP is not configured (LLMMETER_SMTP_HOST)", False)
            try:
                await asyncio.to_thread(
                    _send_email, settings, email_message(message, settings, config["to"])
                )
            except (OSError, smtplib.SMTPException) as exc:
                return SendResult(False, None, f"{type(exc).__name__}: {exc}"[:500])
            return SendResult(True, 250)
    return SendResult(False, None, f"unknown channel kind {kind!r}", False)
