"""Alias name rules of the domain layer (digest 7.5): the prefix, the reserved namespace, and no ``:`` in
a new name."""

from __future__ import annotations

import pytest

from strongroom.domain.aliases import validate_alias_name, validate_new_alias_name
from strongroom.errors import NotAuthorizedException, ValidationException


@pytest.mark.parametrize("name", ["alias/a", "alias/my-alias_/", "alias/A/b_c-9", "alias/" + "x" * 250])
def test_names_of_the_documented_characters_are_accepted(name: str) -> None:
    validate_new_alias_name(name)


@pytest.mark.parametrize("name", ["alias/my:alias", "alias/:", "alias/a:b:c"])
def test_a_colon_in_a_new_name_is_refused_with_aws_message(name: str) -> None:
    validate_alias_name(name)  # the checks shared with UpdateAlias/DeleteAlias let it through
    with pytest.raises(ValidationException) as info:
        validate_new_alias_name(name)
    assert info.value.message == f"{name} contains invalid characters for an alias"


def test_the_prefix_and_reserved_checks_come_first() -> None:
    with pytest.raises(ValidationException, match='must start with the prefix "alias/"'):
        validate_new_alias_name("arn:aws:kms:us-east-1:111122223333:alias/x")
    with pytest.raises(NotAuthorizedException):
        validate_new_alias_name("alias/aws/x:y")
