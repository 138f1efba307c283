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
import collections
import threading
import time
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

    def start(self, work: Callable[[threading.Event], Iterator[T]],
              flush_s: float = 0.0) -> "Job[T]":
        """Admit now (raising QueueFull before any response is sent) and queue
        `work(cancel)` on the engine thread; iterate the Job for its items, which
        arrive in batches at most `flush_s` apart (see Job)."""
        self._admit()
        job: Job[T] = Job(asyncio.get_running_loop(), flush_s)

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
    """The consumer side of one queued generation.

    Waking the event loop costs CPU that, on a small machine, is taken from
    llama.cpp's compute threads in the middle of a token (measured: ~5% of decode
    speed on 2 cores when waking once per token). So the engine thread wakes the
    loop for the first item, the last, and otherwise at most every `flush_s`
    seconds; the consumer then drains everything queued. Non-streaming requests
    pass flush_s=inf: one wake for the first token (time to first token) and one
    at the end.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, flush_s: float) -> None:
        self.cancel = threading.Event()
        self._loop = loop
        self._flush_s = flush_s
        self._items: collections.deque = collections.deque()
        self._ready = asyncio.Event()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._last_wake: float | None = None

    def put(self, kind: int, item: object) -> None:
        self._items.append((kind, item))
        now = time.monotonic()
        if kind != _ITEM or self._last_wake is None or now - self._last_wake >= self._flush_s:
            with self._lock:
                if self._wake_pending:
                    return
                self._wake_pending, self._last_wake = True, now
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        with self._lock:
            self._wake_pending = False
        self._ready.set()

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._items:
                    kind, item = self._items.popleft()
                    if kind == _END:
                        return
                    if kind == _ERROR:
                        raise item
                    yield item
        finally:
            # Client gone or consumer done: stop the engine before its next token.
            self.cancel.set()
