"""The key repository over a real SQLite store: caching, cross-worker invalidation, deletion windows.

Two repositories on one database stand in for two worker processes; the epoch file is shared."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from strongroom.clock import FixedClock, SystemRandom
from strongroom.domain.aliases import Alias
from strongroom.domain.keys import DAY, KeyState, KmsKey
from strongroom.errors import NotFoundException
from strongroom.keystore.file import FileRootOfTrust
from strongroom.service.changes import CacheCoordinator, EpochFile
from strongroom.service.keyring import KeyRepository, Principal
from strongroom.storage.sqlite import SqliteStore

PRINCIPAL = Principal("111122223333", "us-east-1", "arn:aws:iam::111122223333:root")


@dataclass
class Worker:
    store: SqliteStore
    keys: KeyRepository
    coordinator: CacheCoordinator


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_800_000_000.0)


@pytest.fixture
def workers(tmp_path, clock):
    root = FileRootOfTrust(os.urandom(32))
    made = []
    for _ in range(2):
        store = SqliteStore(tmp_path / "db.sqlite")
        coordinator = CacheCoordinator(store, EpochFile(tmp_path / "epoch"))
        store.set_on_commit(coordinator.published)
        keys = KeyRepository(store, root, clock, SystemRandom())
        coordinator.subscribe(keys.on_change, keys.flush)
        made.append(Worker(store, keys, coordinator))
    yield made
    for worker in made:
        worker.store.close()


def create(worker: Worker, clock: FixedClock) -> KmsKey:
    key_id = f"1234abcd-12ab-34cd-56ef-{int(clock.now()):012x}"
    key = KmsKey(key_id, PRINCIPAL.account_id, PRINCIPAL.region, clock.now())
    material, wrapped = worker.keys.new_material(key, 1)
    key = key.changed(current_material=1, current_material_id=material.material_id)
    worker.keys.insert(key, wrapped)
    return key


def test_change_on_one_worker_is_seen_by_the_other(workers, clock):
    a, b = workers
    key = create(a, clock)
    b.coordinator.refresh()
    assert b.keys.resolve(PRINCIPAL, key.key_id).state is KeyState.ENABLED  # now cached in b
    a.keys.save(a.keys.resolve(PRINCIPAL, key.key_id).disable())
    assert b.keys.resolve(PRINCIPAL, key.key_id).state is KeyState.ENABLED, "b has not refreshed yet"
    b.coordinator.refresh()
    assert b.keys.resolve(PRINCIPAL, key.key_id).state is KeyState.DISABLED


def test_alias_changes_propagate(workers, clock):
    a, b = workers
    first = create(a, clock)
    clock.advance(1)
    second = create(a, clock)
    a.keys.insert_alias(Alias(PRINCIPAL.account_id, PRINCIPAL.region, "alias/x", first.key_id, 0.0, 0.0))
    b.coordinator.refresh()
    assert b.keys.resolve(PRINCIPAL, "alias/x").key_id == first.key_id
    a.keys.update_alias(Alias(PRINCIPAL.account_id, PRINCIPAL.region, "alias/x", second.key_id, 0.0, 1.0))
    b.coordinator.refresh()
    assert b.keys.resolve(PRINCIPAL, "alias/x").key_id == second.key_id
    a.keys.delete_alias(PRINCIPAL, "alias/x")
    b.coordinator.refresh()
    with pytest.raises(NotFoundException, match="is not found"):
        b.keys.resolve(PRINCIPAL, "alias/x")


def test_material_is_unwrapped_once_and_round_trips(workers, clock):
    a, b = workers
    key = create(a, clock)
    cipher = a.keys.cipher(key, 1)
    assert cipher is not None and a.keys.cipher(key, 1) is cipher
    assert a.keys.cipher(key, 2) is None
    blob = cipher.encrypt(b"data", b"\x00\x00", SystemRandom())
    other = b.keys.cipher(b.keys.resolve(PRINCIPAL, key.key_id), 1)
    assert other is not None and other.decrypt(blob, b"\x00\x00") == b"data"


def test_key_is_purged_exactly_when_its_window_passes(workers, clock):
    a, b = workers
    key = create(a, clock)
    a.keys.insert_alias(Alias(PRINCIPAL.account_id, PRINCIPAL.region, "alias/gone", key.key_id, 0.0, 0.0))
    a.keys.save(key.schedule_deletion(clock.now(), 7))
    clock.advance(7 * DAY - 1)
    assert a.keys.purge_expired() == 0
    assert b.keys.resolve(PRINCIPAL, key.key_id).state is KeyState.PENDING_DELETION
    clock.advance(1)
    with pytest.raises(NotFoundException, match="does not exist"):
        b.keys.resolve(PRINCIPAL, key.key_id)  # purged on sight
    assert a.store.get_materials(key.region, key.key_id) == []
    assert a.store.get_alias(PRINCIPAL.account_id, PRINCIPAL.region, "alias/gone") is None
    a.coordinator.refresh()
    with pytest.raises(NotFoundException):
        a.keys.resolve(PRINCIPAL, "alias/gone")


def test_sweep_purges_without_lookups(workers, clock):
    a, _ = workers
    key = create(a, clock)
    a.keys.save(key.schedule_deletion(clock.now(), 30))
    clock.advance(30 * DAY)
    assert a.keys.purge_expired() == 1
    assert a.store.get_key(key.region, key.key_id) is None
