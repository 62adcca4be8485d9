"""SQLite metadata store: the embedded default (WAL, synchronous=FULL, one connection per process).

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

import orjson

from strongroom.domain.aliases import Alias
from strongroom.domain.keys import KeySpec, KeyState, KeyUsage, KmsKey, Origin
from strongroom.storage.base import AccessKeyRecord, Change, ChangeKind, WrappedMaterial

__all__ = ["SqliteStore"]

_CHANGE_RETENTION_SECONDS = 3600.0
_KEY_COLUMNS = (
    "region, key_id, account_id, creation_date, description, key_spec, key_usage, origin, key_state, "
    "deletion_date, multi_region, current_material, tags"
)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("strongroom.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteStore:
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
    def _write(self) -> Iterator[_Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = _Tx(self._conn)
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

    # -- keys ----------------------------------------------------------------------------------------
    def insert_key(self, key: KmsKey, material: WrappedMaterial | None) -> None:
        with self._write() as tx:
            tx.execute(
                f"INSERT INTO kms_keys ({_KEY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", _key_row(key)
            )
            if material is not None:
                tx.execute(
                    "INSERT INTO key_materials (region, key_id, version, material_id, wrapped, created) "
                    "VALUES (?,?,?,?,?,?)",
                    (
                        key.region,
                        key.key_id,
                        material.version,
                        material.material_id,
                        material.wrapped,
                        material.created,
                    ),
                )
            tx.change(ChangeKind.KEY, key.region, key.key_id)

    def update_key(self, key: KmsKey) -> None:
        row = _key_row(key)
        with self._write() as tx:
            tx.execute(
                "UPDATE kms_keys SET description=?, key_spec=?, key_usage=?, origin=?, key_state=?, "
                "deletion_date=?, multi_region=?, current_material=?, tags=? WHERE region=? AND key_id=?",
                (*row[4:], key.region, key.key_id),
            )
            tx.change(ChangeKind.KEY, key.region, key.key_id)

    def get_key(self, region: str, key_id: str) -> KmsKey | None:
        rows = self._read(
            f"SELECT {_KEY_COLUMNS}, (SELECT material_id FROM key_materials m WHERE m.region=k.region "
            "AND m.key_id=k.key_id AND m.version=k.current_material) FROM kms_keys k "
            "WHERE region=? AND key_id=?",
            (region, key_id),
        )
        return _key_from_row(rows[0]) if rows else None

    def list_keys(self, account_id: str, region: str, after: str | None, limit: int) -> list[KmsKey]:
        rows = self._read(
            f"SELECT {_KEY_COLUMNS}, (SELECT material_id FROM key_materials m WHERE m.region=k.region "
            "AND m.key_id=k.key_id AND m.version=k.current_material) FROM kms_keys k "
            "WHERE account_id=? AND region=? AND key_id>? ORDER BY key_id LIMIT ?",
            (account_id, region, after or "", limit),
        )
        return [_key_from_row(row) for row in rows]

    def delete_key(self, region: str, key_id: str) -> bool:
        with self._write() as tx:
            gone = tx.execute("DELETE FROM kms_keys WHERE region=? AND key_id=?", (region, key_id)).rowcount
            tx.execute("DELETE FROM key_materials WHERE region=? AND key_id=?", (region, key_id))
            aliases = tx.execute(
                "DELETE FROM aliases WHERE region=? AND key_id=? RETURNING alias_name, account_id",
                (region, key_id),
            ).fetchall()
            tx.change(ChangeKind.KEY, region, key_id)
            for name, _account in aliases:
                tx.change(ChangeKind.ALIAS, region, name)
        return bool(gone)

    def expired_keys(self, now: float) -> list[tuple[str, str]]:
        rows = self._read(
            "SELECT region, key_id FROM kms_keys WHERE deletion_date IS NOT NULL AND deletion_date<=? "
            "AND key_state=?",
            (now, KeyState.PENDING_DELETION.value),
        )
        return [(row[0], row[1]) for row in rows]

    def get_materials(self, region: str, key_id: str) -> list[WrappedMaterial]:
        rows = self._read(
            "SELECT version, material_id, wrapped, created FROM key_materials WHERE region=? AND key_id=? "
            "ORDER BY version",
            (region, key_id),
        )
        return [WrappedMaterial(row[0], row[1], bytes(row[2]), row[3]) for row in rows]

    # -- aliases -------------------------------------------------------------------------------------
    def insert_alias(self, alias: Alias) -> bool:
        with self._write() as tx:
            inserted = tx.execute(
                "INSERT OR IGNORE INTO aliases (account_id, region, alias_name, key_id, creation_date, "
                "last_updated) VALUES (?,?,?,?,?,?)",
                (
                    alias.account_id,
                    alias.region,
                    alias.name,
                    alias.key_id,
                    alias.creation_date,
                    alias.last_updated_date,
                ),
            ).rowcount
            if inserted:
                tx.change(ChangeKind.ALIAS, alias.region, alias.name)
        return bool(inserted)

    def update_alias(self, alias: Alias) -> None:
        with self._write() as tx:
            tx.execute(
                "UPDATE aliases SET key_id=?, last_updated=? "
                "WHERE account_id=? AND region=? AND alias_name=?",
                (alias.key_id, alias.last_updated_date, alias.account_id, alias.region, alias.name),
            )
            tx.change(ChangeKind.ALIAS, alias.region, alias.name)

    def delete_alias(self, account_id: str, region: str, name: str) -> bool:
        with self._write() as tx:
            gone = tx.execute(
                "DELETE FROM aliases WHERE account_id=? AND region=? AND alias_name=?",
                (account_id, region, name),
            ).rowcount
            if gone:
                tx.change(ChangeKind.ALIAS, region, name)
        return bool(gone)

    def get_alias(self, account_id: str, region: str, name: str) -> Alias | None:
        rows = self._read(
            "SELECT account_id, region, alias_name, key_id, creation_date, last_updated FROM aliases "
            "WHERE account_id=? AND region=? AND alias_name=?",
            (account_id, region, name),
        )
        return Alias(*rows[0]) if rows else None

    def list_aliases(
        self, account_id: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        sql = (
            "SELECT account_id, region, alias_name, key_id, creation_date, last_updated FROM aliases "
            "WHERE account_id=? AND region=? AND alias_name>?"
        )
        params: tuple[Any, ...] = (account_id, region, after or "")
        if key_id is not None:
            sql += " AND key_id=?"
            params += (key_id,)
        rows = self._read(sql + " ORDER BY alias_name LIMIT ?", (*params, limit))
        return [Alias(*row) for row in rows]

    def count_aliases(self, region: str, key_id: str) -> int:
        return int(
            self._read("SELECT COUNT(*) FROM aliases WHERE region=? AND key_id=?", (region, key_id))[0][0]
        )

    # -- credentials ---------------------------------------------------------------------------------
    def put_access_key(self, record: AccessKeyRecord) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO access_keys (access_key_id, wrapped_secret, account_id, principal_arn, created) "
                "VALUES (?,?,?,?,?) ON CONFLICT(access_key_id) DO UPDATE SET "
                "wrapped_secret=excluded.wrapped_secret, account_id=excluded.account_id, "
                "principal_arn=excluded.principal_arn",
                (
                    record.access_key_id,
                    record.wrapped_secret,
                    record.account_id,
                    record.principal_arn,
                    record.created,
                ),
            )
            tx.change(ChangeKind.ACCESS_KEY, "", record.access_key_id)

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        rows = self._read(
            "SELECT access_key_id, wrapped_secret, account_id, principal_arn, created FROM access_keys "
            "WHERE access_key_id=?",
            (access_key_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return AccessKeyRecord(row[0], bytes(row[1]), row[2], row[3], row[4])

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


class _Tx:
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


def _key_row(key: KmsKey) -> tuple[Any, ...]:
    return (
        key.region,
        key.key_id,
        key.account_id,
        key.creation_date,
        key.description,
        key.key_spec.value,
        key.key_usage.value,
        key.origin.value,
        key.state.value,
        key.deletion_date,
        int(key.multi_region),
        key.current_material,
        orjson.dumps(key.tags).decode(),
    )


def _key_from_row(row: tuple[Any, ...]) -> KmsKey:
    return KmsKey(
        region=row[0],
        key_id=row[1],
        account_id=row[2],
        creation_date=row[3],
        description=row[4],
        key_spec=KeySpec(row[5]),
        key_usage=KeyUsage(row[6]),
        origin=Origin(row[7]),
        state=KeyState(row[8]),
        deletion_date=row[9],
        multi_region=bool(row[10]),
        current_material=row[11],
        tags=tuple((k, v) for k, v in orjson.loads(row[12])),
        current_material_id=row[13],
    )
