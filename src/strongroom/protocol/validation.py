"""Model-driven request validation that answers like AWS's "Coral" framework.

Real KMS checks every request against its model before any handler runs: JSON type errors become a
``SerializationException``; constraint failures (required, length, range, enum, pattern) are collected over
the whole request into one ``ValidationException`` such as ``2 validation errors detected: <a>; <b>``
(digest section 1.5). SDK users see these texts, so they are reproduced to the letter where they are known.
The same pass base64-decodes every blob member, so handlers receive ``bytes``.

This runs on every request, so each operation's input shape is compiled once, on first use, into a tree of
small node objects holding precomputed limits, enum sets and compiled regexes. The happy path only does type
checks and comparisons; message strings are built only when something failed.

Serialization texts follow what kinesalite's test-suite recorded against real AWS (Coral, Kinesis):
``Start of list found where not expected``, ``class java.lang.String can not be converted to an Integer``,
``'x' can not be converted to a Blob: Invalid Base64 character: 'x'`` and so on, Coral's grammar included.
"""

from __future__ import annotations

import math
import threading
from binascii import a2b_base64
from typing import Any, Final

from strongroom.errors import SerializationException, UnknownOperationException, ValidationException
from strongroom.protocol.model import ServiceModel, compile_pattern

__all__ = ["RequestValidator"]

_LIST_HERE: Final = "Start of list found where not expected"
_OBJECT_HERE: Final = "Start of structure or map found where not expected."
_NUMBER_CLASS: Final = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_JAVA_CLASS: Final = {
    bool: "class java.lang.Boolean",
    str: "class java.lang.String",
    int: _NUMBER_CLASS,
    float: _NUMBER_CLASS,
}
#: Shown instead of a sensitive value in a SerializationException (the AWS Java SDK's own placeholder).
_REDACTED: Final = "*** Sensitive Data Redacted ***"
_B64_VALUE: Final = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def _render(value: Any) -> str:
    """A value as Java's ``toString`` shows it inside a Coral message."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):  # what Coral prints for a ByteBuffer member
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(map(_render, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_render(k)}={_render(v)}" for k, v in value.items()) + "}"
    return str(value)


def _null(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def _mismatch(value: Any, target: str) -> SerializationException:
    """Coral's text for a JSON value of the wrong type where a scalar was expected."""
    if isinstance(value, list):
        return SerializationException(_LIST_HERE)
    if isinstance(value, dict):
        return SerializationException(_OBJECT_HERE)
    java = _JAVA_CLASS.get(type(value), "class java.lang.Object")
    return SerializationException(f"{java} can not be converted to {target}")


def _base64_problem(text: str) -> str:
    """Why ``text`` is not canonical padded base64, in the words of Coral's decoder."""
    if len(text) % 4:
        return f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(text)}"
    body = text.rstrip("=")
    for char in body:
        if char not in _B64_VALUE:
            return f"Invalid Base64 character: '{char}'"
    if len(text) - len(body) > 2:
        return "Invalid Base64 character: '='"
    return "Invalid last non-pad Base64 character dectected"  # sic: Coral's spelling


def _b64decode(text: str, sensitive: bool) -> bytes:
    """Strict RFC 4648 decoding; unused low bits in the last character must be zero, as AWS demands."""
    if not len(text) & 3:
        try:
            data = a2b_base64(text, strict_mode=True)
        except ValueError:
            pass
        else:
            if text[-1:] != "=":
                return data
            if text[-2] != "=":
                if not _B64_VALUE.get(text[-2], 3) & 0x03:
                    return data
            elif not _B64_VALUE.get(text[-3], 15) & 0x0F:
                return data
    shown = _REDACTED if sensitive else text
    raise SerializationException(f"'{shown}' can not be converted to a Blob: {_base64_problem(text)}")


class _Node:
    """One compiled shape. ``convert`` type-checks and converts a JSON value, appending failure texts."""

    __slots__ = ("max", "min", "sensitive", "transforms")

    def __init__(self, shape: dict[str, Any], low: float = 0, high: float = math.inf) -> None:
        self.sensitive: bool = bool(shape.get("sensitive", False))
        self.min: float = shape.get("min", low)
        self.max: float = shape.get("max", high)
        self.transforms = False  # True when convert() may return something other than its input

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        raise NotImplementedError

    def _fail(self, value: Any, path: str, rule: str) -> str:
        shown = "" if self.sensitive else f" '{_render(value)}'"
        return f"Value{shown} at '{path}' failed to satisfy constraint: Member must {rule}"

    def _check_size(self, value: Any, size: int, path: str, errors: list[str], what: str = "length") -> None:
        if size < self.min:
            errors.append(self._fail(value, path, f"have {what} greater than or equal to {self.min}"))
        if size > self.max:
            errors.append(self._fail(value, path, f"have {what} less than or equal to {self.max}"))


class _String(_Node):
    __slots__ = ("enum", "enum_text", "pattern", "regex")

    def __init__(self, shape: dict[str, Any]) -> None:
        super().__init__(shape)
        values = shape.get("enum")
        self.enum = frozenset(values) if values else None
        self.enum_text = "[" + ", ".join(values) + "]" if values else ""
        self.pattern: str | None = shape.get("pattern")
        self.regex = compile_pattern(self.pattern) if self.pattern else None

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, str):
            raise _mismatch(value, "an String")
        size = len(value)
        if (
            size < self.min
            or size > self.max
            or (self.enum is not None and value not in self.enum)
            or (self.regex is not None and self.regex.fullmatch(value) is None)
        ):
            self._check_size(value, size, path, errors)
            if self.enum is not None and value not in self.enum:
                errors.append(self._fail(value, path, f"satisfy enum value set: {self.enum_text}"))
            if self.regex is not None and self.regex.fullmatch(value) is None:
                errors.append(self._fail(value, path, f"satisfy regular expression pattern: {self.pattern}"))
        return value


class _Blob(_Node):
    __slots__ = ()

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, str):
            raise _mismatch(value, "a Blob")
        data = _b64decode(value, self.sensitive)
        if not self.min <= len(data) <= self.max:
            self._check_size(data, len(data), path, errors)
        return data


class _Integer(_Node):
    __slots__ = ("target",)

    def __init__(self, shape: dict[str, Any]) -> None:
        super().__init__(shape, -math.inf)
        self.target = "an Long" if shape["type"] == "long" else "an Integer"

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if value.__class__ is not int:
            if isinstance(value, float) and math.isfinite(value):
                value = int(value)  # Coral's TruncatingBigNumber: a fraction is cut off, not refused
            elif isinstance(value, bool) or not isinstance(value, int):
                raise _mismatch(value, self.target)
        if not self.min <= value <= self.max:
            self._check_size(value, value, path, errors, "value")
        return value


class _Boolean(_Node):
    __slots__ = ()

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if value is True or value is False:
            return value
        if isinstance(value, str):
            raise SerializationException(f"'{value}' can not be converted to an Boolean")
        raise _mismatch(value, "an Boolean")


class _Timestamp(_Node):
    """JSON 1.1 timestamps travel as epoch seconds (a JSON number); kept as the number."""

    __slots__ = ()

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(value, "a Timestamp")
        return value


class _List(_Node):
    __slots__ = ("item",)
    item: _Node

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, list):
            raise SerializationException(_OBJECT_HERE if isinstance(value, dict) else "Expected list or null")
        if not self.min <= len(value) <= self.max:
            self._check_size(value, len(value), path, errors)
        item = self.item
        out: list[Any] | None = [] if self.transforms else None
        for index, element in enumerate(value, 1):
            where = f"{path}.{index}.member"
            if element is None:
                errors.append(_null(where))
            else:
                element = item.convert(element, where, errors)
            if out is not None:
                out.append(element)
        return value if out is None else out


class _Map(_Node):
    __slots__ = ("key", "value")
    key: _Node
    value: _Node

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            raise SerializationException(_LIST_HERE if isinstance(value, list) else "Expected map or null")
        if not self.min <= len(value) <= self.max:
            self._check_size(value, len(value), path, errors)
        out: dict[str, Any] | None = {} if self.transforms else None
        for key, item in value.items():
            where = f"{path}.{key}"
            self.key.convert(key, where, errors)
            if item is None:
                errors.append(_null(where))
            else:
                item = self.value.convert(item, where, errors)
            if out is not None:
                out[key] = item
        return value if out is None else out


class _PlainStringMap(_Map):
    """A map of unconstrained strings (every encryption context): one type check per value, no paths."""

    __slots__ = ()

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if value.__class__ is dict and self.min <= len(value) <= self.max:
            for item in value.values():
                if item.__class__ is not str:
                    break
            else:
                return value
        return super().convert(value, path, errors)


class _Structure(_Node):
    __slots__ = ("members", "ordered", "required")

    def __init__(self, shape: dict[str, Any]) -> None:
        super().__init__(shape)
        self.transforms = True  # always a new dict: unknown members are dropped
        self.members: dict[str, tuple[str, _Node]] = {}
        self.ordered: tuple[tuple[str, str, _Node, bool], ...] = ()
        self.required: tuple[tuple[str, str], ...] = ()

    def convert(self, value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            raise SerializationException(_LIST_HERE if isinstance(value, list) else "Expected null")
        mark, members = len(errors), self.members
        out: dict[str, Any] = {}
        for key, item in value.items():
            member = members.get(key)
            if member is None or item is None:  # unknown members are ignored; JSON null means absent
                continue
            camel, node = member
            out[key] = node.convert(item, f"{path}.{camel}" if path else camel, errors)
        for key, camel in self.required:
            if key not in out:
                errors.append(_null(f"{path}.{camel}" if path else camel))
        if len(errors) - mark > 1:  # rare: redo the failures in model order, as Coral lists them
            del errors[mark:]
            for key, camel, node, required in self.ordered:
                where, item = (f"{path}.{camel}" if path else camel), value.get(key)
                if item is not None:
                    node.convert(item, where, errors)
                elif required:
                    errors.append(_null(where))
        return out


class RequestValidator:
    """Validates and converts request bodies for every operation of one service model."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model
        self._roots: dict[str, _Node | None] = {}
        self._nodes: dict[str, _Node] = {}
        self._members: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def recordable(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` without the members the operation does not have: what an audit record may keep
        of a request, whether or not it validates."""
        members = self._members.get(operation)
        if members is None:
            shape = self._model.input_shape(operation) if operation in self._model.operation_names else None
            members = self._members[operation] = frozenset((shape or {}).get("members", ()))
        for name in params:
            if name not in members:
                return {k: v for k, v in params.items() if k in members}
        return params

    def validate(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Return a new dict of ``params`` with blobs decoded to ``bytes`` and unknown members dropped.

        Raises SerializationException for a wrong JSON type or bad base64, ValidationException listing every
        constraint failure, UnknownOperationException for an operation the model does not have.
        """
        root = self._roots.get(operation)
        if root is None:
            if operation in self._roots:
                return {}
            root = self._compile(operation)
            if root is None:
                return {}
        errors: list[str] = []
        out: dict[str, Any] = root.convert(params, "", errors)
        if errors:
            noun = "error" if len(errors) == 1 else "errors"
            raise ValidationException(f"{len(errors)} validation {noun} detected: {'; '.join(errors)}")
        return out

    def compile_all(self) -> None:
        """Compile every operation now (warm-up, and a self-check of the model in tests)."""
        for operation in sorted(self._model.operation_names):
            self._compile(operation)

    def _compile(self, operation: str) -> _Node | None:
        with self._lock:  # nodes become visible to other threads only when fully built
            if operation in self._roots:
                return self._roots[operation]
            if operation not in self._model.operation_names:
                raise UnknownOperationException()
            name = self._model.input_shape_name(operation)
            root = self._roots[operation] = None if name is None else self._node(name)
            return root

    def _node(self, name: str) -> _Node:
        node = self._nodes.get(name)
        if node is not None:
            return node
        shape = self._model.shape(name)
        kind = shape["type"]
        simple = {
            "string": _String,
            "blob": _Blob,
            "integer": _Integer,
            "long": _Integer,
            "boolean": _Boolean,
            "timestamp": _Timestamp,
        }.get(kind)
        if simple is not None:
            node = simple(shape)
            node.transforms = kind == "blob"
        elif kind == "structure":
            node = self._nodes[name] = _Structure(shape)  # registered first: shapes may recurse
            wanted = set(shape.get("required", ()))
            ordered = tuple(
                (key, key[:1].lower() + key[1:], self._node(ref["shape"]), key in wanted)
                for key, ref in shape.get("members", {}).items()
            )
            node.ordered = ordered
            node.members = {key: (camel, child) for key, camel, child, _ in ordered}
            node.required = tuple((key, camel) for key, camel, _, req in ordered if req)
        elif kind == "list":
            node = _List(shape)
            node.item = self._node(shape["member"]["shape"])
            node.transforms = node.item.transforms
        elif kind == "map":
            key, value = self._node(shape["key"]["shape"]), self._node(shape["value"]["shape"])
            plain = all(
                type(n) is _String and not n.min and n.max == math.inf and n.enum is None and n.regex is None
                for n in (key, value)
            )
            node = (_PlainStringMap if plain else _Map)(shape)
            node.key, node.value, node.transforms = key, value, value.transforms
        else:
            raise ValueError(f"shape {name}: unsupported type {kind!r}")
        self._nodes[name] = node
        return node
