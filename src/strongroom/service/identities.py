"""IAM administration: users, roles, their access keys and inline identity policies.

:class:`IdentityAdmin` is what ``strongroom iam ...`` runs. It follows AWS IAM's rules and messages where
IAM has them: names are unique per account without regard to case, a user or role that still has access
keys or policies cannot be deleted (``DeleteConflict``), a principal has at most two access keys
(``LimitExceeded``), and identity policies are validated by the policy parser before they are stored.

Roles get access keys too, a Strongroom extension: there is no STS here to hand out role sessions, so a
role's key signs requests as the role itself (principal ``arn:aws:iam::<account>:role/<name>``).

The account root (``arn:aws:iam::<account>:root``) is the data dir's admin identity. It has no record here,
and its access key is managed by ``strongroom serve`` (``STRONGROOM_ADMIN_*``, ``admin-credentials``), so
these methods never touch it.

Secrets: a new access key's secret is returned once (:class:`NewAccessKey`) and stored only wrapped under
the root of trust (:meth:`CredentialStore.put`); it is never logged and has no ``repr``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

from strongroom.clock import Clock
from strongroom.domain.identities import (
    IamPrincipal,
    PrincipalKind,
    new_principal_id,
    principal_arn,
)
from strongroom.domain.policy import PolicyKind, parse_policy
from strongroom.domain.policy.document import refuse_overly_permissive
from strongroom.errors import MalformedPolicyDocumentException
from strongroom.service.credentials import CredentialStore, generate_access_key_pair
from strongroom.storage.base import MetadataStore

__all__ = [
    "MAX_ACCESS_KEYS",
    "AccessKeyInfo",
    "IamError",
    "IdentityAdmin",
    "NewAccessKey",
    "validate_identity_policy",
    "validate_json_object",
]

MAX_ACCESS_KEYS: Final = 2  # IAM's AccessKeysPerUser quota; Strongroom applies it to roles as well
_MAX_NAME: Final = 64
_MAX_POLICY_NAME: Final = 128
_MAX_PATH: Final = 512
_NAME_PATTERN: Final = r"[\w+=,.@-]+"
_PATH_PATTERN: Final = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
_PATH: Final = re.compile(r"/|/[\x21-\x7e]+/")
_INVALID_JSON: Final = "This policy contains invalid Json"


class IamError(Exception):
    """An IAM error as AWS IAM reports it: an error code (``NoSuchEntity``, ...) and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """A freshly created access key. ``secret`` is shown to the caller once and never stored in clear."""

    principal: IamPrincipal
    access_key_id: str
    secret: str = field(repr=False)
    created: float


@dataclass(frozen=True, slots=True)
class AccessKeyInfo:
    """An access key's metadata (ListAccessKeys); the secret is not part of it."""

    principal: IamPrincipal
    access_key_id: str
    created: float


def _noun(kind: PrincipalKind) -> str:
    return kind.value  # "user" or "role", as IAM's messages say


def _validation_error(value: str, member: str, constraint: str) -> IamError:
    return IamError(
        "ValidationError",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member {constraint}",
    )


def _check_name(value: str, member: str, max_length: int) -> None:
    """IAM's constraints on user, role and policy names: 1..max of ASCII letters, digits and ``+=,.@_-``."""
    if not value:
        raise _validation_error(value, member, "must have length greater than or equal to 1")
    if len(value) > max_length:
        raise _validation_error(value, member, f"must have length less than or equal to {max_length}")
    if not (value.isascii() and re.fullmatch(_NAME_PATTERN, value)):
        raise _validation_error(value, member, f"must satisfy regular expression pattern: {_NAME_PATTERN}")


def _check_principal_name(kind: PrincipalKind, name: str) -> None:
    _check_name(name, f"{kind.value}Name", _MAX_NAME)


def _check_path(path: str, member: str = "path") -> None:
    if not path:
        raise _validation_error(path, member, "must have length greater than or equal to 1")
    if len(path) > _MAX_PATH:
        raise _validation_error(path, member, f"must have length less than or equal to {_MAX_PATH}")
    if not _PATH.fullmatch(path):
        raise _validation_error(path, member, f"must satisfy regular expression pattern: {_PATH_PATTERN}")


def validate_json_object(document: str) -> None:
    """Raise ``MalformedPolicyDocument`` unless ``document`` is a JSON object (IAM's message)."""
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        raise IamError("MalformedPolicyDocument", _INVALID_JSON) from None
    if not isinstance(parsed, dict):
        raise IamError("MalformedPolicyDocument", _INVALID_JSON)


def validate_identity_policy(document: str) -> None:
    """Raise ``MalformedPolicyDocument`` unless ``document`` is an identity policy we can evaluate."""
    validate_json_object(document)
    try:
        refuse_overly_permissive(parse_policy(document, kind=PolicyKind.IDENTITY))
    except MalformedPolicyDocumentException as error:
        raise IamError("MalformedPolicyDocument", error.message or "Syntax errors in policy.") from None


class IdentityAdmin:
    """The IAM administration of one account of a data dir, over its metadata and credential stores.

    Every mutation goes through the store, which appends to the change log; the store's ``on_commit``
    (wired by the caller) wakes running servers so they drop what they cached.
    """

    def __init__(
        self, store: MetadataStore, credentials: CredentialStore, account_id: str, clock: Clock
    ) -> None:
        self._store = store
        self._credentials = credentials
        self._clock = clock
        self.account_id = account_id

    # -- users and roles --------------------------------------------------------------------------------
    def create_principal(
        self, kind: PrincipalKind, name: str, path: str = "/", trust_policy: str | None = None
    ) -> IamPrincipal:
        """CreateUser / CreateRole. Names are unique per account and kind, ignoring case (as in IAM).

        A role's trust policy (``AssumeRolePolicyDocument``) is checked to be a JSON object and not kept:
        without STS nothing assumes a role here, so there is nothing for it to decide.
        """
        _check_principal_name(kind, name)
        _check_path(path)
        if trust_policy is not None:
            validate_json_object(trust_policy)
        folded = name.casefold()
        if any(p.name.casefold() == folded for p in self._store.list_principals(self.account_id, kind)):
            raise self._already_exists(kind, name)
        principal = IamPrincipal(
            account_id=self.account_id,
            kind=kind,
            name=name,
            path=path,
            arn=principal_arn(self.account_id, kind, name, path),
            principal_id=new_principal_id(kind),
            created=float(int(self._clock.now())),  # IAM dates have whole seconds
        )
        if not self._store.insert_principal(principal):
            raise self._already_exists(kind, name)
        return principal

    def get_principal(self, kind: PrincipalKind, name: str) -> IamPrincipal:
        """GetUser / GetRole; ``NoSuchEntity`` if there is none of that name."""
        _check_principal_name(kind, name)
        principal = self._store.get_principal(self.account_id, kind, name)
        if principal is None:
            raise IamError("NoSuchEntity", f"The {_noun(kind)} with name {name} cannot be found.")
        return principal

    def list_principals(self, kind: PrincipalKind, path_prefix: str = "/") -> list[IamPrincipal]:
        """ListUsers / ListRoles, sorted by name, optionally only those under ``path_prefix``."""
        if not path_prefix.startswith("/"):
            raise _validation_error(
                path_prefix, "pathPrefix", r"must satisfy regular expression pattern: \u002F[\u0021-\u007F]*"
            )
        return [
            p for p in self._store.list_principals(self.account_id, kind) if p.path.startswith(path_prefix)
        ]

    def delete_principal(self, kind: PrincipalKind, name: str) -> None:
        """DeleteUser / DeleteRole. As IAM does, refuse while access keys or policies remain."""
        principal = self.get_principal(kind, name)
        if self._store.list_access_keys(principal.arn):
            raise IamError("DeleteConflict", "Cannot delete entity, must delete access keys first.")
        if self._store.list_identity_policies(principal):
            raise IamError("DeleteConflict", "Cannot delete entity, must delete policies first.")
        if not self._store.delete_principal(self.account_id, kind, name):
            raise IamError("NoSuchEntity", f"The {_noun(kind)} with name {name} cannot be found.")

    # -- access keys ------------------------------------------------------------------------------------
    def create_access_key(self, kind: PrincipalKind, name: str) -> NewAccessKey:
        """CreateAccessKey for a user, or (Strongroom extension) for a role. At most two per principal."""
        principal = self.get_principal(kind, name)
        if len(self._store.list_access_keys(principal.arn)) >= MAX_ACCESS_KEYS:
            quota = "AccessKeysPerUser" if kind is PrincipalKind.USER else "AccessKeysPerRole"
            raise IamError("LimitExceeded", f"Cannot exceed quota for {quota}: {MAX_ACCESS_KEYS}")
        access_key_id, secret = generate_access_key_pair()
        while self._store.get_access_key(access_key_id) is not None:  # never overwrite another's key
            access_key_id, secret = generate_access_key_pair()
        self._credentials.put(access_key_id, secret, self.account_id, principal.arn)
        stored = self._store.get_access_key(access_key_id)
        created = stored.created if stored is not None else self._clock.now()
        return NewAccessKey(principal, access_key_id, secret, created)

    def list_access_keys(self, kind: PrincipalKind, name: str) -> list[AccessKeyInfo]:
        """ListAccessKeys of a user or role, oldest first."""
        principal = self.get_principal(kind, name)
        return [
            AccessKeyInfo(principal, record.access_key_id, record.created)
            for record in self._store.list_access_keys(principal.arn)
        ]

    def delete_access_key(
        self, access_key_id: str, kind: PrincipalKind | None = None, name: str | None = None
    ) -> None:
        """DeleteAccessKey. With a user or role name, the key must be that principal's; without one, any
        user's or role's key of this account. The account root's keys are not managed here."""
        _check_name(access_key_id, "accessKeyId", 128)
        not_found = IamError("NoSuchEntity", f"The Access Key with id {access_key_id} cannot be found.")
        record = self._store.get_access_key(access_key_id)
        if kind is not None and name is not None:
            owner = self.get_principal(kind, name)
            if record is None or record.principal_arn != owner.arn:
                raise not_found
        elif record is None or record.account_id != self.account_id:
            raise not_found
        elif self._store.get_principal_by_arn(record.principal_arn) is None:
            # The root's (admin) key, or an orphan: not a user's or role's key.
            raise IamError(
                "ValidationError",
                f"Access key {access_key_id} does not belong to a user or role; the account root's "
                "keys are managed by `strongroom serve`.",
            )
        if not self._store.delete_access_key(access_key_id):
            raise not_found

    # -- inline identity policies -------------------------------------------------------------------------
    def put_policy(self, kind: PrincipalKind, name: str, policy_name: str, document: str) -> None:
        """PutUserPolicy / PutRolePolicy: validate the document, then create or replace the policy."""
        principal = self.get_principal(kind, name)
        _check_name(policy_name, "policyName", _MAX_POLICY_NAME)
        validate_identity_policy(document)
        self._store.put_identity_policy(principal, policy_name, document)

    def get_policy(self, kind: PrincipalKind, name: str, policy_name: str) -> str:
        """GetUserPolicy / GetRolePolicy: the document as it was put."""
        principal = self.get_principal(kind, name)
        _check_name(policy_name, "policyName", _MAX_POLICY_NAME)
        for stored_name, document in self._store.list_identity_policies(principal):
            if stored_name == policy_name:
                return document
        raise self._no_such_policy(kind, policy_name)

    def list_policies(self, kind: PrincipalKind, name: str) -> list[str]:
        """ListUserPolicies / ListRolePolicies: policy names, sorted."""
        principal = self.get_principal(kind, name)
        return [policy_name for policy_name, _ in self._store.list_identity_policies(principal)]

    def delete_policy(self, kind: PrincipalKind, name: str, policy_name: str) -> None:
        """DeleteUserPolicy / DeleteRolePolicy."""
        principal = self.get_principal(kind, name)
        _check_name(policy_name, "policyName", _MAX_POLICY_NAME)
        if not self._store.delete_identity_policy(principal, policy_name):
            raise self._no_such_policy(kind, policy_name)

    # -- messages -----------------------------------------------------------------------------------------
    @staticmethod
    def _already_exists(kind: PrincipalKind, name: str) -> IamError:
        return IamError("EntityAlreadyExists", f"{_noun(kind).capitalize()} with name {name} already exists.")

    @staticmethod
    def _no_such_policy(kind: PrincipalKind, policy_name: str) -> IamError:
        return IamError("NoSuchEntity", f"The {_noun(kind)} policy with name {policy_name} cannot be found.")
