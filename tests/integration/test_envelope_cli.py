"""``strongroom encrypt`` / ``strongroom decrypt`` against the real server: round trips for the sizes around a
frame and 10 MiB, pipes, directories, several keys, the AWS CLI's endpoint/region/profile options, one-line
errors that leave no partial output, the progress bar, and the data-key cache across files."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from strongroom.envelope.message import Header
from tests.conftest import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, REGION, RunningServer, aws_env

FRAME = 4096


@pytest.fixture(scope="module")
def keys(server: RunningServer) -> dict[str, str]:
    kms: Any = server.client()
    arns = [kms.create_key(Description=f"envelope cli {n}")["KeyMetadata"]["Arn"] for n in range(3)]
    alias = f"alias/envelope-cli-{os.getpid()}"
    kms.create_alias(AliasName=alias, TargetKeyId=arns[1])
    return {"first": arns[0], "second": arns[1], "second_alias": alias, "other": arns[2]}


@pytest.fixture
def env(server: RunningServer) -> dict[str, str]:
    return aws_env(server)


def strongroom(
    env: dict[str, str], *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    return result


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


@pytest.mark.parametrize("size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 10 * 1024 * 1024])
def test_file_round_trip(env: dict[str, str], keys: dict[str, str], tmp_path: Path, size: int) -> None:
    plaintext = os.urandom(size)
    (tmp_path / "in.bin").write_bytes(plaintext)
    ok(
        strongroom(
            env,
            "encrypt",
            "--key",
            keys["first"],
            "--context",
            "app=test",
            "--frame-size",
            str(FRAME),
            str(tmp_path / "in.bin"),
            "-o",
            str(tmp_path / "in.bin.encrypted"),
        )
    )
    message = (tmp_path / "in.bin.encrypted").read_bytes()
    header, _ = Header.parse(message)
    assert header.suite == 0x0578 and header.frame_length == FRAME
    assert header.encryption_context["app"] == "test"
    ok(
        strongroom(
            env,
            "decrypt",
            "--key",
            keys["first"],
            "--context",
            "app=test",
            str(tmp_path / "in.bin.encrypted"),
            "-o",
            str(tmp_path / "out.bin"),
        )
    )
    assert (tmp_path / "out.bin").read_bytes() == plaintext
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o600  # plaintext is for the owner only
    assert leftovers(tmp_path) == []


def test_unsigned_and_pipes(env: dict[str, str], keys: dict[str, str]) -> None:
    plaintext = os.urandom(3 * FRAME + 5)
    message = ok(
        strongroom(env, "encrypt", "--key", keys["first"], "--no-sign", "-", "-o", "-", stdin=plaintext)
    ).stdout
    assert Header.parse(message)[0].suite == 0x0478
    assert ok(strongroom(env, "decrypt", "-", "-o", "-", stdin=message)).stdout == plaintext
    signed = ok(strongroom(env, "encrypt", "--key", keys["first"], "-", "-o", "-", stdin=plaintext)).stdout
    assert ok(strongroom(env, "decrypt", "-", "-o", "-", stdin=signed)).stdout == plaintext
    tampered = signed[:-1] + bytes([signed[-1] ^ 1])  # the signature: stdout gets nothing at all
    result = strongroom(env, "decrypt", "-", "-o", "-", stdin=tampered)
    assert result.returncode == 1 and result.stdout == b""
    assert (
        result.stderr.decode() == "strongroom decrypt: error: stdin: The message signature does not verify.\n"
    )


def test_directories_recursively(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    tree = {
        "a.txt": b"alpha",
        "sub/b.bin": os.urandom(10_000),
        "sub/deeper/c": b"",
        "sub/deeper/d.txt": b"delta",
    }
    for name, data in tree.items():
        (tmp_path / "plain" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "plain" / name).write_bytes(data)
    ok(
        strongroom(
            env, "encrypt", "--key", keys["first"], str(tmp_path / "plain"), "-o", str(tmp_path / "sealed")
        )
    )
    sealed = sorted(
        str(p.relative_to(tmp_path / "sealed")) for p in (tmp_path / "sealed").rglob("*") if p.is_file()
    )
    assert sealed == sorted(name + ".encrypted" for name in tree)
    ok(strongroom(env, "decrypt", str(tmp_path / "sealed"), "-o", str(tmp_path / "back")))
    for name, data in tree.items():
        assert (tmp_path / "back" / name).read_bytes() == data
    # A single file into an existing directory takes the naming rule too.
    ok(strongroom(env, "decrypt", str(tmp_path / "sealed" / "a.txt.encrypted"), "-o", str(tmp_path)))
    assert (tmp_path / "a.txt").read_bytes() == b"alpha"


def test_several_keys_and_strict_mode(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"shared secret")
    ok(
        strongroom(
            env,
            "encrypt",
            "--key",
            keys["first"],
            "--key",
            keys["second_alias"],
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "in.enc"),
        )
    )
    header, _ = Header.parse((tmp_path / "in.enc").read_bytes())
    assert [edk.provider_info for edk in header.encrypted_data_keys] == [keys["first"], keys["second"]]
    for trusted in (keys["second_alias"], keys["second"], keys["first"]):
        ok(
            strongroom(
                env, "decrypt", "--key", trusted, str(tmp_path / "in.enc"), "-o", str(tmp_path / "out")
            )
        )
        assert (tmp_path / "out").read_bytes() == b"shared secret"


def test_errors_are_one_line_and_leave_nothing(
    env: dict[str, str], keys: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "in").write_bytes(os.urandom(5 * FRAME))
    ok(
        strongroom(
            env,
            "encrypt",
            "--key",
            keys["first"],
            "--context",
            "app=a",
            "--frame-size",
            str(FRAME),
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "good"),
        )
    )
    good = (tmp_path / "good").read_bytes()
    (tmp_path / "tampered").write_bytes(good[:-200] + bytes([good[-200] ^ 1]) + good[-199:])
    (tmp_path / "truncated").write_bytes(good[: len(good) // 2])
    (tmp_path / "notes.txt").write_bytes(b"just some text\n")
    cases = [
        (
            ["--key", keys["other"]],
            "good",
            "None of the message's encrypted data keys is under a trusted KMS key.",
        ),
        (
            ["--context", "app=b"],
            "good",
            "The message's encryption context does not match: 'app' is different.",
        ),
        ([], "tampered", "Frame 5 was tampered with (its tag does not verify)."),
        ([], "truncated", "The message is truncated."),
        ([], "notes.txt", "This is not an AWS Encryption SDK message."),
    ]
    (tmp_path / "existing").write_bytes(b"keep me")
    for options, source, message in cases:
        for output in ("fresh", "existing"):
            result = strongroom(
                env, "decrypt", *options, str(tmp_path / source), "-o", str(tmp_path / output)
            )
            assert result.returncode == 1
            assert result.stderr.decode() == f"strongroom decrypt: error: {tmp_path / source}: {message}\n"
            assert not (tmp_path / "fresh").exists()
            assert (tmp_path / "existing").read_bytes() == b"keep me"  # untouched on failure
            assert leftovers(tmp_path) == []
    denied = strongroom(
        env, "encrypt", "--key", "alias/does-not-exist", str(tmp_path / "in"), "-o", str(tmp_path / "x")
    )
    assert denied.returncode == 1 and not (tmp_path / "x").exists()
    assert denied.stderr.decode().startswith(
        f"strongroom encrypt: error: {tmp_path / 'in'}: An error occurred (NotFoundException)"
    )
    assert denied.stderr.count(b"\n") == 1


def test_usage_errors(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    assert strongroom(env, "encrypt", str(tmp_path), "-o", "-").returncode == 2  # --key is required
    assert strongroom(env, "encrypt", "--key", "k", "--context", "novalue", "-", "-o", "-").returncode == 2
    result = strongroom(
        env, "encrypt", "--key", keys["first"], str(tmp_path / "missing"), "-o", str(tmp_path / "o")
    )
    assert result.returncode == 1 and b"no such file" in result.stderr
    (tmp_path / "same").write_bytes(b"x")
    result = strongroom(
        env, "encrypt", "--key", keys["first"], str(tmp_path / "same"), "-o", str(tmp_path / "same")
    )
    assert result.returncode == 1 and b"would overwrite the input" in result.stderr
    assert (tmp_path / "same").read_bytes() == b"x"
    no_region = {k: v for k, v in env.items() if k != "AWS_DEFAULT_REGION"}
    result = strongroom(no_region, "encrypt", "--key", keys["first"], "-", "-o", "-", stdin=b"x")
    assert result.returncode == 1 and b"No AWS region" in result.stderr


def test_endpoint_region_and_profile_options(
    env: dict[str, str], keys: dict[str, str], server: RunningServer, tmp_path: Path
) -> None:
    bare = {k: v for k, v in env.items() if k not in ("AWS_ENDPOINT_URL_KMS", "AWS_DEFAULT_REGION")}
    flags = ["--endpoint-url", server.endpoint, "--region", REGION]
    message = ok(
        strongroom(bare, "encrypt", "--key", keys["first"], *flags, "-", "-o", "-", stdin=b"hi")
    ).stdout
    assert ok(strongroom(bare, "decrypt", *flags, "-", "-o", "-", stdin=message)).stdout == b"hi"
    (tmp_path / "credentials").write_text(
        f"[team]\naws_access_key_id = {ADMIN_ACCESS_KEY}\naws_secret_access_key = {ADMIN_SECRET_KEY}\n"
    )
    (tmp_path / "config").write_text(f"[profile team]\nregion = {REGION}\nendpoint_url = {server.endpoint}\n")
    profiled = {k: v for k, v in bare.items() if not k.startswith("AWS_")} | {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    assert (
        ok(strongroom(profiled, "decrypt", "--profile", "team", "-", "-o", "-", stdin=message)).stdout
        == b"hi"
    )
    result = strongroom(profiled, "decrypt", "--profile", "nobody", "-", "-o", "-", stdin=message)
    assert result.returncode == 1 and b"nobody" in result.stderr


def on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, bytes]:
    """Run ``strongroom ARGS`` with stderr on a pseudo-terminal; its exit status and what it showed."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "strongroom.cli.main", *args],
            env=env | {"COLUMNS": "100", "TERM": "xterm"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=terminal,
            timeout=120,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO once the terminal side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    return process.returncode, shown


def test_progress_bar_only_on_a_terminal(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(os.urandom(9 * 1024 * 1024))  # over the 8 MiB threshold
    piped = ok(
        strongroom(env, "encrypt", "--key", keys["first"], str(tmp_path / "big"), "-o", str(tmp_path / "a"))
    )
    assert piped.stderr == b""
    status, shown = on_a_terminal(
        env, "encrypt", "--key", keys["first"], str(tmp_path / "big"), "-o", str(tmp_path / "b")
    )
    assert status == 0
    assert b"Encrypting" in shown and b"MB" in shown


def test_progress_forced_and_suppressed(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    """``--progress`` shows it where stderr is not a terminal (as plain lines, whatever the size);
    ``--no-progress`` hides it even on a terminal."""
    (tmp_path / "small").write_bytes(b"x" * 3_000_000)
    forced = ok(
        strongroom(
            env,
            "encrypt",
            "--progress",
            "--key",
            keys["first"],
            str(tmp_path / "small"),
            "-o",
            str(tmp_path / "a"),
        )
    )
    assert forced.stderr.decode().splitlines()[-1] == "Encrypting: 3.0 of 3.0 MB (100%)"
    assert b"\x1b" not in forced.stderr  # no cursor movement or colour in a log
    message = (tmp_path / "a").read_bytes()
    piped = ok(strongroom(env, "decrypt", "--progress", "-", "-o", "-", stdin=message))
    assert piped.stdout == b"x" * 3_000_000
    assert piped.stderr.decode().splitlines()[-1].startswith("Decrypting: ")
    (tmp_path / "big").write_bytes(os.urandom(9 * 1024 * 1024))
    status, shown = on_a_terminal(
        env,
        "encrypt",
        "--no-progress",
        "--key",
        keys["first"],
        str(tmp_path / "big"),
        "-o",
        str(tmp_path / "b"),
    )
    assert status == 0 and shown == b""


def test_data_key_cache_across_files(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    for n in range(5):
        (tmp_path / "plain" / f"f{n}").parent.mkdir(exist_ok=True)
        (tmp_path / "plain" / f"f{n}").write_bytes(b"small %d" % n)
    ok(
        strongroom(
            env,
            "encrypt",
            "--key",
            keys["first"],
            "--cache-max-age",
            "60",
            "--cache-max-messages",
            "3",
            str(tmp_path / "plain"),
            "-o",
            str(tmp_path / "cached"),
        )
    )
    data_keys = [
        Header.parse((tmp_path / "cached" / f"f{n}.encrypted").read_bytes())[0].encrypted_data_keys
        for n in range(5)
    ]
    assert len(set(data_keys)) == 2  # three files, then two, per data key
    ok(
        strongroom(
            env, "encrypt", "--key", keys["first"], str(tmp_path / "plain"), "-o", str(tmp_path / "fresh")
        )
    )
    assert (
        len({Header.parse(p.read_bytes())[0].encrypted_data_keys for p in (tmp_path / "fresh").iterdir()})
        == 5
    )
    ok(strongroom(env, "decrypt", str(tmp_path / "cached"), "-o", str(tmp_path / "back")))
    assert sorted(p.read_bytes() for p in (tmp_path / "back").iterdir()) == [
        b"small %d" % n for n in range(5)
    ]


def test_devices_are_written_in_place(env: dict[str, str], keys: dict[str, str], tmp_path: Path) -> None:
    """``-o /dev/null`` must write to the device, not replace it with a file."""
    import stat

    (tmp_path / "in").write_bytes(os.urandom(FRAME * 3))
    ok(strongroom(env, "encrypt", "--key", keys["first"], str(tmp_path / "in"), "-o", "/dev/null"))
    ok(strongroom(env, "encrypt", "--key", keys["first"], str(tmp_path / "in"), "-o", str(tmp_path / "e")))
    ok(strongroom(env, "decrypt", str(tmp_path / "e"), "-o", "/dev/null"))
    ok(strongroom(env, "decrypt", "-", "-o", "/dev/null", stdin=(tmp_path / "e").read_bytes()))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
