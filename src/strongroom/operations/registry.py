"""The one table of operations: every family module's declarations, collected into one catalog.

Adding an operation touches its family module (the handler and its :class:`Operation` declaration) and,
for a new family, the tuple below; nothing else lists operations.
"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.operations import (
    aliases,
    asymmetric,
    crypto,
    custom_key_stores,
    grants,
    keys,
    policies,
    rotation,
    tags,
    usage,
)
from strongroom.operations.context import Handler
from strongroom.operations.declaration import Catalog
from strongroom.protocol.model import load_kms_model

__all__ = ["CATALOG", "OPERATIONS"]

_MODEL = load_kms_model()
CATALOG = Catalog(
    (
        declaration
        for family in (
            keys,
            usage,
            crypto,
            asymmetric,
            aliases,
            policies,
            grants,
            tags,
            custom_key_stores,
            rotation,
        )
        for declaration in family.DECLARATIONS
    ),
    _MODEL.operation_names,
    _MODEL.secret_members,
)

#: ``TrentService.<Operation>`` -> handler
OPERATIONS: Mapping[str, Handler] = CATALOG.handlers
