"""Request bodies read raw (to keep the SPEC check order) still get a schema in /docs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF = "#/components/schemas/{model}"
_registered: dict[str, dict[str, Any]] = {}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, by_alias=True)
    for name, definition in schema.pop("$defs", {}).items():
        _registered[name] = definition
    _registered[model.__name__] = schema
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in _registered.items():
                components.setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
