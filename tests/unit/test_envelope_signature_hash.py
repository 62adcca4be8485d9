"""SignatureHash: the same digest as hashlib, inline or on its worker thread, and no thread left behind."""

from __future__ import annotations

import hashlib
import threading

import pytest

from strongroom.envelope.signature_hash import INLINE_LIMIT, SignatureHash


@pytest.mark.parametrize("pieces", [0, 1, 7, INLINE_LIMIT // 1000 + 5, 5 * INLINE_LIMIT // 1000])
def test_digest_matches_hashlib(pieces: int) -> None:
    data = [bytes([n % 256]) * (1000 + n % 3) for n in range(pieces)]
    with SignatureHash(hashlib.sha384()) as ours:
        for piece in data:
            ours.update(piece)
        assert ours.digest() == hashlib.sha384(b"".join(data)).digest()


def test_the_worker_stops_when_the_block_is_left_early() -> None:
    before = threading.active_count()
    with pytest.raises(RuntimeError), SignatureHash(hashlib.sha256()) as ours:
        ours.update(bytes(3 * INLINE_LIMIT))
        assert threading.active_count() == before + 1  # large input: hashed on the worker
        raise RuntimeError("decryption failed half way")
    assert threading.active_count() == before
