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

__all__ = ["SqliteConnection", "Tx"]

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


class SqliteConnection:
    """One connection per process (WAL, ``synchronous=FULL``), guarded by a lock."""

    def __init__(self, path: Path, on_commit: Callable[[int], None] | None = None) -> None:
        if not path.exists():
            # SQLite gives the -wal and -shm files the database file's mode: create it private.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self._lock = threading.RLock()
        self._on_commit = on_commit
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

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = Tx(self._conn)
            try:
                yield tx
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if tx.last_seq and self._on_commit is not None:
            self._on_commit(tx.last_seq)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()
