"""The ``strongroom`` command."""

from __future__ import annotations

import click

from strongroom import __version__
from strongroom.cli.audit import audit
from strongroom.cli.envelope import decrypt, encrypt
from strongroom.cli.iam import iam
from strongroom.cli.serve import serve

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="strongroom")
def cli() -> None:
    """Strongroom: a self-hosted key management service that speaks the AWS KMS API."""


cli.add_command(serve)
cli.add_command(iam)
cli.add_command(encrypt)
cli.add_command(decrypt)
cli.add_command(audit)


def main() -> None:
    cli(prog_name="strongroom")


if __name__ == "__main__":
    main()
