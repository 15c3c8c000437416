"""SIGTERM treated like Ctrl-C while a run is in progress.

Python's default SIGTERM ends the process at once, skipping every ``finally``:
the agent's sandbox would die with us (``--die-with-parent``), but the partial
change would not be kept and an unconfined run's main repository would not be
restored. Raising KeyboardInterrupt instead sends SIGTERM down the same path
as Ctrl-C.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _raise(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextmanager
def terminate_as_interrupt(*, sigint: bool = False) -> Iterator[None]:
    """Within this block SIGTERM (and SIGHUP) raise KeyboardInterrupt; only the main thread can catch signals.

    ``sigint``: SIGINT too, even when this process inherited it ignored (started in
    the background by a non-interactive shell or a CI runner): ``dispatch`` must
    stop its runs on Ctrl-C wherever it was started.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGTERM, signal.SIGHUP, *((signal.SIGINT,) if sigint else ()))
    previous = {sig: signal.signal(sig, _raise) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
