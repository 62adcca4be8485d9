"""`strongroom iam ...`: the AWS CLI's output shapes and errors, and a running server honouring changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from strongroom.bootstrap import initialize
from strongroom.config import DataDir
from tests.conftest import ACCOUNT_ID, aws_error, start_server

DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "UseKeys", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
}


def run_iam(
    data_dir: Path | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM_"))}
    location = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "iam", *args, *location],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, **(env or {})},
    )


def ok(data_dir: Path, *args: str) -> Any:
    """Run a command that must succeed; its parsed JSON output, or None if it printed nothing."""
    result = run_iam(data_dir, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    if not result.stdout:
        return None
    assert result.stdout.startswith("{\n    ") and result.stdout.endswith("}\n")  # 4-space indent
    return json.loads(result.stdout)


def fails(data_dir: Path, *args: str) -> str:
    """Run a command that IAM must refuse; the one line the AWS CLI would print on stderr."""
    result = run_iam(data_dir, *args)
    assert result.returncode == 254, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


def error(operation: str, code: str, message: str) -> str:
    return f"An error occurred ({code}) when calling the {operation} operation: {message}"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("STRONGROOM_ADMIN_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("STRONGROOM_ADMIN_SECRET_ACCESS_KEY", raising=False)
    directory = tmp_path / "data"
    initialize(DataDir(directory), ACCOUNT_ID)
    return directory


def test_users_access_keys_and_user_policies(data_dir: Path, tmp_path: Path) -> None:
    before = time.time()
    user = ok(data_dir, "create-user", "--user-name", "alice", "--path", "/team/")["User"]
    assert list(user) == ["Path", "UserName", "UserId", "Arn", "CreateDate"]
    assert user["Path"] == "/team/" and user["UserName"] == "alice"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/team/alice"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", user["UserId"])
    assert DATE.fullmatch(user["CreateDate"])
    assert ok(data_dir, "get-user", "--user-name", "alice") == {"User": user}
    assert ok(data_dir, "list-users") == {"Users": [user]}

    # Names are unique regardless of case, as in IAM.
    assert fails(data_dir, "create-user", "--user-name", "ALICE") == error(
        "CreateUser", "EntityAlreadyExists", "User with name ALICE already exists."
    )
    assert fails(data_dir, "get-user", "--user-name", "bob") == error(
        "GetUser", "NoSuchEntity", "The user with name bob cannot be found."
    )

    key = ok(data_dir, "create-access-key", "--user-name", "alice")["AccessKey"]
    assert list(key) == ["UserName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate"]
    assert key["UserName"] == "alice" and key["Status"] == "Active"
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"]) and len(key["SecretAccessKey"]) == 40
    assert (
        before - 1 <= time.mktime(time.strptime(key["CreateDate"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    )
    listed = ok(data_dir, "list-access-keys", "--user-name", "alice")
    assert listed == {"AccessKeyMetadata": [{k: v for k, v in key.items() if k != "SecretAccessKey"}]}
    # The secret is stored only wrapped under the root key.
    stored = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.name.startswith("strongroom.db"))
    assert key["SecretAccessKey"].encode() not in stored
    assert fails(data_dir, "delete-user", "--user-name", "alice") == error(
        "DeleteUser", "DeleteConflict", "Cannot delete entity, must delete access keys first."
    )
    assert (
        ok(data_dir, "delete-access-key", "--access-key-id", key["AccessKeyId"], "--user-name", "alice")
        is None
    )

    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(POLICY, indent=2))
    assert (
        ok(
            data_dir,
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "use-keys",
            "--policy-document",
            f"file://{policy_file}",
        )
        is None
    )
    assert ok(data_dir, "list-user-policies", "--user-name", "alice") == {"PolicyNames": ["use-keys"]}
    got = ok(data_dir, "get-user-policy", "--user-name", "alice", "--policy-name", "use-keys")
    assert got == {"UserName": "alice", "PolicyName": "use-keys", "PolicyDocument": POLICY}
    assert list(got) == ["UserName", "PolicyName", "PolicyDocument"]
    assert fails(data_dir, "delete-user", "--user-name", "alice") == error(
        "DeleteUser", "DeleteConflict", "Cannot delete entity, must delete policies first."
    )
    assert ok(data_dir, "delete-user-policy", "--user-name", "alice", "--policy-name", "use-keys") is None
    assert ok(data_dir, "delete-user", "--user-name", "alice") is None
    assert ok(data_dir, "list-users") == {"Users": []}


def test_policy_documents_are_validated(data_dir: Path, tmp_path: Path) -> None:
    ok(data_dir, "create-user", "--user-name", "bob")
    put = ("put-user-policy", "--user-name", "bob", "--policy-name", "p", "--policy-document")
    assert fails(data_dir, *put, '{"Statement": [') == error(
        "PutUserPolicy", "MalformedPolicyDocument", "This policy contains invalid Json"
    )
    with_principal = {
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]
    }
    assert fails(data_dir, *put, json.dumps(with_principal)) == error(
        "PutUserPolicy", "MalformedPolicyDocument", "Policy document should not specify a principal."
    )
    missing = run_iam(data_dir, *put, f"file://{tmp_path / 'missing.json'}")
    assert missing.returncode == 2 and "Unable to load paramfile file://" in missing.stderr
    assert ok(data_dir, "list-user-policies", "--user-name", "bob") == {"PolicyNames": []}
    assert fails(data_dir, "get-user-policy", "--user-name", "bob", "--policy-name", "p") == error(
        "GetUserPolicy", "NoSuchEntity", "The user policy with name p cannot be found."
    )
    assert fails(data_dir, "create-user", "--user-name", "no spaces") == error(
        "CreateUser",
        "ValidationError",
        "1 validation error detected: Value 'no spaces' at 'userName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
    )


def test_roles_with_access_keys_and_role_policies(data_dir: Path, tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text('{"Version": "2012-10-17", "Statement": []}')
    role = ok(
        data_dir, "create-role", "--role-name", "app", "--assume-role-policy-document", f"file://{trust}"
    )["Role"]
    assert list(role) == ["Path", "RoleName", "RoleId", "Arn", "CreateDate"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/app" and role["RoleId"].startswith("AROA")
    assert ok(data_dir, "list-roles") == {"Roles": [role]}
    assert fails(
        data_dir, "create-role", "--role-name", "other", "--assume-role-policy-document", "[]"
    ) == error("CreateRole", "MalformedPolicyDocument", "This policy contains invalid Json")

    first = ok(data_dir, "create-access-key", "--role-name", "app")["AccessKey"]
    assert list(first) == ["RoleName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate"]
    second = ok(data_dir, "create-access-key", "--role-name", "app")["AccessKey"]
    assert fails(data_dir, "create-access-key", "--role-name", "app") == error(
        "CreateAccessKey", "LimitExceeded", "Cannot exceed quota for AccessKeysPerRole: 2"
    )
    ids = {first["AccessKeyId"], second["AccessKeyId"]}
    listed = ok(data_dir, "list-access-keys", "--role-name", "app")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == ids and all(list(k)[0] == "RoleName" for k in listed)

    put = ("put-role-policy", "--role-name", "app", "--policy-name", "keys")
    assert ok(data_dir, *put, "--policy-document", json.dumps(POLICY)) is None
    assert ok(data_dir, "get-role-policy", "--role-name", "app", "--policy-name", "keys") == {
        "RoleName": "app",
        "PolicyName": "keys",
        "PolicyDocument": POLICY,
    }
    assert ok(data_dir, "list-role-policies", "--role-name", "app") == {"PolicyNames": ["keys"]}
    assert fails(data_dir, "delete-role", "--role-name", "app") == error(
        "DeleteRole", "DeleteConflict", "Cannot delete entity, must delete access keys first."
    )
    # Without a name, delete-access-key finds the key's owner; a wrong owner is "not found".
    assert fails(
        data_dir, "delete-access-key", "--access-key-id", first["AccessKeyId"], "--user-name", "x"
    ) == (error("DeleteAccessKey", "NoSuchEntity", "The user with name x cannot be found."))
    assert ok(data_dir, "delete-access-key", "--access-key-id", first["AccessKeyId"]) is None
    assert fails(data_dir, "delete-access-key", "--access-key-id", first["AccessKeyId"]) == error(
        "DeleteAccessKey", "NoSuchEntity", f"The Access Key with id {first['AccessKeyId']} cannot be found."
    )


def test_data_dir_must_be_initialized_and_of_the_account(data_dir: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    result = run_iam(None, "list-users", env={"STRONGROOM_DATA_DIR": str(fresh)})
    assert (
        result.returncode == 253
        and "is not initialized" in result.stderr
        and "strongroom serve" in result.stderr
    )
    assert not fresh.exists()


def test_account_id_names_the_account_whose_identities_are_managed(data_dir: Path) -> None:
    other = "444455556666"
    user = ok(data_dir, "create-user", "--user-name", "dave", "--account-id", other)["User"]
    assert user["Arn"] == f"arn:aws:iam::{other}:user/dave"
    assert ok(data_dir, "list-users", "--account-id", other) == {"Users": [user]}
    assert ok(data_dir, "list-users") == {"Users": []}  # the data dir's own account
    assert ok(data_dir, "list-users", "--account-id", ACCOUNT_ID) == {"Users": []}
    ok(data_dir, "create-user", "--user-name", "dave")  # same name, another account
    bad = run_iam(data_dir, "list-users", "--account-id", "12345")
    assert bad.returncode == 2 and "must be 12 digits" in bad.stderr


def test_running_server_honours_changes_without_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--account-id", ACCOUNT_ID)
    try:
        data_dir = server.data_dir
        ok(data_dir, "create-user", "--user-name", "carol", "--account-id", ACCOUNT_ID)
        key = ok(data_dir, "create-access-key", "--user-name", "carol")["AccessKey"]
        put = ("put-user-policy", "--user-name", "carol", "--policy-name", "kms")
        ok(data_dir, *put, "--policy-document", json.dumps(POLICY))
        carol = server.client(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
        deadline = time.monotonic() + 1.0
        while True:
            try:
                assert carol.list_keys()["Keys"] == []  # type: ignore[attr-defined]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        created = carol.create_key()["KeyMetadata"]  # type: ignore[attr-defined]
        assert created["AWSAccountId"] == ACCOUNT_ID

        # The server has the key cached now; deleting it must still take effect on the next request.
        assert ok(data_dir, "delete-access-key", "--access-key-id", key["AccessKeyId"]) is None
        code, _message, status = aws_error(carol.list_keys)  # type: ignore[attr-defined]
        assert (code, status) == ("UnrecognizedClientException", 400)
    finally:
        assert server.stop() == 0
