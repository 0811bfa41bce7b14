"""The built .difypkg, unzipped as Dify installs it, starts under the SDK runtime and validates a key."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Reply
from tools.stdio_runtime import PLUGIN_ROOT, PluginProcess

MODELS = [{"id": "openai/gpt-oss-20b", "object": "model", "created": 1, "type": "chat"}]


def built_package(out_dir: Path) -> Path:
    """The package under test: the one the official CI built (PLUGIN_FILE_PATH), else this tree's."""
    if os.environ.get("PLUGIN_FILE_PATH"):
        return Path(os.environ["PLUGIN_FILE_PATH"])
    pytest.importorskip("pathspec")  # tools.package reads .difyignore with it
    from tools.package import build

    return build(PLUGIN_ROOT, out_dir)


def test_the_unzipped_package_starts_and_validates_credentials(
    tmp_path: Path, fake_together: FakeTogether
) -> None:
    unpacked = tmp_path / "installed"
    with zipfile.ZipFile(built_package(tmp_path / "dist")) as archive:
        archive.extractall(unpacked)
    fake_together.route("GET", "/models", Reply.json(MODELS))
    credentials = {"api_key": API_KEY, "endpoint_url": fake_together.base_url}

    with PluginProcess(root=unpacked) as plugin:  # start() waits for the first heartbeat
        stream = plugin.call("validate_provider_credentials", {"credentials": credentials}).ok()

    assert stream == [{"result": True, "credentials": credentials}]
    [request] = fake_together.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
