"""Dify's API server's side of the daemon's inner API: install a package, dispatch model calls, read SSE.

The bodies are what Dify's API sends (`api/core/plugin/impl/model.py`): `{"user_id": ..., "data": ...}`
to `/plugin/{tenant}/dispatch/<type>/<action>` with `X-Api-Key` and `X-Plugin-ID`. Replies are
server-sent events, one `data: {"code", "message", "data"}` per payload. An error is `code != 0`
whose `message` is JSON `{message, error_type, args}`; for a plugin's own error that `message` is
the plugin's JSON `{message, error_type, args}` in turn, which Dify decodes the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.daemon.services import Daemon

PLUGIN_ID = "langgenius/togetherai"
PROVIDER = f"{PLUGIN_ID}/togetherai"  # the daemon's and Dify's full provider name
USER = "dify-user-1"


@dataclass
class Dispatched:
    """One dispatch call's reply: the payloads, the decoded error if it ended in one, the raw text."""

    stream: list[Any]
    error: dict[str, Any] | None
    raw: str = field(repr=False)

    def ok(self) -> list[Any]:
        assert self.error is None, f"the daemon relayed an error: {self.error}"
        return self.stream


def decode_error(message: str) -> dict[str, Any]:
    """The error Dify's API raises from an SSE error's `message` as Dify's `plugin/impl/base.py` reads it."""
    outer = json.loads(message)
    if outer.get("error_type") == "PluginInvokeError":
        try:
            inner = json.loads(outer["message"])
        except (TypeError, ValueError):
            return outer
        if isinstance(inner, dict) and "error_type" in inner:
            return inner
    return outer


class DifyApi:
    """The calls Dify's API server makes to one daemon for one tenant."""

    def __init__(self, daemon: Daemon, tenant: str | None = None) -> None:
        self.daemon = daemon
        self.tenant = tenant or daemon.tenant
        self.http = httpx.Client(
            base_url=f"{daemon.url}/plugin/{self.tenant}",
            headers={"X-Api-Key": daemon.key},
            timeout=httpx.Timeout(120, connect=10),
        )

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, (response.request.url, response.status_code, response.text[:2000])
        body = response.json()
        assert body["code"] == 0, body
        return body["data"]

    # --- management ---------------------------------------------------------------------------

    def install(self, package: Path, timeout: float = 600) -> str:
        """Upload and install `package` as Dify's plugin page does; returns its unique identifier."""
        uploaded = self._json(
            self.http.post(
                "/management/install/upload/package",
                files={"dify_pkg": (package.name, package.read_bytes(), "application/octet-stream")},
                data={"verify_signature": "false"},
            )
        )
        identifier = uploaded["unique_identifier"]
        started = self._json(
            self.http.post(
                "/management/install/identifiers",
                json={"plugin_unique_identifiers": [identifier], "source": "package", "metas": [{}]},
            )
        )
        task_id = started["task_id"]
        deadline = time.monotonic() + timeout
        while task_id and time.monotonic() < deadline:
            task = self._json(self.http.get(f"/management/install/tasks/{task_id}"))
            if task["status"] == "success":
                return identifier
            assert task["status"] != "failed", f"install failed: {task['plugins']}"
            time.sleep(1)
        assert not task_id, f"install did not finish within {timeout} s"
        return identifier

    def models(self) -> list[dict[str, Any]]:
        """The model providers installed for the tenant (`GET /management/models`)."""
        return self._json(self.http.get("/management/models", params={"page": 1, "page_size": 100}))

    def debugging_key(self) -> str:
        """A remote-debugging key for the tenant, as Dify's Plugins → Debug page shows it."""
        return self._json(self.http.post("/debugging/key"))["key"]

    # --- dispatch -----------------------------------------------------------------------------

    def dispatch(self, path: str, data: dict[str, Any], user_id: str | None = USER) -> Dispatched:
        """POST `data` to `/dispatch/<path>` and read the whole event stream."""
        body: dict[str, Any] = {"data": data}
        if user_id is not None:  # Dify leaves the field out when it has no user
            body["user_id"] = user_id
        with self.http.stream(
            "POST", f"/dispatch/{path}", json=body, headers={"X-Plugin-ID": PLUGIN_ID}
        ) as reply:
            raw = reply.read().decode()
        assert reply.status_code == 200, (path, reply.status_code, raw[:2000])
        stream: list[Any] = []
        error = None
        for line in raw.splitlines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            if event["code"] != 0:
                error = decode_error(event["message"])
                break
            stream.append(event["data"])
        return Dispatched(stream, error, raw)

    def model(self, path: str, model_type: str, model: str, credentials: dict, **fields: Any) -> Dispatched:
        """A model call: the provider, model type, model and credentials every model action carries."""
        data = {
            "provider": "togetherai",
            "model_type": model_type,
            "model": model,
            "credentials": credentials,
        }
        return self.dispatch(path, {**data, **fields})
