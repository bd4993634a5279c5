from llmmeter.kit.model import Base
from llmmeter.models.api_key import ApiKey
from llmmeter.models.llm_request import LLMRequest
from llmmeter.models.price_override import PriceOverride
from llmmeter.models.usage_counter import UsageCounter
from llmmeter.models.workspace import Workspace

__all__ = ["ApiKey", "Base", "LLMRequest", "PriceOverride", "UsageCounter", "Workspace"]
