"""Kenyan mobile numbers, normalised to the `2547XXXXXXXX` / `2541XXXXXXXX` form."""
import re

_PATTERN = re.compile(r"^(?:\+?254|0)?([71]\d{8})$")


def normalize_phone(raw: str) -> str | None:
    """`07…`, `01…`, `+254…`, `254…` (spaces and dashes allowed) → `254…`; None when invalid."""
    match = _PATTERN.match(re.sub(r"[\s-]", "", raw or ""))
    return f"254{match.group(1)}" if match else None
