"""Tag rules for KMS keys (digest 7.6): at most 50, no duplicates in a request, no ``aws:`` prefix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from strongroom.errors import TagException

__all__ = ["MAX_TAGS", "Tags", "merge_tags", "remove_tags", "validate_new_tags"]

MAX_TAGS = 50
Tags = tuple[tuple[str, str], ...]


def validate_new_tags(tags: Sequence[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for key, _ in tags:
        if key in seen:
            raise TagException("Duplicate tag keys")
        seen.add(key)
    for key, _ in tags:
        if key[:4].lower() == "aws:":
            raise TagException("Tags beginning with aws: are reserved")
    if len(tags) > MAX_TAGS:
        raise TagException("Too many tags")


def merge_tags(existing: Tags, new: Sequence[tuple[str, str]]) -> Tags:
    """Existing keys keep their place with the new value; new keys are appended (as AWS lists them)."""
    validate_new_tags(new)
    updates = dict(new)
    merged = [(k, updates.pop(k, v)) for k, v in existing]
    merged.extend((k, v) for k, v in new if k in updates)
    if len(merged) > MAX_TAGS:
        raise TagException("Too many tags")
    return tuple(merged)


def remove_tags(existing: Tags, keys: Iterable[str]) -> Tags:
    """Removing a key that is not there is a silent no-op, as in AWS."""
    doomed = set(keys)
    return tuple((k, v) for k, v in existing if k not in doomed)
