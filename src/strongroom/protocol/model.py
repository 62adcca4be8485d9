"""The AWS KMS service model that Strongroom implements, shipped inside the package.

``data/kms-2014-11-01.json.gz`` is botocore's ``service-2.json.gz`` for KMS, copied unmodified (its
version, checksum and Apache-2.0 license are in ``data/NOTICE``). Strongroom validates requests against
this copy, not against whatever botocore happens to be installed: a botocore upgrade brings new
operations and enum values that Strongroom would otherwise accept and then not know how to serve. Moving
to a newer model is a deliberate change (``tests/unit/test_shipped_model.py`` lists what a newer
installed botocore adds).

The file is read with ``gzip`` + ``json`` instead of ``botocore.session``: building a session loads the
endpoint, partition and retry data of every service and costs far more than the ~6 ms this takes, and the
server's start-up time matters (CLI invocations, test fixtures, worker processes).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any, cast

__all__ = ["KMS_MODEL_FILE", "ServiceModel", "compile_pattern", "load_kms_model"]

#: The shipped model: a package resource of ``strongroom.protocol``, in its ``data`` folder.
KMS_MODEL_FILE = "kms-2014-11-01.json.gz"

#: Java regex classes that Python's ``re`` lacks; ``\p{ASCII}`` is KMS's server-side KeyId pattern.
_JAVA_CLASSES = {
    "ASCII": r"\x00-\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0B\f\r",
}


class ServiceModel:
    """Read-only view of one botocore ``service-2.json`` document.

    Only the small part Strongroom needs is exposed: the operation and shape names and the shapes.
    Shapes are returned as the plain dictionaries of the JSON document (``{"type": "string", "max": 2048,
    ...}``); callers must not mutate them, because one model instance is shared process-wide.
    """

    __slots__ = ("_operations", "_shapes", "metadata", "operation_names", "shape_names")

    def __init__(self, document: Mapping[str, Any]) -> None:
        operations = document.get("operations")
        shapes = document.get("shapes")
        if not isinstance(operations, dict) or not isinstance(shapes, dict):
            raise ValueError("not a botocore service model: 'operations' and 'shapes' must be objects")
        self._operations: dict[str, dict[str, Any]] = operations
        self._shapes: dict[str, dict[str, Any]] = shapes
        self.metadata: dict[str, Any] = dict(document.get("metadata") or {})
        self.operation_names: frozenset[str] = frozenset(operations)
        self.shape_names: frozenset[str] = frozenset(shapes)

    @classmethod
    def from_bytes(cls, raw: bytes) -> ServiceModel:
        """Parse a ``service-2.json`` document, gzip-compressed or not."""
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return cls(cast(Mapping[str, Any], json.loads(raw)))

    def input_shape_name(self, operation: str) -> str | None:
        """Name of the operation's input structure, or ``None`` if it takes no input.

        Raises ``KeyError`` for an operation that is not in the model.
        """
        spec = self._operations[operation]
        ref = spec.get("input")
        return None if ref is None else cast(str, ref["shape"])

    def input_shape(self, operation: str) -> dict[str, Any] | None:
        """The operation's input structure shape, or ``None`` if it takes no input.

        Raises ``KeyError`` for an operation that is not in the model.
        """
        name = self.input_shape_name(operation)
        return None if name is None else self.shape(name)

    def secret_members(self, operation: str) -> frozenset[str]:
        """Names of the members, at any depth of the operation's request and response, that are blobs
        or marked sensitive: what an audit record never holds (CloudTrail logs neither)."""
        found: set[str] = set()
        seen: set[str] = set()
        spec = self._operations[operation]
        pending = [ref["shape"] for ref in (spec.get("input"), spec.get("output")) if ref]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            shape = self._shapes[name]
            if shape["type"] == "structure":
                for member, ref in shape.get("members", {}).items():
                    target = self._shapes[ref["shape"]]
                    if target["type"] == "blob" or target.get("sensitive") or ref.get("sensitive"):
                        found.add(member)
                    pending.append(ref["shape"])
            elif shape["type"] == "list":
                pending.append(shape["member"]["shape"])
            elif shape["type"] == "map":
                pending.append(shape["value"]["shape"])
        return frozenset(found)

    def shape(self, name: str) -> dict[str, Any]:
        """The shape called ``name``; ``KeyError`` if the model has none by that name."""
        return self._shapes[name]

    def __repr__(self) -> str:
        service = self.metadata.get("serviceId", "?")
        version = self.metadata.get("apiVersion", "?")
        return f"ServiceModel({service} {version}, {len(self.operation_names)} operations)"


@functools.cache
def load_kms_model() -> ServiceModel:
    """The process-wide KMS model (the shipped copy), loaded once on first use."""
    resource = resources.files("strongroom.protocol") / "data" / KMS_MODEL_FILE
    return ServiceModel.from_bytes(resource.read_bytes())


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model ``pattern`` (a Java regex: the service runs on Java) for Python's ``re``.

    Java's ``\\w``, ``\\d`` and ``\\s`` are ASCII-only, hence ``re.ASCII``; ``\\uXXXX`` escapes mean
    the same in both. The POSIX classes (``\\p{ASCII}`` ...) that ``re`` lacks are spelled out; any other
    ``\\p{..}`` raises ``KeyError``, so a model update that needs more fails loudly at compile time.
    Callers match with ``fullmatch``, like Java's ``Matcher.matches()``.
    """
    out: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        piece = pattern[i : i + 2] if pattern[i] == "\\" else pattern[i]
        if piece == "\\p" and pattern.startswith("{", i + 2):
            end = pattern.index("}", i)
            chars = _JAVA_CLASSES[pattern[i + 3 : end]]
            out.append(chars if in_class else f"[{chars}]")
            i = end + 1
            continue
        if piece in "[]":
            in_class = piece == "["
        out.append(piece)
        i += len(piece)
    return re.compile("".join(out), re.ASCII)
