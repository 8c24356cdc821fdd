"""A model's reply is committed before writes queued ahead of it (issue 11, item 3): a kill
then loses only the replies truly in flight, not those waiting behind answer commits."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import func, select

from distillset.llm import LimitSettings, open_gateway
from distillset.llm.writer import store_writer
from distillset.store import LlmCall, Store
from distillset.testing import FakeModelServer


def test_a_reply_is_committed_before_the_writes_queued_ahead_of_it(
    store: Store, fake_server: FakeModelServer
) -> None:
    writer = store_writer(store.engine)
    started, release = threading.Event(), threading.Event()
    rows_seen_by_later_write: list[int] = []

    def write_in_progress() -> None:  # a long commit of answers, say
        started.set()
        release.wait(60)

    def queued_write() -> None:  # the next answers' commit, queued before the reply came
        with store.engine.connect() as connection:
            count = connection.scalar(select(func.count()).select_from(LlmCall))
            rows_seen_by_later_write.append(int(count or 0))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        in_progress = loop.run_in_executor(writer, write_in_progress)
        await asyncio.to_thread(started.wait, 60)
        later = loop.run_in_executor(writer, queued_write)
        async with open_gateway(
            store, LimitSettings(max_concurrency=2), project_id=None
        ) as gateway:
            messages = [{"role": "user", "content": "Why stretch before running?"}]
            chat = asyncio.create_task(
                gateway.chat(fake_server.endpoint(), messages, purpose="answer")
            )
            for _ in range(3000):  # until the reply's row waits for the thread too
                if writer.queued() >= 2 or chat.done():
                    break
                await asyncio.sleep(0.01)
            release.set()
            assert (await chat).content
            await asyncio.gather(in_progress, later)

    asyncio.run(main())

    assert fake_server.stats().whole_replies == 1
    # The reply's row overtook the write that was queued first.
    assert rows_seen_by_later_write == [1]
