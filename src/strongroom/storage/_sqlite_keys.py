"""SQLite tables of keys, key material and its rotations, aliases, key policies and grants."""

from __future__ import annotations

from typing import Any

import orjson

from strongroom.domain.aliases import Alias
from strongroom.domain.grants import Grant, GrantConstraints
from strongroom.domain.keys import KeySpec, KeyState, KeyUsage, KmsKey, Origin
from strongroom.domain.rotation import Rotation, RotationType
from strongroom.storage._sqlite_base import SqliteConnection
from strongroom.storage.base import ChangeKind, WrappedMaterial

__all__ = ["KeyTables"]


class KeyTables(SqliteConnection):
    # -- keys ----------------------------------------------------------------------------------------
    def insert_key(self, key: KmsKey, material: WrappedMaterial | None, policy: str | None = None) -> None:
        with self._write() as tx:
            tx.execute(
                f"INSERT INTO kms_keys ({_KEY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                _key_row(key),
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
            if policy is not None:
                tx.execute(
                    "UPDATE kms_keys SET policy=? WHERE region=? AND key_id=?",
                    (policy, key.region, key.key_id),
                )
            tx.change(ChangeKind.KEY, key.region, key.key_id)

    def update_key(self, key: KmsKey) -> None:
        """Save the key's metadata. Its current material and on-demand count are left alone: only
        :meth:`rotate_key` moves them, so a concurrent change made from an older copy of the key cannot
        turn a rotation back."""
        with self._write() as tx:
            tx.execute(
                "UPDATE kms_keys SET description=?, key_spec=?, key_usage=?, origin=?, key_state=?, "
                "deletion_date=?, multi_region=?, tags=?, rotation_enabled=?, rotation_period=?, "
                "next_rotation=? WHERE region=? AND key_id=?",
                (
                    key.description,
                    key.key_spec.value,
                    key.key_usage.value,
                    key.origin.value,
                    key.state.value,
                    key.deletion_date,
                    int(key.multi_region),
                    orjson.dumps(key.tags).decode(),
                    int(key.rotation_enabled),
                    key.rotation_period_days,
                    key.next_rotation,
                    key.region,
                    key.key_id,
                ),
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
            tx.execute("DELETE FROM key_rotations WHERE region=? AND key_id=?", (region, key_id))
            tx.execute("DELETE FROM grants WHERE region=? AND key_id=?", (region, key_id))
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

    # -- rotation ------------------------------------------------------------------------------------
    def rotate_key(
        self, before: KmsKey, after: KmsKey, material: WrappedMaterial, rotation: Rotation, due: float | None
    ) -> bool:
        """Make ``material`` current, if the key is still as ``before`` left it (its current material,
        and for an automatic rotation its due date, rotation on and state Enabled): the conditional
        UPDATE decides which of several racing workers (or nodes) rotates; False for the others, who
        write nothing."""
        if rotation.rotation_type is None or rotation.date is None:
            raise ValueError("a rotation has a date and a type")
        sql = (
            "UPDATE kms_keys SET current_material=?, next_rotation=?, on_demand_rotations=? "
            "WHERE region=? AND key_id=? AND current_material=?"
        )
        params: tuple[Any, ...] = (
            after.current_material,
            after.next_rotation,
            after.on_demand_rotations,
            before.region,
            before.key_id,
            before.current_material,
        )
        if due is not None:
            sql += " AND next_rotation=? AND rotation_enabled=1 AND key_state=?"
            params += (due, KeyState.ENABLED.value)
        with self._write() as tx:
            if tx.execute(sql, params).rowcount != 1:
                return False
            tx.execute(
                "INSERT INTO key_materials (region, key_id, version, material_id, wrapped, created) "
                "VALUES (?,?,?,?,?,?)",
                (
                    after.region,
                    after.key_id,
                    material.version,
                    material.material_id,
                    material.wrapped,
                    material.created,
                ),
            )
            tx.execute(
                "INSERT INTO key_rotations (region, key_id, version, material_id, rotation_date, "
                "rotation_type) VALUES (?,?,?,?,?,?)",
                (
                    after.region,
                    after.key_id,
                    rotation.version,
                    rotation.material_id,
                    rotation.date,
                    rotation.rotation_type.value,
                ),
            )
            tx.change(ChangeKind.KEY, after.region, after.key_id)
        return True

    def list_rotations(self, region: str, key_id: str) -> list[Rotation]:
        """Every material of the key, oldest first; the rotations' dates and types where they were
        rotations."""
        rows = self._read(
            "SELECT m.version, m.material_id, r.rotation_date, r.rotation_type FROM key_materials m "
            "LEFT JOIN key_rotations r ON r.region=m.region AND r.key_id=m.key_id AND r.version=m.version "
            "WHERE m.region=? AND m.key_id=? ORDER BY m.version",
            (region, key_id),
        )
        return [
            Rotation(row[0], row[1], row[2], RotationType(row[3]) if row[3] is not None else None)
            for row in rows
        ]

    def due_rotations(self, now: float) -> list[tuple[str, str]]:
        """(region, key id) of Enabled keys whose automatic rotation date has passed."""
        rows = self._read(
            "SELECT region, key_id FROM kms_keys WHERE next_rotation IS NOT NULL AND next_rotation<=? "
            "AND rotation_enabled=1 AND key_state=?",
            (now, KeyState.ENABLED.value),
        )
        return [(row[0], row[1]) for row in rows]

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

    def count_keys_by_state(self) -> dict[str, int]:
        """How many keys are in each state, over every account and region (for metrics)."""
        rows = self._read("SELECT key_state, COUNT(*) FROM kms_keys GROUP BY key_state", ())
        return {str(state): int(count) for state, count in rows}

    def count_aliases(self, region: str, key_id: str) -> int:
        return int(
            self._read("SELECT COUNT(*) FROM aliases WHERE region=? AND key_id=?", (region, key_id))[0][0]
        )

    # -- key policies and grants -----------------------------------------------------------------------
    def get_key_policy(self, region: str, key_id: str) -> str | None:
        rows = self._read("SELECT policy FROM kms_keys WHERE region=? AND key_id=?", (region, key_id))
        return rows[0][0] if rows else None

    def put_key_policy(self, region: str, key_id: str, document: str) -> None:
        with self._write() as tx:
            tx.execute("UPDATE kms_keys SET policy=? WHERE region=? AND key_id=?", (document, region, key_id))
            tx.change(ChangeKind.KEY, region, key_id)

    def insert_grant(self, grant: Grant) -> None:
        with self._write() as tx:
            tx.execute(
                f"INSERT INTO grants ({_GRANT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", _grant_row(grant)
            )
            tx.change(ChangeKind.GRANT, grant.region, grant.key_id)

    def get_grant(self, grant_id: str) -> Grant | None:
        rows = self._read(f"SELECT {_GRANT_COLUMNS} FROM grants WHERE grant_id=?", (grant_id,))
        return _grant(rows[0]) if rows else None

    def find_grant_by_name(self, region: str, key_id: str, name: str) -> list[Grant]:
        rows = self._read(
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE region=? AND key_id=? AND name=? "
            "ORDER BY creation_date",
            (region, key_id, name),
        )
        return [_grant(row) for row in rows]

    def list_grants(self, region: str, key_id: str) -> list[Grant]:
        rows = self._read(
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE region=? AND key_id=? "
            "ORDER BY creation_date, grant_id",
            (region, key_id),
        )
        return [_grant(row) for row in rows]

    def list_retirable_grants(self, retiring_principal: str) -> list[Grant]:
        rows = self._read(
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE retiring_principal=? "
            "ORDER BY creation_date, grant_id",
            (retiring_principal,),
        )
        return [_grant(row) for row in rows]

    def delete_grant(self, grant_id: str) -> bool:
        with self._write() as tx:
            rows = tx.execute(
                "DELETE FROM grants WHERE grant_id=? RETURNING region, key_id", (grant_id,)
            ).fetchall()
            for region, key_id in rows:
                tx.change(ChangeKind.GRANT, region, key_id)
        return bool(rows)


_KEY_COLUMNS = (
    "region, key_id, account_id, creation_date, description, key_spec, key_usage, origin, key_state, "
    "deletion_date, multi_region, current_material, tags, rotation_enabled, rotation_period, next_rotation, "
    "on_demand_rotations"
)


_GRANT_COLUMNS = (
    "grant_id, region, key_id, name, grantee_principal, retiring_principal, operations, constraints, "
    "issuing_account, creation_date"
)


def _grant_row(grant: Grant) -> tuple[Any, ...]:
    constraints = None
    if grant.constraints is not None:
        constraints = orjson.dumps(grant.constraints.to_wire()).decode()
    return (
        grant.grant_id,
        grant.region,
        grant.key_id,
        grant.name,
        grant.grantee_principal,
        grant.retiring_principal,
        orjson.dumps(grant.operations).decode(),
        constraints,
        grant.issuing_account,
        grant.creation_date,
    )


def _grant(row: tuple[Any, ...]) -> Grant:
    constraints = None
    if row[7] is not None:
        wire = orjson.loads(row[7])
        equals = wire.get("EncryptionContextEquals")
        subset = wire.get("EncryptionContextSubset")
        constraints = GrantConstraints(
            tuple(sorted(equals.items())) if equals is not None else None,
            tuple(sorted(subset.items())) if subset is not None else None,
        )
    return Grant(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        tuple(orjson.loads(row[6])),
        constraints,
        row[8],
        row[9],
    )


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
        int(key.rotation_enabled),
        key.rotation_period_days,
        key.next_rotation,
        key.on_demand_rotations,
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
        rotation_enabled=bool(row[13]),
        rotation_period_days=row[14],
        next_rotation=row[15],
        on_demand_rotations=row[16],
        current_material_id=row[17],
    )
