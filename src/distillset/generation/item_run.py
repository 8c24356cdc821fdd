"""A task run that sends one request per item (a record to refine, a batch of questions
to place, an answer to score) through one gateway, with the project's concurrency.

The subclass plans in ``prepare`` (setting ``limits`` and ``project_id``), yields what is
left to do in ``items`` and does one item in ``handle``; a failure of an item is counted
by ``handle`` itself, so one bad item never stops the others. A kind that sends through a
provider's batch interface sets ``batches`` and works on more items at once (``concurrency``).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from distillset.llm import BatchQueue, Gateway, LimitSettings, open_gateway
from distillset.runs.runner import SupervisedRun


class ItemRun(SupervisedRun):
    limits: LimitSettings | None = None
    project_id: int | None = None
    batches: BatchQueue | None = None

    def concurrency(self, limits: LimitSettings) -> int:
        """How many items are worked on at once: the project's concurrency."""
        return limits.max_concurrency

    @abstractmethod
    def items(self) -> AsyncIterator[Any]:
        """What the task has left, read in short sessions."""

    @abstractmethod
    async def handle(self, gateway: Gateway, item: Any) -> None:
        """Do one item, counting it done or failed in ``self.progress``."""

    async def work(self) -> None:
        limits = self.limits
        assert limits is not None, "prepare() sets the limits"
        async with open_gateway(
            self.store,
            limits,
            project_id=self.project_id,
            use_cache=self.use_cache,
            send_guard=self.send_guard,
            batches=self.batches,
        ) as gateway:
            self.use_slots(gateway.limiter, limits.request_timeout)
            wanted = self.concurrency(limits)
            queue: asyncio.Queue[Any] = asyncio.Queue(wanted * 2)
            done = object()

            async def worker() -> None:
                while (item := await queue.get()) is not done:
                    await self.handle(gateway, item)

            workers = [asyncio.create_task(worker()) for _ in range(wanted)]

            async def produce() -> None:
                async for item in self.items():
                    await queue.put(item)
                for _ in workers:
                    await queue.put(done)

            # Gathered together: a worker that dies ends the run at once, never leaving the
            # producer waiting on a full queue that nobody reads.
            jobs = [asyncio.create_task(produce()), *workers]
            try:
                await asyncio.gather(*jobs)
            finally:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
