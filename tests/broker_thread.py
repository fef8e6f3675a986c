"""Run a :class:`p0f.broker.Broker` on an event loop in a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from p0f.broker import Broker, BrokerConfig

T = TypeVar("T")


class BrokerThread:
    """A broker serving from a thread of its own, for tests.

    ``call(fn)`` runs ``fn`` on the broker's loop and returns its result, so
    a test can read the broker's state without racing it.
    """

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.broker = Broker(config)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="p0f-broker", daemon=True)

    @property
    def socket_path(self) -> str:
        return self.config.listen

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # re-raised by stop()
            self._error = exc
        finally:
            self._ready.set()
            self.loop.close()

    async def _main(self) -> None:
        await self.broker.start()
        self._ready.set()
        await self.broker.run_until_stopped()

    def start(self, *, wait_connected: bool = True) -> BrokerThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        if wait_connected:
            future = asyncio.run_coroutine_threadsafe(self.broker.wait_connected(), self.loop)
            future.result(10)
        return self

    def call(self, fn: Callable[[], T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.broker.request_stop)
            self._thread.join(30)
            assert not self._thread.is_alive(), "the broker did not stop"
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BrokerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
