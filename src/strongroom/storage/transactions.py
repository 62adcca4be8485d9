"""Deferred commit: the writes of one request become visible only when the request's audit record is
durable.

A request that changes state must be on record before it takes effect (see
:mod:`strongroom.protocol.app`). The edge therefore runs such a request inside a :class:`UnitOfWork`:
every store write made meanwhile joins one transaction, which is committed only after the record is on
stable storage, and rolled back if it cannot be written. A unit that wrote nothing needs no commit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["Transactional", "UnitOfWork"]


class UnitOfWork(Protocol):
    @property
    def wrote(self) -> bool:
        """Whether any write joined the unit (and so a commit or rollback decides something)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Transactional(Protocol):
    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A unit for the calling thread; leaving it without :meth:`UnitOfWork.commit` rolls back."""
        ...
