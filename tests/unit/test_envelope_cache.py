"""The data-key cache: off by default, limits on age, messages and bytes, keys that separate requests."""

from __future__ import annotations

import pytest

from strongroom.envelope import DataKeyCache, decrypt_bytes, encrypt_bytes
from strongroom.envelope.message import Header
from tests.unit.envelope_fakes import FakeKms


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms("one", "two")


def data_key_ciphertext(message: bytes) -> bytes:
    return Header.parse(message)[0].encrypted_data_keys[0].ciphertext


def test_without_a_cache_every_message_gets_its_own_data_key(kms: FakeKms) -> None:
    messages = [encrypt_bytes(kms, [kms.arn("one")], b"x") for _ in range(3)]
    assert kms.calls["GenerateDataKey"] == 3
    assert len({data_key_ciphertext(m) for m in messages}) == 3


def test_message_limit(kms: FakeKms) -> None:
    cache = DataKeyCache(max_age=60, max_messages=3)
    messages = [encrypt_bytes(kms, [kms.arn("one")], b"x", {"a": "b"}, cache=cache) for _ in range(7)]
    assert kms.calls["GenerateDataKey"] == 3  # 3 + 3 + 1
    assert len({data_key_ciphertext(m) for m in messages}) == 3
    for message in messages:  # each message still has its own message id and decrypts alone
        assert decrypt_bytes(kms, message)[0] == b"x"
    assert len({Header.parse(m)[0].message_id for m in messages}) == 7


def test_byte_limit(kms: FakeKms) -> None:
    cache = DataKeyCache(max_age=60, max_bytes=100)
    for _ in range(4):
        encrypt_bytes(kms, [kms.arn("one")], b"x" * 40, cache=cache)
    assert kms.calls["GenerateDataKey"] == 2  # 40 + 40, then 40 would pass 100
    encrypt_bytes(kms, [kms.arn("one")], b"x" * 101, cache=cache)  # over the limit alone: never cached
    encrypt_bytes(kms, [kms.arn("one")], b"x" * 101, cache=cache)
    assert kms.calls["GenerateDataKey"] == 4


def test_age_limit() -> None:
    kms, clock = FakeKms("one"), FakeClock()
    cache = DataKeyCache(max_age=10, clock=clock)
    encrypt_bytes(kms, [kms.arn("one")], b"x", cache=cache)
    clock.now += 9.9
    encrypt_bytes(kms, [kms.arn("one")], b"x", cache=cache)
    assert kms.calls["GenerateDataKey"] == 1
    clock.now += 0.1
    encrypt_bytes(kms, [kms.arn("one")], b"x", cache=cache)
    assert kms.calls["GenerateDataKey"] == 2


def test_entries_are_keyed_by_keys_context_and_suite(kms: FakeKms) -> None:
    cache = DataKeyCache(max_age=60)
    encrypt_bytes(kms, [kms.arn("one")], b"x", {"a": "1"}, cache=cache)
    encrypt_bytes(kms, [kms.arn("one")], b"x", {"a": "2"}, cache=cache)
    encrypt_bytes(kms, [kms.arn("two")], b"x", {"a": "1"}, cache=cache)
    encrypt_bytes(kms, [kms.arn("one"), kms.arn("two")], b"x", {"a": "1"}, cache=cache)
    encrypt_bytes(kms, [kms.arn("one")], b"x", {"a": "1"}, signed=False, cache=cache)
    assert kms.calls["GenerateDataKey"] == 5 and len(cache) == 5


def test_decryption_cache(kms: FakeKms) -> None:
    clock = FakeClock()
    cache = DataKeyCache(max_age=10, clock=clock)
    message = encrypt_bytes(kms, [kms.arn("one")], b"x", {"a": "b"})
    for _ in range(5):
        assert decrypt_bytes(kms, message, cache=cache)[0] == b"x"
    assert kms.calls["Decrypt"] == 1
    decrypt_bytes(kms, message, key_ids=[kms.arn("one")], cache=cache)  # another trust setting: own entry
    assert kms.calls["Decrypt"] == 2
    clock.now += 10
    decrypt_bytes(kms, message, cache=cache)
    assert kms.calls["Decrypt"] == 3


def test_capacity_evicts_the_least_recently_used(kms: FakeKms) -> None:
    cache = DataKeyCache(max_age=60, capacity=2)
    for value in ("1", "2", "1", "3", "1", "2"):
        encrypt_bytes(kms, [kms.arn("one")], b"x", {"v": value}, cache=cache)
    assert kms.calls["GenerateDataKey"] == 4  # 1, 2, (1), 3 evicts 2, (1), 2 again
    assert len(cache) == 2


@pytest.mark.parametrize(
    "settings", [{"max_age": 0}, {"max_age": 1, "max_messages": 0}, {"max_age": 1, "capacity": 0}]
)
def test_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DataKeyCache(**settings)  # type: ignore[arg-type]
