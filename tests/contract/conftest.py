"""The Together OpenAPI spec every contract test checks against, loaded once per session."""

from __future__ import annotations

import pytest

pytest.importorskip("jsonschema")

from tests.support.openapi import SPEC_PATH, OpenAPI


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    """The spec as validators; the tests that use it skip, saying where it was sought, without it."""
    if not SPEC_PATH.is_file():
        pytest.skip(f"Together's OpenAPI spec is not at {SPEC_PATH}; the contract tests need it")
    return OpenAPI.load()
