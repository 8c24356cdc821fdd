"""The model gateway: limits, retries, response cache, usage log, reply parsing."""

from distillset.llm.config import EndpointConfig, LimitSettings
from distillset.llm.errors import ModelOutputError
from distillset.llm.gateway import ChatResult, Gateway, ListResult
from distillset.llm.limiter import Limiter, shared_limiters
from distillset.llm.lists import list_response_format, parse_json_list
from distillset.llm.reasoning import split_reasoning

__all__ = [
    "ChatResult",
    "EndpointConfig",
    "Gateway",
    "LimitSettings",
    "Limiter",
    "ListResult",
    "ModelOutputError",
    "list_response_format",
    "parse_json_list",
    "shared_limiters",
    "split_reasoning",
]
