"""Reading a JSON request body under a size limit, before anything else looks at it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from llmmeter.kit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def check_declared_size(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")


def check_content_type(request: Request) -> None:
    # A missing type is read as JSON: plenty of HTTP clients omit it on a raw body.
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {media!r} is not JSON; send application/json.")


async def read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("The request body is empty; send one JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from None


async def read_json(request: Request, limit: int) -> Any:
    check_content_type(request)
    return parse_json(await read_limited(request, limit))
