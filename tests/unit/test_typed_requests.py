"""Every handler takes its operation's typed request, generated from the shipped model and up to date."""

from __future__ import annotations

import typing

from strongroom.operations import requests
from strongroom.operations.registry import CATALOG
from tools.generate_requests import TARGET, render


def test_the_generated_module_matches_the_shipped_model() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "run python3 tools/generate_requests.py"


def test_every_handler_takes_its_typed_request() -> None:
    for name, operation in CATALOG.operations.items():
        hints = typing.get_type_hints(operation.handler)
        assert hints["params"] is getattr(requests, f"{name}Request"), name


def test_required_members_are_required() -> None:
    assert requests.CreateAliasRequest.__required_keys__ == {"AliasName", "TargetKeyId"}
    assert "Description" in requests.CreateKeyRequest.__optional_keys__
