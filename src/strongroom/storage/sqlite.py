"""SQLite metadata store: the embedded default.

:class:`SqliteStore` is the :class:`strongroom.storage.base.MetadataStore` implementation, assembled from
the connection (``_sqlite_base``) and the table families (``_sqlite_keys``, ``_sqlite_identities``).
"""

from __future__ import annotations

from strongroom.storage._sqlite_base import SqliteConnection
from strongroom.storage._sqlite_identities import IdentityTables
from strongroom.storage._sqlite_keys import KeyTables
from strongroom.storage.base import Change, ChangeKind

__all__ = ["SqliteStore"]


class SqliteStore(KeyTables, IdentityTables, SqliteConnection):
    # -- installation metadata -----------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE name=?", (name,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, name: str, value: str) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO meta (name, value) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET value=?",
                (name, value, value),
            )

    def add_meta(self, name: str, value: str) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO meta (name, value) VALUES (?,?) ON CONFLICT(name) DO NOTHING", (name, value)
            )

    # -- change log ----------------------------------------------------------------------------------
    def changes_since(self, seq: int) -> tuple[list[Change], int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, region, name FROM changes WHERE seq>? ORDER BY seq", (seq,)
            ).fetchall()
            oldest = self._conn.execute("SELECT MIN(seq) FROM changes").fetchone()[0]
        return [Change(r[0], ChangeKind(r[1]), r[2], r[3]) for r in rows], int(oldest or 0)

    def latest_change_seq(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM changes")[0][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
