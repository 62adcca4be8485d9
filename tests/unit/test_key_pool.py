"""The RSA key pool: the first key of a spec is made inline, later ones come from the background thread,
and every key is handed out once."""

from __future__ import annotations

import itertools
import threading

from strongroom.domain.keys import KeySpec
from strongroom.service.key_pool import RsaKeyPool


def test_keys_come_from_the_background_after_the_first() -> None:
    counter = itertools.count()
    made_on: dict[bytes, str] = {}
    lock = threading.Lock()

    def generate(spec: KeySpec) -> bytes:
        with lock:
            key = f"{spec}-{next(counter)}".encode()
            made_on[key] = threading.current_thread().name
        return key

    pool = RsaKeyPool(generate, spare=3)
    first = pool.take(KeySpec.RSA_4096)
    assert made_on[first] == threading.current_thread().name  # nothing was ready: made inline
    assert pool.wait_until_full(KeySpec.RSA_4096, timeout=10)
    handed = [pool.take(KeySpec.RSA_4096) for _ in range(3)]
    assert all(made_on[key] == "rsa-key-pool" for key in handed)
    assert len({first, *handed}) == 4  # each key once
    assert pool.wait_until_full(KeySpec.RSA_4096, timeout=10)  # and it refills
    assert not pool.wait_until_full(KeySpec.RSA_2048, timeout=0.05)  # an unused spec is not filled
