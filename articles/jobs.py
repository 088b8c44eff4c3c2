"""Handing work to the job queue without letting a queue outage fail a change that is already saved.

Work is queued after commit (`enqueue_after_commit`). If the broker cannot take it, the failure is
logged, the request still succeeds, and the view can tell the person what is owed (`owed_notes`);
the owed work itself is found again from the database by the sweeps registered here, which the beat
job `requeue_owed_work` runs every few minutes. A sweep must be idempotent: it re-queues what its
rows say is still owed (e.g. lookups pending for longer than LOOKUP_OWED_AFTER_SECONDS), so running
it twice, or after a queue that did take the job, at worst repeats a job that finds nothing to do.

Other background work (the citation watch, for one) registers its own sweep with `@owed_work("name")`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.db import transaction
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

OwedSweep = Callable[[datetime], int]
_SWEEPS: dict[str, OwedSweep] = {}
# What could not be queued during the current request, for the view to report ("saved; … owed").
_OWED_NOTES: ContextVar[list[str] | None] = ContextVar("owed_notes", default=None)


def enqueue(task: Any, *args: Any, owed: str) -> bool:
    """Sends the task now; False (logged, and noted for the view) when the broker cannot take it.

    `owed` says in plain words what will happen later instead, e.g. "the lookup of DOI 10.1/x".
    """
    try:
        # No publish retries beyond the short policy in settings: the person is waiting for the page.
        task.apply_async(args=args)
    except (KombuError, RedisError, OSError) as exc:  # a broker down, refusing, or too slow to answer
        logger.warning("job queue unavailable, %s is owed: %s: %s", owed, type(exc).__name__, exc)
        notes = _OWED_NOTES.get()
        if notes is not None:
            notes.append(owed)
        return False
    return True


def enqueue_after_commit(task: Any, *args: Any, owed: str) -> None:
    """After commit: a worker must find the rows, and a rolled-back change must not be worked on."""
    transaction.on_commit(lambda: enqueue(task, *args, owed=owed))


@contextmanager
def owed_notes() -> Iterator[list[str]]:
    """Collects, for one request, what could not be queued: `with owed_notes() as owed: save(...)`."""
    notes: list[str] = []
    token = _OWED_NOTES.set(notes)
    try:
        yield notes
    finally:
        _OWED_NOTES.reset(token)


def owed_message(notes: Sequence[str]) -> str:
    """The honest sentence shown after a save whose follow-up work could not be queued."""
    what = notes[0] if len(notes) == 1 else f"{len(notes)} background jobs"
    return f"Saved; {what} will run when the job queue is back."


def owed_work(name: str) -> Callable[[OwedSweep], OwedSweep]:
    """Registers a sweep: given the time, re-queues the work its rows show as owed; returns how many."""

    def register(sweep: OwedSweep) -> OwedSweep:
        _SWEEPS[name] = sweep
        return sweep

    return register


def requeue_owed_work(now: datetime) -> dict[str, int]:
    """Runs every registered sweep; one failing (e.g. the broker still down) does not stop the others."""
    done: dict[str, int] = {}
    for name, sweep in _SWEEPS.items():
        try:
            done[name] = sweep(now)
        except Exception:
            logger.exception("owed-work sweep %s failed; it runs again on the next beat", name)
            done[name] = -1
    return done
