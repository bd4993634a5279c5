from __future__ import annotations

from fastapi import APIRouter

from llmmeter.diagnostics.endpoints import router as diagnostics_router
from llmmeter.health.endpoints import router as health_router
from llmmeter.ingest.endpoints import router as ingest_router
from llmmeter.pricing.endpoints import router as pricing_router

router = APIRouter()
router.include_router(ingest_router)
router.include_router(diagnostics_router)
router.include_router(pricing_router)
router.include_router(health_router)
