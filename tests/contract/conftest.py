"""The Together OpenAPI spec every contract test checks against, loaded once per session."""

from __future__ import annotations

import pytest

pytest.importorskip("jsonschema")

from tests.support.openapi import OpenAPI


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    """The spec as validators."""
    return OpenAPI.load()
