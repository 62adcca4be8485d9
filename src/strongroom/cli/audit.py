"""``strongroom audit verify | query | export``: the audit trail of a data dir, read in place.

They read the trail's files directly, so they need no running server and no credentials, and may run while
the server writes.

- ``verify`` checks the whole hash chain and reports the first broken or missing link (exit 1), or the
  number of intact records (exit 0). A last record cut short by a crash is reported, not counted as a
  break: it was never acknowledged.
- ``query`` prints the events that match the filters: a table on a terminal, JSON lines when piped.
- ``export`` writes the matching events as JSON lines (CloudTrail's event shape), for a SIEM.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from strongroom.audit.trail import EventFilter, select, verify
from strongroom.config import DataDir, default_data_dir

__all__ = ["audit"]

_F = TypeVar("_F", bound=Callable[..., Any])
EXIT_BROKEN = 1


def _trail_of(data_dir: Path | None) -> Path:
    trail = DataDir((data_dir or default_data_dir()).resolve()).audit
    if not trail.is_dir():
        raise click.ClickException(f"no audit trail in {trail.parent} (has the server run there?)")
    return trail


def _time(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("use ISO 8601, such as 2026-12-01T10:00:00Z or 2026-12-01") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _data_dir_option(command: _F) -> _F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory [default: $STRONGROOM_DATA_DIR or ~/.local/share/strongroom].",
    )(command)


def _filter_options(command: _F) -> _F:
    options = [
        click.option("--start-time", callback=_time, help="Events at or after this time (ISO 8601, UTC)."),
        click.option("--end-time", callback=_time, help="Events before this time."),
        click.option("--key", metavar="KEY", help="Events on this KMS key (key id or key ARN)."),
        click.option("--principal", metavar="ARN", help="Events by this principal (user, role or root ARN)."),
        click.option(
            "--event-name", "event_names", multiple=True, help="An operation, e.g. Decrypt (repeatable)."
        ),
        click.option(
            "--error-code",
            "error_codes",
            multiple=True,
            help="An error code, or - for successful calls (repeatable).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return _data_dir_option(command)


def _chosen(values: dict[str, Any]) -> EventFilter:
    return EventFilter(
        start=values["start_time"],
        end=values["end_time"],
        key=values["key"],
        principal=values["principal"],
        event_names=frozenset(values["event_names"]),
        error_codes=frozenset(values["error_codes"]),
    )


@click.group()
def audit() -> None:
    """Verify, query and export the audit trail."""


@audit.command("verify")
@_data_dir_option
def verify_command(data_dir: Path | None) -> None:
    """Check the hash chain of the whole trail."""
    report = verify(_trail_of(data_dir))
    if report.torn_tail:
        click.echo(f"note: {report.torn_tail}; it was never acknowledged", err=True)
    if not report.intact:
        click.echo(f"BROKEN after {report.records} intact records: {report.problem}")
        raise click.exceptions.Exit(EXIT_BROKEN)
    click.echo(f"OK: {report.records} records, chain intact")


def _row(event: dict[str, Any]) -> tuple[str, ...]:
    identity = event.get("userIdentity") or {}
    keys = ", ".join(r.get("ARN", "").rsplit("/", 1)[-1] for r in event.get("resources") or ())
    return (
        event.get("eventTime", ""),
        event.get("eventName", ""),
        identity.get("arn") or identity.get("accessKeyId") or "-",
        keys or "-",
        event.get("errorCode") or "-",
        event.get("requestID", ""),
    )


@audit.command("query")
@_filter_options
def query_command(data_dir: Path | None, **values: Any) -> None:
    """Print the matching events: a table on a terminal, JSON lines when piped."""
    events = select(_trail_of(data_dir), _chosen(values))
    if not sys.stdout.isatty():
        _write_lines(events, sys.stdout.buffer)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("time", "event", "principal", "key", "error", "request id")
    for event in events:
        table.add_row(*_row(event))
    Console().print(table)


@audit.command("export")
@_filter_options
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
def export_command(data_dir: Path | None, output: Path | None, **values: Any) -> None:
    """Write the matching events (all by default) as JSON lines."""
    events = select(_trail_of(data_dir), _chosen(values))
    if output is None:
        _write_lines(events, sys.stdout.buffer)
        return
    with open(output, "wb") as handle:
        _write_lines(events, handle)


def _write_lines(events: Iterator[dict[str, Any]], out: Any) -> None:
    for event in events:
        out.write(orjson.dumps(event) + b"\n")
    out.flush()
