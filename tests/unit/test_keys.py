"""The KMS key state machine, usage checks and tag rules (pure domain)."""

from __future__ import annotations

import pytest

from strongroom.domain.keys import DAY, KeyState, KeyUsage, KmsKey, validate_pending_window
from strongroom.domain.tags import merge_tags, remove_tags
from strongroom.errors import (
    DisabledException,
    InvalidKeyUsageException,
    KMSInvalidStateException,
    TagException,
    ValidationException,
)

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def make(state: KeyState = KeyState.ENABLED) -> KmsKey:
    return KmsKey("1234abcd-12ab-34cd-56ef-1234567890ab", "111122223333", "us-east-1", 1000.0, state=state)


def message(error: pytest.ExceptionInfo[Exception]) -> str:
    return str(error.value)


def test_arn():
    assert make().arn == ARN


def test_usable_states():
    make().require_usable()
    make(KeyState.UPDATING).require_usable()
    with pytest.raises(DisabledException, match=f"^{ARN} is disabled.$"):
        make(KeyState.DISABLED).require_usable()
    for state, phrase in [
        (KeyState.PENDING_DELETION, "pending deletion"),
        (KeyState.PENDING_IMPORT, "pending import"),
        (KeyState.UNAVAILABLE, "unavailable"),
        (KeyState.CREATING, "creating"),
    ]:
        with pytest.raises(KMSInvalidStateException, match=f"^{ARN} is {phrase}.$"):
            make(state).require_usable()


def test_usage():
    make().require_usage(KeyUsage.ENCRYPT_DECRYPT, "Encrypt")
    with pytest.raises(
        InvalidKeyUsageException,
        match=f"^{ARN} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.$",
    ):
        make().require_usage(KeyUsage.GENERATE_VERIFY_MAC, "GenerateMac")


def test_transitions():
    key = make()
    assert key.disable().state is KeyState.DISABLED
    assert key.disable().enable().state is KeyState.ENABLED
    pending = key.schedule_deletion(now=5000.0, window_days=7)
    assert (pending.state, pending.deletion_date) == (KeyState.PENDING_DELETION, 5000.0 + 7 * DAY)
    assert key.state is KeyState.ENABLED, "transitions return a copy"
    with pytest.raises(KMSInvalidStateException, match="is pending deletion"):
        pending.schedule_deletion(now=0, window_days=7)
    for transition in (pending.enable, pending.disable):
        with pytest.raises(KMSInvalidStateException):
            transition()
    cancelled = pending.cancel_deletion()
    assert (cancelled.state, cancelled.deletion_date) == (KeyState.DISABLED, None)
    with pytest.raises(KMSInvalidStateException, match=f"^{ARN} is not pending deletion.$"):
        cancelled.cancel_deletion()


def test_expiry():
    pending = make().schedule_deletion(now=0.0, window_days=7)
    assert not pending.is_expired(7 * DAY - 1)
    assert pending.is_expired(7 * DAY)
    assert not make().is_expired(10**12)


@pytest.mark.parametrize(("days", "expected"), [(None, 30), (7, 7), (30, 30)])
def test_pending_window(days, expected):
    assert validate_pending_window(days) == expected


@pytest.mark.parametrize("days", [0, 6, 31, 365])
def test_pending_window_out_of_range(days):
    with pytest.raises(ValidationException, match="^PendingWindowInDays must be between 7 and 30$"):
        validate_pending_window(days)


def test_tag_merge_order_and_rules():
    merged = merge_tags((("a", "1"), ("b", "2")), [("c", "3"), ("a", "x")])
    assert merged == (("a", "x"), ("b", "2"), ("c", "3"))
    assert remove_tags(merged, ["b", "missing"]) == (("a", "x"), ("c", "3"))
    with pytest.raises(TagException, match="^Duplicate tag keys$"):
        merge_tags((), [("a", "1"), ("a", "2")])
    with pytest.raises(TagException, match="^Tags beginning with aws: are reserved$"):
        merge_tags((), [("Aws:x", "1")])
    full = tuple((f"k{i}", "v") for i in range(50))
    assert merge_tags(full, [("k1", "new")])[1] == ("k1", "new")
    with pytest.raises(TagException, match="^Too many tags$"):
        merge_tags(full, [("k50", "v")])
