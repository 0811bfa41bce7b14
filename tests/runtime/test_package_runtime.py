"""The built .difypkg, unzipped as Dify installs it, starts under the SDK runtime and validates a key."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Reply
from tools.package import build
from tools.stdio_runtime import PLUGIN_ROOT, PluginProcess

MODELS = [{"id": "openai/gpt-oss-20b", "object": "model", "created": 1, "type": "chat"}]


def test_the_unzipped_package_starts_and_validates_credentials(
    tmp_path: Path, fake_together: FakeTogether
) -> None:
    unpacked = tmp_path / "installed"
    with zipfile.ZipFile(build(PLUGIN_ROOT, tmp_path / "dist")) as archive:
        archive.extractall(unpacked)
    fake_together.route("GET", "/models", Reply.json(MODELS))
    credentials = {"api_key": API_KEY, "endpoint_url": fake_together.base_url}

    with PluginProcess(root=unpacked) as plugin:  # start() waits for the first heartbeat
        stream = plugin.call("validate_provider_credentials", {"credentials": credentials}).ok()

    assert stream == [{"result": True, "credentials": credentials}]
    [request] = fake_together.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
