"""The model gateway: limits, retries, response cache, usage log, reply parsing."""

from distillset.llm.batch import BatchQueue
from distillset.llm.batch_api import BatchApiError, BatchClient
from distillset.llm.batch_parts import BatchOptions
from distillset.llm.calls import CallLog, CallRecorder
from distillset.llm.config import EndpointConfig, LimitSettings
from distillset.llm.embeddings import embed_texts
from distillset.llm.errors import ModelOutputError
from distillset.llm.factory import open_gateway
from distillset.llm.gateway import BeforeSend, ChatResult, Gateway, ListResult
from distillset.llm.limiter import Limiter, LimiterRegistry, shared_limiters
from distillset.llm.lists import list_response_format, parse_json_list
from distillset.llm.probe import PROBE_TIMEOUT, ProbeReport, probe_endpoint
from distillset.llm.provider_models import provider_models
from distillset.llm.reasoning import split_reasoning
from distillset.llm.transport import HttpTransport, RawReply, Transport, TransportError

__all__ = [
    "BatchApiError",
    "BatchClient",
    "BatchOptions",
    "BatchQueue",
    "BeforeSend",
    "CallLog",
    "CallRecorder",
    "ChatResult",
    "EndpointConfig",
    "Gateway",
    "HttpTransport",
    "LimitSettings",
    "Limiter",
    "LimiterRegistry",
    "ListResult",
    "ModelOutputError",
    "PROBE_TIMEOUT",
    "ProbeReport",
    "RawReply",
    "Transport",
    "TransportError",
    "embed_texts",
    "list_response_format",
    "open_gateway",
    "parse_json_list",
    "probe_endpoint",
    "provider_models",
    "shared_limiters",
    "split_reasoning",
]
