"""A bounded queue in front of one engine, and the bridge from its thread to asyncio.

An engine runs one generation at a time on its own worker thread (llama.cpp and
the transformers decode loop are not re-entrant). Requests beyond `max_queue`
waiting or running are refused at once (`QueueFull`, a 503/429) instead of piling
up. When the consumer goes away (client disconnect cancels the response task),
the request's cancel event is set; the engine checks it before every token, so
generation stops within a token, and a request still waiting never starts.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
_ITEM, _ERROR, _END = 0, 1, 2


class QueueFull(RuntimeError):
    """More requests are waiting than the server accepts."""


class Scheduler:
    def __init__(self, max_queue: int = 16) -> None:
        assert max_queue >= 1, f"max_queue must be >= 1, got {max_queue}"
        self.max_queue = max_queue
        self.depth = 0  # admitted and not yet finished (waiting + running)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")

    def _admit(self) -> None:
        with self._lock:
            if self.depth >= self.max_queue:
                raise QueueFull(f"server is busy: {self.depth} requests queued "
                                f"(limit {self.max_queue}); retry shortly")
            self.depth += 1

    def _release(self) -> None:
        with self._lock:
            self.depth -= 1

    def start(self, work: Callable[[threading.Event], Iterator[T]]) -> "Job[T]":
        """Admit now (raising QueueFull before any response is sent) and queue
        `work(cancel)` on the engine thread; iterate the Job for its items."""
        self._admit()
        job: Job[T] = Job(asyncio.get_running_loop())

        def run() -> None:
            try:
                if not job.cancel.is_set():
                    for item in work(job.cancel):
                        job.put(_ITEM, item)
            except Exception as e:  # handed to the consumer, which raises it
                job.put(_ERROR, e)
            finally:
                self._release()
                job.put(_END, None)

        self._pool.submit(run)
        return job

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Job(Generic[T]):
    """The consumer side of one queued generation."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.cancel = threading.Event()
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue()

    def put(self, kind: int, item: object) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, item))

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            while True:
                kind, item = await self._queue.get()
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise item
                yield item
        finally:
            # Client gone or consumer done: stop the engine before its next token.
            self.cancel.set()
