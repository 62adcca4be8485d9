"""Envelope encryption throughput and peak memory: ``strongroom encrypt`` / ``decrypt`` on a large file,
next to the AWS Encryption SDK for Python on the same file, with ``openssl speed`` as the ceiling.

    python3 bench/envelope_throughput.py                  # 1 GiB, every case
    python3 bench/envelope_throughput.py --size-mib 256 --skip-esdk

It starts ``strongroom serve`` (fresh data dir, loopback), creates a KMS key, writes a file of random bytes,
then runs each case as its own process and measures it with ``wait4``: wall time, CPU time (user + system)
and peak RSS. Each output is checked against the input (outside the timing). The cases:

- ``strongroom encrypt`` with the signed default suite (0x0578) and with ``--no-sign`` (0x0478), 64 KiB
  frames, file to file;
- ``strongroom decrypt`` of each, file to file (frames are written to a temporary file that is renamed
  only once the signature verifies);
- ``strongroom decrypt`` of the signed file to stdout (nothing is released before the signature verifies:
  the ciphertext is verified while spooled to a temporary file, then decrypted from it);
- ``cp`` of the file, for what the file system alone costs on this machine;
- the library alone (``encrypt_stream`` from a generated source, ``decrypt_stream`` of a file), writing
  nothing: what the code costs without the file system;
- the AWS Encryption SDK for Python (``aws_encryption_sdk.EncryptionSDKClient.stream``) at its defaults
  (suite 0x0578, 4 KiB frames), encrypt and decrypt, through the same server.

MB is 10^6 bytes, as ``openssl speed`` counts. "CPU MB/s" is the size over the process's CPU time: the
figure for one core. The peak RSS includes the interpreter and its imports; "baseline" is the peak RSS of
a process that only imports the CLI, so the difference is what the data path itself holds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from loadgen.common import log
from loadgen.server import SpawnedServer, admin_account

REGION = "us-east-1"
ESDK_SCRIPT = """
import sys, botocore.session, aws_encryption_sdk as esdk
mode, key, source, destination = sys.argv[1:]
session = botocore.session.Session()
provider = esdk.StrictAwsKmsMasterKeyProvider(key_ids=[key], botocore_session=session)
client = esdk.EncryptionSDKClient(commitment_policy=esdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
with open(source, "rb") as src, open(destination, "wb") as dst:
    with client.stream(mode=mode, source=src, key_provider=provider) as stream:
        for chunk in stream:
            dst.write(chunk)
"""

LIBRARY_SCRIPT = """
import io, os, sys, botocore.session
from strongroom.envelope import DecryptOptions, decrypt_stream, encrypt_stream
mode, key, suite, path, size = sys.argv[1:6]
signed, size = suite == "signed", int(size)
kms = botocore.session.Session().create_client("kms")

class Repeating(io.RawIOBase):  # size bytes of 1 MiB of random data, over and over: no file to read
    block, left = os.urandom(1 << 20), size
    def readable(self): return True
    def readinto(self, buffer):
        count = min(len(buffer), self.left, len(self.block))
        buffer[:count] = self.block[:count]
        self.left -= count
        return count

class Discard(io.RawIOBase):  # no file to write
    def writable(self): return True
    def write(self, data): return len(data)

if mode == "encrypt":
    encrypt_stream(kms, [key], io.BufferedReader(Repeating(), 1 << 20), Discard(), signed=signed)
else:
    with open(path, "rb") as source:
        decrypt_stream(kms, source, Discard(), DecryptOptions(key_ids=[key], release_unverified=True))
"""


@dataclass(frozen=True)
class Measured:
    label: str
    wall: float
    cpu: float
    max_rss_kib: int


def run_measured(label: str, command: list[str], env: dict[str, str], stdout: Path | None = None) -> Measured:
    """Run ``command`` and measure it with ``wait4``.

    Linux counts the parent's resident set at the fork into the child's peak RSS, so this process keeps
    its own memory small (no large buffers, no botocore) for the children's peaks to be their own."""
    with open(stdout or os.devnull, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{label} failed ({process.returncode}):\n{errors}")
    return Measured(label, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_random_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, 1 << 20))
            handle.write(chunk)
            remaining -= len(chunk)


def openssl_speed(algorithm: list[str]) -> float | None:
    """MB/s for 64 KiB blocks, from ``openssl speed`` (None if openssl is missing)."""
    if shutil.which("openssl") is None:
        return None
    result = subprocess.run(
        ["openssl", "speed", "-seconds", "3", "-bytes", "65536", *algorithm], capture_output=True, text=True
    )
    numbers = re.findall(r"([\d.]+)k\s*$", result.stdout, re.MULTILINE)
    return float(numbers[-1]) / 1000 if numbers else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="input size in MiB [1024]")
    parser.add_argument("--frame-size", type=int, default=65536, help="strongroom's frame size [65536]")
    parser.add_argument("--skip-esdk", action="store_true", help="leave out the AWS Encryption SDK cases")
    parser.add_argument(
        "--dir", type=Path, help="where to write the files, e.g. /dev/shm to leave the disk out [$TMPDIR]"
    )
    settings = parser.parse_args()
    size = settings.size_mib * 1024 * 1024
    scratch = Path(tempfile.mkdtemp(prefix="strongroom-envelope-bench-", dir=settings.dir))
    server = SpawnedServer(1, admin_account(REGION), 60.0, [])
    try:
        server.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
            "TMPDIR": str(scratch),  # where decryption to stdout spools the ciphertext
            "AWS_ACCESS_KEY_ID": server.account.access_key,
            "AWS_SECRET_ACCESS_KEY": server.account.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_KMS": server.endpoint,
        }
        key = create_key(env)
        log(f"writing {settings.size_mib} MiB of random bytes to {scratch}")
        source = scratch / "input"
        write_random_file(source, size)
        expected = sha256_of(source)
        results = run_cases(settings, env, key, scratch, source, expected)
        baseline = run_measured("baseline", [sys.executable, "-c", "import strongroom.cli.main"], env)
        print_report(settings, size, results, baseline, scratch)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def create_key(env: dict[str, str]) -> str:
    """A new KMS key's ARN, made by a child process so that this one stays small (see ``run_measured``)."""
    script = (
        "import botocore.session; kms = botocore.session.Session().create_client('kms'); "
        "print(kms.create_key(Description='envelope benchmark')['KeyMetadata']['Arn'])"
    )
    return subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def run_cases(
    settings: argparse.Namespace, env: dict[str, str], key: str, scratch: Path, source: Path, expected: str
) -> list[Measured]:
    strongroom = [sys.executable, "-m", "strongroom.cli.main"]
    frame = ["--frame-size", str(settings.frame_size), "--no-progress"]
    results = []

    def case(label: str, command: list[str], output: Path, stdout: Path | None = None) -> None:
        log(f"running: {label}")
        results.append(run_measured(label, command, env, stdout))
        if ("decrypt" in label or label.startswith("cp")) and sha256_of(output) != expected:
            raise SystemExit(f"{label}: the output differs from the input")

    copied = scratch / "copied"
    case("cp (what the file system costs)", ["cp", str(source), str(copied)], copied)
    copied.unlink()
    for signed in (True, False):
        tag = "signed 0x0578" if signed else "unsigned 0x0478"
        sealed, opened = scratch / f"sealed-{signed}", scratch / f"opened-{signed}"
        sign = [] if signed else ["--no-sign"]
        encrypt = [*strongroom, "encrypt", "--key", key, *frame, *sign, str(source), "-o", str(sealed)]
        case(f"strongroom encrypt, {tag}", encrypt, sealed)
        decrypt = [*strongroom, "decrypt", "--key", key, "--no-progress", str(sealed)]
        case(f"strongroom decrypt, {tag}", [*decrypt, "-o", str(opened)], opened)
        opened.unlink()
        if signed:
            piped = scratch / "piped"
            case(f"strongroom decrypt to stdout, {tag}", [*decrypt, "-o", "-"], piped, stdout=piped)
            piped.unlink()
        sealed.unlink()
    for signed in ("signed", "unsigned"):  # the library alone: no file written, none read for encryption
        case(
            f"library encrypt_stream, no files, {signed}",
            [sys.executable, "-c", LIBRARY_SCRIPT, "encrypt", key, signed, "-", str(settings.size_mib << 20)],
            source,
        )
        sealed = scratch / f"library-{signed}"
        sign = [] if signed == "signed" else ["--no-sign"]
        run_measured(
            "(setup)",
            [*strongroom, "encrypt", "--key", key, *frame, *sign, str(source), "-o", str(sealed)],
            env,
        )
        case(
            f"library decrypt_stream, to no file, {signed}",
            [sys.executable, "-c", LIBRARY_SCRIPT, "decrypt", key, signed, str(sealed), "0"],
            source,
        )
        sealed.unlink()
    if not settings.skip_esdk:
        sealed, opened = scratch / "esdk-sealed", scratch / "esdk-opened"
        case(
            "AWS Encryption SDK encrypt, 0x0578, 4 KiB frames",
            [sys.executable, "-c", ESDK_SCRIPT, "e", key, str(source), str(sealed)],
            sealed,
        )
        case(
            "AWS Encryption SDK decrypt, 0x0578, 4 KiB frames",
            [sys.executable, "-c", ESDK_SCRIPT, "d", key, str(sealed), str(opened)],
            opened,
        )
    return results


def print_report(
    settings: argparse.Namespace, size: int, results: list[Measured], baseline: Measured, scratch: Path
) -> None:
    aes = openssl_speed(["-evp", "aes-256-gcm"])
    sha = openssl_speed(["-evp", "sha384"])
    print(f"input: {settings.size_mib} MiB ({size / 1e6:,.0f} MB) in {scratch.parent}, ", end="")
    print(f"strongroom frame size {settings.frame_size}")
    columns = f"{'wall s':>7} {'MB/s':>7} {'CPU MB/s':>9} {'peak RSS MiB':>13} {'over baseline':>14}"
    print(f"{'case':<50} {columns}")
    for row in results:
        rss = row.max_rss_kib / 1024
        print(
            f"{row.label:<50} {row.wall:7.2f} {size / 1e6 / row.wall:7.0f} {size / 1e6 / row.cpu:9.0f} "
            f"{rss:13.1f} {rss - baseline.max_rss_kib / 1024:14.1f}"
        )
    print(f"baseline, python -c 'import strongroom.cli.main': peak RSS {baseline.max_rss_kib / 1024:.1f} MiB")
    if aes is not None:
        print(f"ceiling, openssl speed -evp aes-256-gcm (64 KiB blocks, one core): {aes:,.0f} MB/s")
    if sha is not None:
        print(f"ceiling of a signed suite, openssl speed sha384 (64 KiB blocks, one core): {sha:,.0f} MB/s")


if __name__ == "__main__":
    raise SystemExit(main())
