"""Restarts, deletion windows, key material at rest, and several workers sharing one data dir."""

from __future__ import annotations

import stat

from strongroom.keystore.file import FileRootOfTrust
from strongroom.service.keyring import material_context
from strongroom.storage.sqlite import SqliteStore
from tests.conftest import aws_error, start_server


def test_everything_survives_a_restart(tmp_path):
    data = tmp_path / "data"
    first = start_server(data)
    kms = first.client()
    key = kms.create_key(Description="persistent", Tags=[{"TagKey": "t", "TagValue": "v"}])["KeyMetadata"]
    disabled = kms.create_key()["KeyMetadata"]["KeyId"]
    pending = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/persistent", TargetKeyId=key["KeyId"])
    generated = kms.generate_data_key(
        KeyId="alias/persistent", KeySpec="AES_256", EncryptionContext={"c": "1"}
    )
    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before restart")["CiphertextBlob"]
    kms.disable_key(KeyId=disabled)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    assert first.stop() == 0

    second = start_server(data)
    try:
        kms = second.client()
        assert kms.describe_key(KeyId="alias/persistent")["KeyMetadata"] == key
        assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "t", "TagValue": "v"}]
        assert (
            kms.decrypt(CiphertextBlob=generated["CiphertextBlob"], EncryptionContext={"c": "1"})["Plaintext"]
            == (generated["Plaintext"])
        )
        assert kms.decrypt(CiphertextBlob=encrypted)["Plaintext"] == b"before restart"
        assert kms.describe_key(KeyId=disabled)["KeyMetadata"]["KeyState"] == "Disabled"
        assert kms.describe_key(KeyId=pending)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    finally:
        assert second.stop() == 0


def test_key_material_is_only_stored_wrapped(tmp_path):
    data = tmp_path / "data"
    server = start_server(data)
    key_ids = [server.client().create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
    assert server.stop() == 0
    assert stat.S_IMODE((data / "root.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    # White-box: unwrap each key's material with the root key, then look for those bytes on disk.
    root = FileRootOfTrust.load(data / "root.key")
    store = SqliteStore(data / "strongroom.db")
    secrets = []
    for key_id in key_ids:
        key = store.get_key("us-east-1", key_id)
        assert key is not None
        for material in store.get_materials("us-east-1", key_id):
            secrets.append(
                root.unwrap(material.wrapped, material_context(key, material.version, material.material_id))
            )
    store.close()
    assert len(secrets) == 3 and all(len(s) == 32 for s in secrets)
    root_key = (data / "root.key").read_bytes()[4:]
    for path in (p for p in data.rglob("*") if p.is_file()):  # the audit trail too
        content = path.read_bytes()
        for secret in secrets:
            assert secret not in content, path
            assert secret.hex().encode() not in content, path
        if path.name != "root.key":
            assert root_key not in content, path


def test_key_is_deleted_when_its_window_passes(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, "--dev")
    kms = server.client()
    doomed = kms.create_key()["KeyMetadata"]["KeyId"]
    kept = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=doomed)
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    kms.schedule_key_deletion(KeyId=kept, PendingWindowInDays=30)
    assert server.stop() == 0

    # Six days later: still pending.
    later = start_server(data, "--dev", "--clock-offset-days", "6")
    kms = later.client()
    assert kms.describe_key(KeyId=doomed)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert later.stop() == 0

    # Eight days later: gone, with its alias; the 30-day key is still pending.
    later = start_server(data, "--dev", "--clock-offset-days", "8")
    try:
        kms = later.client()
        code, message, _ = aws_error(kms.describe_key, KeyId=doomed)
        assert code == "NotFoundException" and message.endswith(f"key/{doomed}' does not exist")
        assert [a["AliasName"] for a in kms.list_aliases()["Aliases"]] == []
        assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [kept]
        assert kms.describe_key(KeyId=kept)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    finally:
        assert later.stop() == 0
    store = SqliteStore(data / "strongroom.db")
    assert store.get_key("us-east-1", doomed) is None and store.get_materials("us-east-1", doomed) == []
    store.close()


def test_disable_takes_effect_on_every_worker(tmp_path):
    server = start_server(tmp_path / "data", "--workers", "2")
    try:
        setup = server.client()
        key_id = setup.create_key()["KeyMetadata"]["KeyId"]
        setup.create_alias(AliasName="alias/shared", TargetKeyId=key_id)
        # Warm both workers' caches: fresh clients open fresh connections, spread over the workers.
        clients = [server.client() for _ in range(16)]
        workers = set()
        for client in clients:
            response = client.generate_data_key(KeyId="alias/shared", KeySpec="AES_256")
            workers.add(response["ResponseMetadata"]["RequestId"].rsplit("-", 1)[0])
        assert len(workers) == 2, "both workers should have served requests"
        setup.disable_key(KeyId=key_id)
        for client in clients:
            assert (
                aws_error(client.generate_data_key, KeyId="alias/shared", KeySpec="AES_256")[0]
                == "DisabledException"
            )
        setup.enable_key(KeyId=key_id)
        other = setup.create_key()["KeyMetadata"]["KeyId"]
        setup.update_alias(AliasName="alias/shared", TargetKeyId=other)
        for client in clients:
            assert client.generate_data_key(KeyId="alias/shared", KeySpec="AES_256")["KeyId"].endswith(other)
    finally:
        assert server.stop() == 0
