"""``strongroom encrypt`` and ``strongroom decrypt``: files, directories and pipes in the AWS Encryption SDK
message format, through any KMS endpoint (Strongroom or AWS KMS).

``IN`` and ``-o OUT`` may each be ``-`` (stdin, stdout), a file or a directory:

- a file to a file: ``OUT`` is written atomically (a hidden temporary file renamed at the end), so a
  failure leaves no partial file; a decrypted file is created with mode 0600;
- a file to an existing directory: ``OUT/<name>.encrypted`` (encrypt) or ``OUT/<name>`` without its
  ``.encrypted`` suffix, else with ``.decrypted`` (decrypt);
- a directory: every regular file below it, recursively, into the same relative paths below ``OUT``
  (created as needed), named as above. A failing file is reported and the others go on; the exit status
  is then 1.

Decrypting to stdout releases nothing from a signed message before its signature verifies (the
ciphertext is spooled to a private temporary file first).

Errors are one line on stderr (``strongroom decrypt: error: IN: ...``) and exit status 1; usage errors
exit with 2. The KMS client is botocore's: ``--endpoint-url``, ``--region`` and ``--profile`` as the AWS
CLI spells them, and otherwise the standard AWS environment variables and files (``AWS_ENDPOINT_URL_KMS``,
``AWS_REGION``, ``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``, ...).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import click

from strongroom.envelope import (
    DataKeyCache,
    DecryptOptions,
    EnvelopeError,
    decrypt_file,
    decrypt_stream,
    encrypt_file,
    encrypt_stream,
)
from strongroom.envelope.stream import (
    DEFAULT_FRAME_LENGTH,
    DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
    DEFAULT_MAX_FRAME_LENGTH,
)

__all__ = ["decrypt", "encrypt"]

ENCRYPTED_SUFFIX: Final = ".encrypted"
DECRYPTED_SUFFIX: Final = ".decrypted"
PROGRESS_THRESHOLD: Final = 8 * 1024 * 1024  # a bar only for inputs at least this large
EXIT_FAILED: Final = 1

Progress = Callable[[int], object]


class CommandFailed(click.ClickException):
    """A one-line failure, printed as ``strongroom <command>: error: <message>``."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        context = click.get_current_context(silent=True)
        self.command = context.command_path if context is not None else "strongroom"

    def show(self, file: Any = None) -> None:
        click.echo(f"{self.command}: error: {self.format_message()}", err=True)


# -- the KMS client ----------------------------------------------------------------------------------------
def _kms_client(endpoint_url: str | None, region: str | None, profile: str | None) -> Any:
    import botocore.exceptions
    import botocore.session

    try:
        session = botocore.session.Session(profile=profile)
        region = region or os.environ.get("AWS_REGION") or session.get_config_variable("region")
    except botocore.exceptions.ProfileNotFound as error:
        raise CommandFailed(str(error)) from None
    if not region:
        raise CommandFailed("No AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION.")
    try:
        return session.create_client("kms", region_name=region, endpoint_url=endpoint_url)
    except Exception as error:  # botocore: a malformed endpoint URL, an invalid region name
        raise CommandFailed(_describe(error)) from None


def _parse_context(_ctx: click.Context, _param: click.Parameter, pairs: Sequence[str]) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not of the form key=value")
        if name in context:
            raise click.BadParameter(f"the key {name!r} is given twice")
        context[name] = value
    return context


_COMMON_OPTIONS = [
    click.option(
        "--context",
        "context",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_parse_context,
        help="An encryption context pair (repeatable).",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar on stderr, plain lines where it is not a terminal "
        "(default: on a terminal, for inputs of 8 MiB or more).",
    ),
    click.option("--endpoint-url", metavar="URL", help="The KMS endpoint (else AWS_ENDPOINT_URL_KMS)."),
    click.option("--region", metavar="REGION", help="The AWS region (else AWS_REGION, the profile)."),
    click.option("--profile", metavar="NAME", help="A profile of the AWS config and credentials files."),
    click.argument("source", metavar="IN", type=click.Path(allow_dash=True, path_type=Path)),
    click.option(
        "-o",
        "--output",
        "output",
        required=True,
        metavar="OUT",
        type=click.Path(allow_dash=True, path_type=Path),
        help="Where to write: a file, a directory, or - for stdout.",
    ),
]


@dataclass(frozen=True, slots=True)
class _Common:
    """What both commands take: the context, the progress choice, the KMS client's options, IN and OUT."""

    context: dict[str, str]
    progress: bool | None
    endpoint_url: str | None
    region: str | None
    profile: str | None
    source: Path
    output: Path

    def kms(self) -> Any:
        return _kms_client(self.endpoint_url, self.region, self.profile)


def _common_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the shared options, and hand the command one :class:`_Common` (``common``) for them."""
    names = ("context", "progress", "endpoint_url", "region", "profile", "source", "output")

    @functools.wraps(command)
    def wrapped(**values: Any) -> None:
        common = _Common(**{name: values.pop(name) for name in names})
        command(common=common, **values)

    for option in reversed(_COMMON_OPTIONS):
        wrapped = option(wrapped)
    return wrapped


# -- what to do for which file -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Job:
    source: Path
    destination: Path


def _is_dash(path: Path) -> bool:
    return str(path) == "-"


def _output_name(name: str, encrypting: bool) -> str:
    if encrypting:
        return name + ENCRYPTED_SUFFIX
    if name.endswith(ENCRYPTED_SUFFIX) and len(name) > len(ENCRYPTED_SUFFIX):
        return name[: -len(ENCRYPTED_SUFFIX)]
    return name + DECRYPTED_SUFFIX


def _plan(source: Path, output: Path, encrypting: bool) -> list[_Job]:
    """The (input file, output file) pairs for a file or directory ``source``."""
    if source.is_dir():
        if output.exists() and not output.is_dir():
            raise CommandFailed(f"{source}: is a directory, so -o must be a directory, not {output}.")
        if _is_dash(output):
            raise CommandFailed(f"{source}: is a directory and cannot be written to stdout.")
        resolved_output = output.resolve()
        jobs = []
        for directory, subdirectories, files in os.walk(source):
            subdirectories.sort()
            here = Path(directory)
            if here.resolve() == resolved_output or resolved_output in here.resolve().parents:
                subdirectories.clear()
                continue
            for name in sorted(files):
                path = here / name
                if path.is_file():
                    relative = path.relative_to(source)
                    jobs.append(_Job(path, output / relative.parent / _output_name(name, encrypting)))
        return jobs
    if not source.exists():
        raise CommandFailed(f"{source}: no such file or directory.")
    if output.is_dir():
        return [_Job(source, output / _output_name(source.name, encrypting))]
    return [_Job(source, output)]  # a file, or a device such as /dev/null (written in place)


# -- progress ------------------------------------------------------------------------------------------
class _LineProgress:
    """``--progress`` where stderr is not a terminal (a log, a pipe): plain lines, no cursor movement, at
    most one per ``interval`` seconds, and a last one at the end."""

    def __init__(self, label: str, total: int | None, interval: float = 1.0) -> None:
        self._label, self._total, self._interval = label, total, interval
        self._done = 0
        self._said_at = time.monotonic()

    def advance(self, done: int) -> None:
        self._done += done
        if time.monotonic() - self._said_at >= self._interval:
            self.say()

    def say(self) -> None:
        self._said_at = time.monotonic()
        done = f"{self._done / 1e6:.1f}"
        if self._total:
            text = f"{done} of {self._total / 1e6:.1f} MB ({100 * self._done // self._total}%)"
        else:
            text = f"{done} MB"
        click.echo(f"{self._label}: {text}", err=True)


@contextmanager
def _progress_bar(enabled: bool | None, total: int | None, label: str) -> Iterator[Progress | None]:
    """A bar on stderr: by default only on a terminal and for large inputs; ``--progress`` shows it
    anyway (as plain lines where stderr is not a terminal), ``--no-progress`` never."""
    terminal = sys.stderr.isatty()
    show = enabled if enabled is not None else terminal and (total or 0) >= PROGRESS_THRESHOLD
    if not show:
        yield None
        return
    if not terminal:
        lines = _LineProgress(label, total)
        yield lines.advance
        lines.say()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.advance(task, done)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


# -- running the jobs ----------------------------------------------------------------------------------------
def _run(common: _Common, action: Callable[[_Job, Progress | None], None], encrypting: bool) -> None:
    source, output = common.source, common.output
    jobs = [_Job(source, output)] if _is_dash(source) else _plan(source, output, encrypting)
    total = sum(_size(job.source) or 0 for job in jobs)
    failures = 0
    with _progress_bar(common.progress, total, "Encrypting" if encrypting else "Decrypting") as advance:
        for job in jobs:
            try:
                if not _is_dash(job.destination):
                    _check_destination(job)
                action(job, advance)
            except CommandFailed as error:
                failures += 1
                _report(error.format_message())
            except (EnvelopeError, OSError) as error:
                failures += 1
                _report(f"{_label(job.source)}: {_describe(error)}")
    if failures:
        raise click.exceptions.Exit(EXIT_FAILED)


def _check_destination(job: _Job) -> None:
    from strongroom.envelope.files import is_special

    if is_special(job.destination):
        return
    if not _is_dash(job.source) and job.destination.exists() and job.destination.samefile(job.source):
        raise CommandFailed(f"{job.source}: the output would overwrite the input.")
    job.destination.parent.mkdir(parents=True, exist_ok=True)


def _report(message: str) -> None:
    context = click.get_current_context(silent=True)
    command = context.command_path if context is not None else "strongroom"
    click.echo(f"{command}: error: {message}", err=True)


def _label(path: Path) -> str:
    return "stdin" if _is_dash(path) else str(path)


def _describe(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    return " ".join(str(error).split())  # one line, whatever KMS said


@contextmanager
def _open_source(path: Path) -> Iterator[BinaryIO]:
    if _is_dash(path):
        yield sys.stdin.buffer
    else:
        with open(path, "rb", buffering=1024 * 1024) as handle:
            yield handle


# -- the commands ------------------------------------------------------------------------------------------
@click.command()
@click.option("--key", "keys", multiple=True, required=True, metavar="KEY", help="A KMS key (repeatable).")
@click.option(
    "--frame-size",
    type=click.IntRange(1, DEFAULT_MAX_FRAME_LENGTH),
    default=DEFAULT_FRAME_LENGTH,
    show_default=True,
    help="Plaintext bytes per frame.",
)
@click.option("--no-sign", is_flag=True, help="Use the unsigned committing suite (0x0478) instead of 0x0578.")
@click.option(
    "--cache-max-age",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Reuse a data key across files for up to this long (off by default).",
)
@click.option(
    "--cache-max-messages",
    type=click.IntRange(1, 2**32),
    default=1000,
    show_default=True,
    help="With --cache-max-age: files per data key.",
)
@_common_options
def encrypt(
    common: _Common,
    keys: tuple[str, ...],
    frame_size: int,
    no_sign: bool,
    cache_max_age: float | None,
    cache_max_messages: int,
) -> None:
    """Encrypt IN (a file, a directory, or - for stdin) into OUT, for any of the KMS keys."""
    kms, context = common.kms(), common.context
    cache = DataKeyCache(max_age=cache_max_age, max_messages=cache_max_messages) if cache_max_age else None
    settings: dict[str, Any] = {"frame_length": frame_size, "signed": not no_sign, "cache": cache}

    def action(job: _Job, advance: Progress | None) -> None:
        if _is_dash(job.source) or _is_dash(job.destination):
            with _open_source(job.source) as plaintext, _open_sink(job.destination) as (sink, _):
                encrypt_stream(kms, keys, plaintext, sink, context, progress=advance, **settings)
        else:
            encrypt_file(kms, keys, job.source, job.destination, context, progress=advance, **settings)

    _run(common, action, encrypting=True)


@click.command()
@click.option("--key", "keys", multiple=True, metavar="KEY", help="A trusted KMS key (repeatable); else any.")
@click.option(
    "--allow-non-committing", is_flag=True, help="Also decrypt message format 1 (non-committing suites)."
)
@click.option(
    "--max-encrypted-data-keys",
    type=click.IntRange(1, 65535),
    default=DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
    show_default=True,
    help="Refuse messages with more encrypted data keys.",
)
@_common_options
def decrypt(
    common: _Common, keys: tuple[str, ...], allow_non_committing: bool, max_encrypted_data_keys: int
) -> None:
    """Decrypt IN (a file, a directory, or - for stdin) into OUT.

    With --key, only encrypted data keys under those KMS keys are used (strict mode); without it, any
    KMS key the caller may use (discovery). --context pairs must all be in the message's context."""
    kms = common.kms()
    options = DecryptOptions(
        key_ids=_resolved(kms, keys) if keys else None,
        encryption_context=common.context,
        allow_non_committing=allow_non_committing,
        max_encrypted_data_keys=max_encrypted_data_keys,
    )

    def action(job: _Job, advance: Progress | None) -> None:
        if _is_dash(job.source) or _is_dash(job.destination):
            with _open_source(job.source) as message, _open_sink(job.destination) as (sink, atomic):
                # Into a file that appears only once everything verified, frames may go out at once;
                # into stdout or a device, nothing unverified may.
                chosen = dataclasses.replace(options, release_unverified=True) if atomic else options
                decrypt_stream(kms, message, sink, chosen, progress=advance)
        else:
            decrypt_file(kms, job.source, job.destination, options, progress=advance)

    _run(common, action, encrypting=False)


def _resolved(kms: Any, keys: Sequence[str]) -> tuple[str, ...]:
    """Key ARNs, resolved once for all the files rather than once per message."""
    from strongroom.envelope.materials import resolve_key_arns

    try:
        return tuple(sorted(resolve_key_arns(kms, keys)))
    except EnvelopeError as error:
        raise CommandFailed(_describe(error)) from None


@contextmanager
def _open_sink(path: Path) -> Iterator[tuple[BinaryIO, bool]]:
    """stdout, or a file (written atomically if it is a regular file); and whether it is atomic."""
    if _is_dash(path):
        yield sys.stdout.buffer, False
        sys.stdout.buffer.flush()
        return
    from strongroom.envelope.files import PLAINTEXT_MODE, open_output

    with open_output(path, PLAINTEXT_MODE) as (out, atomic):
        yield out, atomic
