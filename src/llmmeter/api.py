from __future__ import annotations

from fastapi import APIRouter

from llmmeter.account.endpoints import router as account_router
from llmmeter.alert.endpoints import router as alert_router
from llmmeter.dashboard.endpoints import router as dashboard_router
from llmmeter.diagnostics.endpoints import router as diagnostics_router
from llmmeter.health.endpoints import router as health_router
from llmmeter.ingest.endpoints import router as ingest_router
from llmmeter.pricing.endpoints import router as pricing_router
from llmmeter.settings.endpoints import router as settings_router

router = APIRouter()
router.include_router(ingest_router)
router.include_router(diagnostics_router)
router.include_router(pricing_router)
router.include_router(health_router)
router.include_router(account_router)
router.include_router(dashboard_router)
router.include_router(settings_router)
router.include_router(alert_router)
