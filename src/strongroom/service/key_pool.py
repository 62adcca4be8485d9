"""RSA private keys generated ahead of need, so that CreateKey and GenerateDataKeyPair do not stall a
worker's event loop.

Generating an RSA key takes 0.03 to 1 s (4096 bits: about 0.2 s on the development VM, with a long tail).
The handlers run on the event loop's thread, so every other request on that worker would wait that long.
OpenSSL releases the GIL while it generates, so a background thread can do it while the loop serves.
A spec's pool starts to fill at its first use (that first key is made inline) and is kept at
:data:`SPARE` keys. A key waits only in this process's memory, unwrapped, and is handed out once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

from strongroom.domain.keys import KeySpec

__all__ = ["SPARE", "RsaKeyPool"]

SPARE: Final = 2


class RsaKeyPool:
    def __init__(self, generate: Callable[[KeySpec], bytes], spare: int = SPARE) -> None:
        self._generate = generate
        self._spare = spare
        self._ready: dict[KeySpec, list[bytes]] = {}
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def take(self, spec: KeySpec) -> bytes:
        """A new private key (DER PKCS#8) of ``spec``: a spare one if there is one, else made now."""
        with self._condition:
            keys = self._ready.setdefault(spec, [])
            key = keys.pop() if keys else None
            self._start()
            self._condition.notify_all()
        return key if key is not None else self._generate(spec)

    def wait_until_full(self, spec: KeySpec, timeout: float) -> bool:
        """For tests: whether the pool of ``spec`` is full within ``timeout`` seconds."""
        with self._condition:
            return self._condition.wait_for(
                lambda: len(self._ready.get(spec, ())) >= self._spare, timeout=timeout
            )

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._fill, name="rsa-key-pool", daemon=True)
            self._thread.start()

    def _next_short(self) -> KeySpec | None:
        return next((spec for spec, keys in self._ready.items() if len(keys) < self._spare), None)

    def _fill(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._next_short() is not None)
                spec = self._next_short()
            assert spec is not None
            key = self._generate(spec)  # outside the lock; OpenSSL releases the GIL meanwhile
            with self._condition:
                self._ready[spec].append(key)
                self._condition.notify_all()
