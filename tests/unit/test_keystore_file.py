"""The root key file: creation mode, refusal of loose permissions, wrap/unwrap tamper grid."""

from __future__ import annotations

import os
import stat

import pytest

from strongroom.keystore.base import WrappingError
from strongroom.keystore.file import FileRootOfTrust, RootKeyFileError


def test_create_is_0600_and_loads(tmp_path):
    path = tmp_path / "root.key"
    root = FileRootOfTrust.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size == 36
    wrapped = root.wrap(b"secret" * 6, b"ctx")
    assert FileRootOfTrust.load(path).unwrap(wrapped, b"ctx") == b"secret" * 6
    with pytest.raises(FileExistsError):
        FileRootOfTrust.create(path)


def test_refuses_group_readable_file(tmp_path):
    path = tmp_path / "root.key"
    FileRootOfTrust.create(path)
    os.chmod(path, 0o640)
    with pytest.raises(RootKeyFileError, match="chmod 600"):
        FileRootOfTrust.load(path)


def test_refuses_missing_or_malformed(tmp_path):
    with pytest.raises(RootKeyFileError, match="does not exist"):
        FileRootOfTrust.load(tmp_path / "none")
    bad = tmp_path / "bad"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"x" * 36)
    os.close(fd)
    with pytest.raises(RootKeyFileError, match="not a Strongroom root key file"):
        FileRootOfTrust.load(bad)


def test_wrap_tamper_grid(tmp_path):
    root = FileRootOfTrust(os.urandom(32))
    wrapped = root.wrap(b"k" * 32, b"key-a")
    assert wrapped != root.wrap(b"k" * 32, b"key-a"), "fresh nonce each time"
    for position in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[position] ^= 0x01
        with pytest.raises(WrappingError):
            root.unwrap(bytes(tampered), b"key-a")
    for length in range(len(wrapped)):
        with pytest.raises(WrappingError):
            root.unwrap(wrapped[:length], b"key-a")
    with pytest.raises(WrappingError):
        root.unwrap(wrapped, b"key-b")
    with pytest.raises(WrappingError, match="different root key"):
        FileRootOfTrust(os.urandom(32)).unwrap(wrapped, b"key-a")
