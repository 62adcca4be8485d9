"""The SQLite connection shared by the table modules: migrations, write transactions, the change log.

Writers take ``BEGIN IMMEDIATE`` so concurrent workers queue on SQLite's write lock (with a busy
timeout) instead of failing on lock upgrades. Every mutation appends to ``changes`` in the same
transaction and, once committed, reports the new sequence number to ``on_commit`` so the caller can
wake other workers (:class:`strongroom.service.changes.EpochFile`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from strongroom.storage.base import ChangeKind

__all__ = ["SqliteConnection", "SqliteUnitOfWork", "Tx"]

_CHANGE_RETENTION_SECONDS = 3600.0


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("strongroom.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Tx:
    """One write transaction; remembers the last change-log sequence number it appended."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.last_seq = 0

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def change(self, kind: ChangeKind, region: str, name: str) -> None:
        now = time.time()
        cursor = self._conn.execute(
            "INSERT INTO changes (kind, region, name, at) VALUES (?,?,?,?)", (kind.value, region, name, now)
        )
        self.last_seq = int(cursor.lastrowid or 0)
        if self.last_seq % 256 == 0:
            self._conn.execute("DELETE FROM changes WHERE at<?", (now - _CHANGE_RETENTION_SECONDS,))


class SqliteUnitOfWork:
    """The writes of one request, in one transaction begun at the first write (``BEGIN IMMEDIATE``)
    and ended by :meth:`commit` or :meth:`rollback`. Each write inside it is a savepoint, so a write
    that fails undoes only itself, as it would outside a unit."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._connection = connection
        self.begun = False
        self.ended = False
        self.last_seq = 0

    @property
    def wrote(self) -> bool:
        return self.begun

    def commit(self) -> None:
        self._end("COMMIT")
        if self.last_seq:
            self._connection.committed(self.last_seq)

    def rollback(self) -> None:
        self._end("ROLLBACK")

    def _end(self, statement: str) -> None:
        if self.ended:
            raise RuntimeError("this unit of work has already ended")
        self.ended = True
        if not self.begun:
            return
        conn = self._connection._conn
        try:
            conn.execute(statement)
        except BaseException:
            if conn.in_transaction:  # a COMMIT that failed (a full disk) leaves the transaction open
                conn.execute("ROLLBACK")
            raise


class SqliteConnection:
    """One connection per process (WAL, ``synchronous=FULL``), guarded by a lock."""

    def __init__(self, path: Path, on_commit: Callable[[int], None] | None = None) -> None:
        if not path.exists():
            # SQLite gives the -wal and -shm files the database file's mode: create it private.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self._lock = threading.RLock()
        self._on_commit = on_commit
        self._unit: SqliteUnitOfWork | None = None
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def set_on_commit(self, on_commit: Callable[[int], None] | None) -> None:
        self._on_commit = on_commit

    def _migrate(self) -> None:
        with self._lock:
            current = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for version, script in _migrations():
                if version <= current:
                    continue
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    # Re-check under the write lock: another worker may have migrated meanwhile.
                    if self._conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                        self._conn.execute("ROLLBACK")
                        continue
                    code = "\n".join(
                        line for line in script.splitlines() if not line.lstrip().startswith("--")
                    )
                    for statement in code.split(";"):
                        if statement.strip():
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={version}")
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise

    def committed(self, seq: int) -> None:
        """Tell the change feed (after the commit, outside any transaction)."""
        if self._on_commit is not None:
            self._on_commit(seq)

    @contextmanager
    def unit_of_work(self) -> Iterator[SqliteUnitOfWork]:
        """See :mod:`strongroom.storage.transactions`. The connection's lock is held throughout, so no
        other thread of this process writes (or reads uncommitted rows) meanwhile."""
        with self._lock:
            if self._unit is not None:
                raise RuntimeError("units of work do not nest")
            unit = self._unit = SqliteUnitOfWork(self)
            try:
                yield unit
            finally:
                self._unit = None
                if not unit.ended:
                    unit.rollback()

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        with self._lock:
            unit = self._unit
            if unit is not None:
                with self._write_in(unit) as tx:
                    yield tx
                return
            self._conn.execute("BEGIN IMMEDIATE")
            tx = Tx(self._conn)
            try:
                yield tx
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if tx.last_seq:
            self.committed(tx.last_seq)

    @contextmanager
    def _write_in(self, unit: SqliteUnitOfWork) -> Iterator[Tx]:
        if unit.ended:
            raise RuntimeError("this unit of work has already ended")
        if not unit.begun:
            self._conn.execute("BEGIN IMMEDIATE")
            unit.begun = True
        self._conn.execute("SAVEPOINT unit_write")
        tx = Tx(self._conn)
        try:
            yield tx
        except BaseException:
            self._conn.execute("ROLLBACK TO unit_write")
            self._conn.execute("RELEASE unit_write")
            raise
        self._conn.execute("RELEASE unit_write")
        unit.last_seq = max(unit.last_seq, tx.last_seq)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()
