"""SQLite tables of access keys, IAM users and roles, and their identity policies."""

from __future__ import annotations

from typing import Any

from strongroom.domain.identities import IamPrincipal, PrincipalKind
from strongroom.storage._sqlite_base import SqliteConnection
from strongroom.storage.base import AccessKeyRecord, ChangeKind

__all__ = ["IdentityTables"]


class IdentityTables(SqliteConnection):
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

    def list_access_keys(self, principal_arn: str) -> list[AccessKeyRecord]:
        rows = self._read(
            "SELECT access_key_id, wrapped_secret, account_id, principal_arn, created FROM access_keys "
            "WHERE principal_arn=? ORDER BY created, access_key_id",
            (principal_arn,),
        )
        return [AccessKeyRecord(r[0], bytes(r[1]), r[2], r[3], r[4]) for r in rows]

    def delete_access_key(self, access_key_id: str) -> bool:
        with self._write() as tx:
            gone = tx.execute("DELETE FROM access_keys WHERE access_key_id=?", (access_key_id,)).rowcount
            if gone:
                tx.change(ChangeKind.ACCESS_KEY, "", access_key_id)
        return bool(gone)

    # -- identities and identity policies -------------------------------------------------------------
    def insert_principal(self, principal: IamPrincipal) -> bool:
        with self._write() as tx:
            inserted = tx.execute(
                "INSERT OR IGNORE INTO iam_principals "
                "(account_id, kind, name, path, arn, principal_id, created) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    principal.account_id,
                    principal.kind.value,
                    principal.name,
                    principal.path,
                    principal.arn,
                    principal.principal_id,
                    principal.created,
                ),
            ).rowcount
            if inserted:
                tx.change(ChangeKind.PRINCIPAL, "", principal.arn)
        return bool(inserted)

    def delete_principal(self, account_id: str, kind: PrincipalKind, name: str) -> bool:
        with self._write() as tx:
            rows = tx.execute(
                "DELETE FROM iam_principals WHERE account_id=? AND kind=? AND name=? RETURNING arn",
                (account_id, kind.value, name),
            ).fetchall()
            tx.execute(
                "DELETE FROM iam_policies WHERE account_id=? AND kind=? AND name=?",
                (account_id, kind.value, name),
            )
            for (arn,) in rows:
                for (access_key_id,) in tx.execute(
                    "DELETE FROM access_keys WHERE principal_arn=? RETURNING access_key_id", (arn,)
                ).fetchall():
                    tx.change(ChangeKind.ACCESS_KEY, "", access_key_id)
                tx.change(ChangeKind.PRINCIPAL, "", arn)
        return bool(rows)

    def get_principal(self, account_id: str, kind: PrincipalKind, name: str) -> IamPrincipal | None:
        rows = self._read(
            f"SELECT {_PRINCIPAL_COLUMNS} FROM iam_principals WHERE account_id=? AND kind=? AND name=?",
            (account_id, kind.value, name),
        )
        return _principal(rows[0]) if rows else None

    def get_principal_by_arn(self, arn: str) -> IamPrincipal | None:
        rows = self._read(f"SELECT {_PRINCIPAL_COLUMNS} FROM iam_principals WHERE arn=?", (arn,))
        return _principal(rows[0]) if rows else None

    def list_principals(self, account_id: str, kind: PrincipalKind) -> list[IamPrincipal]:
        rows = self._read(
            f"SELECT {_PRINCIPAL_COLUMNS} FROM iam_principals WHERE account_id=? AND kind=? ORDER BY name",
            (account_id, kind.value),
        )
        return [_principal(row) for row in rows]

    def put_identity_policy(self, principal: IamPrincipal, policy_name: str, document: str) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO iam_policies (account_id, kind, name, policy_name, document) VALUES (?,?,?,?,?) "
                "ON CONFLICT(account_id, kind, name, policy_name) DO UPDATE SET document=excluded.document",
                (principal.account_id, principal.kind.value, principal.name, policy_name, document),
            )
            tx.change(ChangeKind.PRINCIPAL, "", principal.arn)

    def delete_identity_policy(self, principal: IamPrincipal, policy_name: str) -> bool:
        with self._write() as tx:
            gone = tx.execute(
                "DELETE FROM iam_policies WHERE account_id=? AND kind=? AND name=? AND policy_name=?",
                (principal.account_id, principal.kind.value, principal.name, policy_name),
            ).rowcount
            if gone:
                tx.change(ChangeKind.PRINCIPAL, "", principal.arn)
        return bool(gone)

    def list_identity_policies(self, principal: IamPrincipal) -> list[tuple[str, str]]:
        rows = self._read(
            "SELECT policy_name, document FROM iam_policies WHERE account_id=? AND kind=? AND name=? "
            "ORDER BY policy_name",
            (principal.account_id, principal.kind.value, principal.name),
        )
        return [(row[0], row[1]) for row in rows]


_PRINCIPAL_COLUMNS = "account_id, kind, name, path, arn, principal_id, created"


def _principal(row: tuple[Any, ...]) -> IamPrincipal:
    return IamPrincipal(row[0], PrincipalKind(row[1]), row[2], row[3], row[4], row[5], row[6])
