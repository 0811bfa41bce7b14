"""Reading the optional numeric fields of a customizable model's credential form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin.errors.model import InvokeBadRequestError


def whole_number(credentials: Mapping[str, Any], name: str, default: int, maximum: int | None = None) -> int:
    """The credential `name` as a whole number from 1 to `maximum`; `default` when absent or blank.

    Raises `InvokeBadRequestError` naming the field and the allowed range for anything else.
    """
    raw = credentials.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        allowed = f"from 1 to {maximum}" if maximum is not None else "of at least 1"
        raise InvokeBadRequestError(f"{name} must be a whole number {allowed}, got {raw!r}")
    return value
