"""Time limits for the sympy steps that can run away (simplification, limits, long derivative chains).

A limit is a SIGALRM timer, which Python delivers only to the main thread. Off the main thread no timer
can interrupt pure-Python sympy code, so :func:`limited` then refuses to start the step at all and says so
(the caller treats it as "not decided"); the validator's whole-check budget runs its properties in a
child process (:mod:`pgcheck.check`), whose only thread is its main thread, so there the limit holds.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from pgcheck.errors import PgcheckError

T = TypeVar("T")


class TimeUp(PgcheckError):
    """The step did not finish within its limit (or could not be started with one)."""


def can_limit() -> bool:
    return threading.current_thread() is threading.main_thread()


def limited(fn: Callable[[], T], seconds: float) -> T:
    """``fn()`` if it finishes within ``seconds``; raises :class:`TimeUp` when it does not, or when no
    timer can be armed here (off the main thread)."""
    if not can_limit():
        raise TimeUp("no time limit can be armed off the main thread, so the step was not started")
    if seconds <= 0:
        raise TimeUp("no time left")

    def alarm(signum: int, frame: object) -> None:
        raise TimeUp(f"did not finish within {seconds:.3g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    old_delay, _ = signal.getitimer(signal.ITIMER_REAL)
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, old_delay) if old_delay > 0 else seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay > 0:  # an outer limit is still running: re-arm what is left of it (never extend it)
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - t0), 1e-3))
