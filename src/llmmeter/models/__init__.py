from llmmeter.kit.model import Base
from llmmeter.models.api_key import ApiKey
from llmmeter.models.llm_request import LLMRequest
from llmmeter.models.price_override import PriceOverride
from llmmeter.models.workspace import Workspace
from llmmeter.models.workspace_usage import WorkspaceUsage

__all__ = ["ApiKey", "Base", "LLMRequest", "PriceOverride", "Workspace", "WorkspaceUsage"]
