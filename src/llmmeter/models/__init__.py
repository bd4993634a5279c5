from llmmeter.kit.model import Base
from llmmeter.models.alert import AlertChannel, AlertDelivery, AlertEvent, AlertRule
from llmmeter.models.api_key import ApiKey
from llmmeter.models.invitation import Invitation
from llmmeter.models.llm_request import LLMRequest
from llmmeter.models.membership import Membership
from llmmeter.models.price_override import PriceOverride
from llmmeter.models.rollup import (
    RollupDirtyHour,
    RollupLatency,
    RollupState,
    RollupSum,
    RollupUserSum,
)
from llmmeter.models.sign_in_failure import SignInFailure
from llmmeter.models.usage_counter import UsageCounter
from llmmeter.models.user import User
from llmmeter.models.web_session import WebSession
from llmmeter.models.workspace import Workspace

__all__ = [
    "AlertChannel",
    "AlertDelivery",
    "AlertEvent",
    "AlertRule",
    "ApiKey",
    "Base",
    "Invitation",
    "LLMRequest",
    "Membership",
    "PriceOverride",
    "RollupDirtyHour",
    "RollupLatency",
    "RollupState",
    "RollupSum",
    "RollupUserSum",
    "SignInFailure",
    "UsageCounter",
    "User",
    "WebSession",
    "Workspace",
]
