"""A bounded queue in front of one engine, and the bridge from its threads to asyncio.

An engine runs up to `engine.max_concurrency` generations at once (the llama.cpp
engine: one per cache slot, stepped together by its decode loop; transformers: one),
each consumed on a worker thread of its own. Requests beyond `max_queue` waiting or
running are refused at once (`QueueFull`, a 503/429) instead of piling up. When the
consumer goes away (client disconnect cancels the response task), the request's
cancel event is set; the engine checks it before every token and between prompt
chunks, so generation stops within a token or a chunk, and a request still waiting
never starts. A request for a document (its `key`) cancels the one still running for
the same document: an editor that sent a newer keystroke no longer wants the older
completion.
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
    def __init__(self, max_queue: int = 16, concurrency: int = 1) -> None:
        assert max_queue >= 1, f"max_queue must be >= 1, got {max_queue}"
        self.max_queue = max_queue
        self.depth = 0  # admitted and not yet finished (waiting + running)
        self.superseded = 0  # requests cancelled by a newer one for the same document
        self._lock = threading.Lock()
        self._by_key: dict[str, Job] = {}
        self._live: set[Job] = set()
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="engine")

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
              flush_s: float = 0.0, key: str = "") -> "Job[T]":
        """Admit now (raising QueueFull before any response is sent) and queue
        `work(cancel)` on a worker thread; iterate the Job for its items, which
        arrive in batches at most `flush_s` apart (see Job). A `key` supersedes the
        running job with the same key."""
        self._admit()
        job: Job[T] = Job(asyncio.get_running_loop(), flush_s)
        with self._lock:
            self._live.add(job)
        if key:
            with self._lock:
                older = self._by_key.get(key)
                self._by_key[key] = job
            if older is not None and not older.cancel.is_set():
                older.cancel.set()
                self.superseded += 1

        def run() -> None:
            try:
                if not job.cancel.is_set():
                    for item in work(job.cancel):
                        job.put(_ITEM, item)
            except Exception as e:  # handed to the consumer, which raises it
                job.put(_ERROR, e)
            finally:
                self._release()
                with self._lock:
                    self._live.discard(job)
                    if key and self._by_key.get(key) is job:
                        del self._by_key[key]
                job.put(_END, None)

        self._pool.submit(run)
        return job

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._live)
        for job in jobs:
            job.cancel.set()

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
