"""One declaration per operation: its handler and every fact the rest of the server needs about it.

Each operations module ends with a ``DECLARATIONS`` tuple, next to its handlers; the registry
(:mod:`strongroom.operations.registry`) collects them into one :class:`Catalog`, and nothing else lists
operations. The catalog answers, for the edge, the audit trail and authorization:

- whether a call changes state (so it commits only once its record is durable, and CloudTrail marks it
  ``readOnly: false``), and whether it is a cryptographic use of a key (``GetKeyLastUsage`` counts those);
- which IAM actions it is authorized as (``ReEncrypt`` is ``ReEncryptFrom`` and ``ReEncryptTo``), and
  whether a principal of another account may perform them ("Cross-account use: Yes" in the API
  reference);
- which keys a grant may allow it on, and whether a grant's encryption-context constraints apply to it
  (they do not to ``DescribeKey``, ``GetPublicKey`` and ``RetireGrant``);
- which members of its request and response an audit record never holds: those the model makes blobs or
  marks sensitive, found by the catalog, and those its declaration adds (``GrantToken``).

Its request is typed: each handler takes its operation's ``TypedDict`` from
:mod:`strongroom.operations.requests`, generated from the shipped model.

Grant operations and IAM actions share their names (a grant names ``ReEncryptFrom``, not ``ReEncrypt``),
so the per-action facts are looked up by action name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, Flag, auto
from types import MappingProxyType
from typing import Final

from strongroom.domain.keys import KeySpec, KeyUsage, KmsKey
from strongroom.operations.context import Handler

__all__ = ["Access", "Catalog", "GrantKeys", "Operation", "grant_keys_of"]

#: Operations Strongroom does not implement are still recorded; AWS names its reads like this.
_READ_PREFIXES: Final = ("Describe", "Get", "List")


class Access(Enum):
    CHANGE = "change"  # changes state
    READ = "read"  # reads, and calls such as GenerateRandom that use no key
    CRYPTOGRAPHIC = "cryptographic"  # a cryptographic use of a key

    @property
    def read_only(self) -> bool:
        return self is not Access.CHANGE


class GrantKeys(Flag):
    """The kinds of key on which a grant may allow an operation (DG "Grant operations")."""

    NONE = 0
    SYMMETRIC = auto()  # SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT
    RSA_ENCRYPTION = auto()  # an asymmetric ENCRYPT_DECRYPT key
    SIGNING = auto()  # SIGN_VERIFY
    MAC = auto()  # GENERATE_VERIFY_MAC
    KEY_AGREEMENT = auto()  # KEY_AGREEMENT
    ENCAPSULATION = auto()  # ENCAPSULATE_DECAPSULATE (ML-KEM)
    ALL = SYMMETRIC | RSA_ENCRYPTION | SIGNING | MAC | KEY_AGREEMENT | ENCAPSULATION


_BY_USAGE: Final = {
    KeyUsage.ENCRYPT_DECRYPT: GrantKeys.RSA_ENCRYPTION,
    KeyUsage.SIGN_VERIFY: GrantKeys.SIGNING,
    KeyUsage.GENERATE_VERIFY_MAC: GrantKeys.MAC,
    KeyUsage.KEY_AGREEMENT: GrantKeys.KEY_AGREEMENT,
    KeyUsage.ENCAPSULATE_DECAPSULATE: GrantKeys.ENCAPSULATION,
}


def grant_keys_of(key: KmsKey) -> GrantKeys:
    """The kind of ``key``, as grants tell keys apart."""
    if key.key_spec is KeySpec.SYMMETRIC_DEFAULT and key.key_usage is KeyUsage.ENCRYPT_DECRYPT:
        return GrantKeys.SYMMETRIC
    return _BY_USAGE.get(key.key_usage, GrantKeys.NONE)


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    handler: Handler
    access: Access
    #: A principal of another account may perform it on a key (with both accounts' policies).
    cross_account: bool = False
    #: The keys on which a grant may allow it (NONE: no grant can).
    grant_keys: GrantKeys = GrantKeys.NONE
    #: Whether a grant's encryption-context constraints must hold for a grant to allow it.
    grant_constraints: bool = True
    #: The IAM actions (and grant operations) it is authorized as, when not just its name.
    actions: tuple[str, ...] = ()
    #: Members never recorded beyond the model's blobs and sensitive members (see Catalog).
    secret_members: frozenset[str] = frozenset()

    @property
    def iam_actions(self) -> tuple[str, ...]:
        return self.actions or (self.name,)


class Catalog:
    """Every declared operation, and the facts derived from them (computed once)."""

    def __init__(
        self,
        operations: Iterable[Operation],
        model_operations: Iterable[str] = (),
        model_secrets: Callable[[str], frozenset[str]] = lambda operation: frozenset(),
    ) -> None:
        """``model_operations`` and ``model_secrets``: the model's operations, and the members of each
        that are blobs or sensitive (:meth:`strongroom.protocol.model.ServiceModel.secret_members`)."""
        declared: dict[str, Operation] = {}
        for operation in operations:
            if operation.name in declared:
                raise ValueError(f"operation {operation.name} is declared twice")
            declared[operation.name] = operation
        self.operations: Mapping[str, Operation] = MappingProxyType(declared)
        self.handlers: Mapping[str, Handler] = MappingProxyType({n: o.handler for n, o in declared.items()})
        self.cryptographic: frozenset[str] = frozenset(
            n for n, o in declared.items() if o.access is Access.CRYPTOGRAPHIC
        )
        by_action = [(action, o) for o in declared.values() for action in o.iam_actions]
        self._cross_account = frozenset(action for action, o in by_action if o.cross_account)
        self._constraint_free = frozenset(action for action, o in by_action if not o.grant_constraints)
        self._secrets = {
            name: model_secrets(name) | (declared[name].secret_members if name in declared else frozenset())
            for name in {*model_operations, *declared}
        }
        self._grantable = {
            kind: frozenset(action for action, o in by_action if kind in o.grant_keys)
            for kind in (
                GrantKeys.SYMMETRIC,
                GrantKeys.RSA_ENCRYPTION,
                GrantKeys.SIGNING,
                GrantKeys.MAC,
                GrantKeys.KEY_AGREEMENT,
                GrantKeys.ENCAPSULATION,
            )
        }

    def is_read_only(self, name: str) -> bool:
        """Whether the call changes nothing; an operation Strongroom does not implement is judged by
        its name, as AWS names its reads."""
        operation = self.operations.get(name)
        if operation is None:
            return name.startswith(_READ_PREFIXES)
        return operation.access.read_only

    def secret_members(self, name: str) -> frozenset[str]:
        """The members of this operation's request and response that no audit record may hold."""
        return self._secrets.get(name, frozenset())

    def crosses_accounts(self, action: str) -> bool:
        """Whether a principal of another account may perform ``action`` (``Encrypt``) on a key."""
        return action in self._cross_account

    def grant_constraints_apply(self, action: str) -> bool:
        return action not in self._constraint_free

    def grant_operations(self, key: KmsKey) -> frozenset[str]:
        """The operations a grant on ``key`` may name."""
        return self._grantable.get(grant_keys_of(key), frozenset())
