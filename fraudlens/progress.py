"""The progress protocol every layer reports through, and its silent implementation.

Library code (ingest, model inputs, scoring) takes any ``Progress`` and never draws anything
itself: the CLI passes its rich ``Reporter`` (``fraudlens.cli.reporter``), tests and library
callers get ``StageTimer``, which only records each stage's wall time and the process's peak
memory after it (the run manifest's ``stages_s``).
"""

from __future__ import annotations

import ctypes
import functools
import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


def release_freed_memory() -> None:
    """Returns the heap memory freed so far to the OS (glibc's ``malloc_trim``; elsewhere nothing).

    Called at the end of every stage: glibc raises its mmap threshold as big arrays are freed,
    so the next stage's chunk-sized arrays land in the heap, whose free pages it otherwise keeps
    for the rest of the run.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def peak_rss_gib() -> float:
    """The process's peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


class Progress(Protocol):
    timings: dict[str, float]
    peak_rss_gib: dict[str, float]

    def stage(self, name: str, total: float | None = None): ...

    def advance(self, n: float = 1, note: str | None = None) -> None: ...

    def info(self, message: str) -> None: ...


@dataclass
class Stage:
    name: str
    total: float | None
    started: float
    done: float = 0
    task: Any = None
    next_fraction: float = 0.0
    last_log: float = field(default_factory=time.perf_counter)


class StageTimer:
    """``with timer.stage("embed", total=n): ... timer.advance(k)``; timings in ``timer.timings``.

    Subclasses show progress by overriding the ``_on_*`` hooks."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        # Peak resident memory of the process (GiB) when each stage ended: where memory goes.
        self.peak_rss_gib: dict[str, float] = {}
        self._stack: list[Stage] = []

    @contextmanager
    def stage(self, name: str, total: float | None = None) -> Iterator["StageTimer"]:
        stage = Stage(name, total, time.perf_counter())
        self._stack.append(stage)
        self._on_start(stage)
        failed = False
        try:
            yield self
        except BaseException:
            failed = True
            raise
        finally:
            elapsed = time.perf_counter() - stage.started
            release_freed_memory()
            self.timings[name] = self.timings.get(name, 0.0) + elapsed
            self.peak_rss_gib[name] = peak_rss_gib()
            self._stack.pop()
            self._on_end(stage, elapsed, failed)

    def advance(self, n: float = 1, note: str | None = None) -> None:
        """Progress inside the innermost stage; ``note`` (e.g. current metrics) goes with it."""
        if self._stack:
            self._stack[-1].done += n
            self._on_advance(self._stack[-1], n, note)

    def info(self, message: str) -> None:
        """A message between progress lines; silent here."""

    def _on_start(self, stage: Stage) -> None:
        pass

    def _on_end(self, stage: Stage, elapsed: float, failed: bool) -> None:
        pass

    def _on_advance(self, stage: Stage, n: float, note: str | None) -> None:
        pass
