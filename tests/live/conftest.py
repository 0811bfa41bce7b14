"""What the live tests share: the real API key, which never appears in pytest's output.

tests/conftest.py marks these tests `live` and skips them when TOGETHER_API_KEY is unset. Each
test makes one to three small real calls through a model class's public SDK method, so a
failure shows the `InvokeError` Dify would see.

The key is kept out of the output twice over: the credentials' `api_key` has a redacted repr
(pytest prints test arguments and assertion operands with repr), and any report text that still
contains the key (a plain copy of it as an argument in the client's frames, say) has it masked.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

MASK = "<TOGETHER_API_KEY>"


class Secret(str):
    """A string whose repr hides it; it is still sent as is, and `str()` of it is the plain key."""

    def __repr__(self) -> str:
        return repr(MASK)


@pytest.fixture
def live_credentials() -> dict[str, str]:
    """Credentials for the real API (`https://api.together.ai/v1`), a fresh dict per test."""
    return {"api_key": Secret(os.environ["TOGETHER_API_KEY"])}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Mask the key in a live test's failure report and captured output."""
    outcome = yield
    key = os.environ.get("TOGETHER_API_KEY", "").strip()
    if not key:
        return
    report = outcome.get_result()
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (*longrepr[:2], longrepr[2].replace(key, MASK))
    elif longrepr is not None and key in str(longrepr):
        report.longrepr = str(longrepr).replace(key, MASK)
    report.sections = [(title, text.replace(key, MASK)) for title, text in report.sections]
