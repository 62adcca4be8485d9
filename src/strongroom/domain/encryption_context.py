"""The one canonical byte encoding of an AWS KMS encryption context.

Why this exists
---------------
An encryption context is a map of non-secret string pairs that KMS binds to a ciphertext: Decrypt
succeeds only with exactly the same map. Strongroom enforces this cryptographically by feeding the map
into AES-GCM as associated data, and policy conditions (``kms:EncryptionContext:...``) will read the
same bytes. That only works if every map has exactly one encoding, and no two different maps share an
encoding. Naive joins are ambiguous (``{"a": "bc"}`` and ``{"ab": "c"}`` both give ``"abc"``); JSON
has several valid spellings of one map. So every string is length-prefixed and the pairs are sorted.

Layout (all integers unsigned 16-bit big-endian)::

    u16                       number of pairs N (0..65535)
    N times, sorted by the UTF-8 bytes of the key (bytewise, shorter prefix first):
        u16  len(key)         length of the UTF-8 key in bytes (0..65535)
        ...  key              the UTF-8 bytes of the key
        u16  len(value)       length of the UTF-8 value in bytes (0..65535)
        ...  value            the UTF-8 bytes of the value

``None`` and ``{}`` both encode as ``b"\\x00\\x00"``: KMS treats an absent context and an empty one as
the same thing. Sorting by UTF-8 bytes equals sorting by code point (it is *not* UTF-16 order), and
keys are compared case-sensitively, as KMS does.

A key or value longer than 65535 UTF-8 bytes, more than 65535 pairs, or a string that is not valid
Unicode (a lone surrogate, which cannot be encoded as UTF-8) raises
``ValidationException("Invalid EncryptionContext")``. The protocol layer enforces the much tighter
real KMS limits before this point; these checks only guarantee the encoding itself is total and
unambiguous.

This runs on every Encrypt, Decrypt and GenerateDataKey request, so the empty case returns a module
constant, a single pair skips the sort, and length overflow is detected by ``struct`` itself rather
than by separate comparisons.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Final

from strongroom.errors import ValidationException

__all__ = ["EMPTY_ENCRYPTION_CONTEXT", "canonical_encryption_context"]

#: The encoding of ``None`` and ``{}``: zero pairs.
EMPTY_ENCRYPTION_CONTEXT: Final = b"\x00\x00"

_ONE_PAIR: Final = b"\x00\x01"
# struct raises struct.error for a value outside 0..65535, which is exactly our length limit.
_pack_u16 = struct.Struct(">H").pack
_INVALID: Final = "Invalid EncryptionContext"


def canonical_encryption_context(context: Mapping[str, str] | None) -> bytes:
    """Encode ``context`` in the canonical layout described in the module docstring."""
    if not context:
        return EMPTY_ENCRYPTION_CONTEXT
    try:
        if len(context) == 1:
            for key, value in context.items():
                kb = key.encode()
                vb = value.encode()
                return _ONE_PAIR + _pack_u16(len(kb)) + kb + _pack_u16(len(vb)) + vb
        # Keys are unique and UTF-8 is injective, so the sort never needs to compare values.
        items = sorted([(key.encode(), value.encode()) for key, value in context.items()])
        parts = [_pack_u16(len(items))]
        for kb, vb in items:
            parts += (_pack_u16(len(kb)), kb, _pack_u16(len(vb)), vb)
    except (UnicodeEncodeError, AttributeError, struct.error):
        # UnicodeEncodeError: lone surrogate; AttributeError: a non-str slipped past the protocol
        # layer; struct.error: a length or the pair count exceeds 65535.
        raise ValidationException(_INVALID) from None
    return b"".join(parts)
