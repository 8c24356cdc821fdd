"""Requests on their way, shared by every gateway of an event loop that logs to one place."""

from __future__ import annotations

import asyncio
import weakref

from distillset.llm.results import ChatResult

# Requests on their way by call log (its scope: the database) and request key, shared by
# every gateway of an event loop: two tasks of a project running side by side (the web
# server runs them in one loop) then send a request both need once, and the second shares
# the first's reply instead of paying again. A request gets a future for its answer only
# once somebody shares it.
_Flights = dict[str, asyncio.Future[ChatResult] | None]
_IN_FLIGHT: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Flights]] = (
    weakref.WeakKeyDictionary()
)


def in_flight(scope: str) -> _Flights:
    loop = asyncio.get_running_loop()
    databases = _IN_FLIGHT.get(loop)
    if databases is None:  # setdefault would build a weak reference on every call
        databases = _IN_FLIGHT[loop] = {}
    flights = databases.get(scope)
    if flights is None:
        flights = databases[scope] = {}
    return flights
