"""The plugin loaded in-process the way the SDK loads it, for measurements without stdio.

Importing this module imports `dify_plugin` first, which monkey-patches sockets and threads for
gevent exactly as in the running plugin; every path a benchmark compares runs under that patch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import dify_plugin  # noqa: F401  - gevent's monkey-patching, before anything opens a socket
from dify_plugin.config.config import DifyPluginEnv
from dify_plugin.core.plugin_executor import PluginExecutor
from dify_plugin.core.plugin_registration import PluginRegistration
from dify_plugin.core.runtime import Session
from dify_plugin.core.server.__base.response_writer import ResponseWriter
from dify_plugin.entities.model import ModelType
from pydantic import BaseModel

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
PROVIDER = "togetherai"
API_KEY = "bench-key"


def credentials(base_url: str, **extra: Any) -> dict[str, Any]:
    """Provider credentials pointing at a local server."""
    return {"api_key": API_KEY, "endpoint_url": base_url, **extra}


@cache
def registration() -> PluginRegistration:
    """The provider and model classes, read from manifest and YAMLs as `python -m main` reads them."""
    os.chdir(PLUGIN_ROOT)  # the SDK resolves the manifest and YAML globs against the working directory
    return PluginRegistration(DifyPluginEnv(INSTALL_METHOD="local"))


def model_instance(model_type: ModelType) -> Any:
    """A new model object, as the SDK creates one for every request."""
    try:
        instance = registration().get_model_instance(PROVIDER, model_type)
    except KeyError:
        instance = None
    if instance is None:
        raise RuntimeError(f"the plugin registers no {model_type.value} model class")
    return instance


class DiscardingWriter(ResponseWriter):
    """The runtime's stdout writer, writing (and flushing, as it does) into /dev/null instead."""

    def __init__(self) -> None:
        self._sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process

    def write(self, data: str) -> None:
        self._sink.write(data)
        self._sink.flush()

    def done(self) -> None:
        pass


@cache
def executor() -> tuple[PluginExecutor, Session, DiscardingWriter]:
    """The SDK's executor with a session and a writer, as `Plugin._execute_request` uses them."""
    config = DifyPluginEnv(INSTALL_METHOD="local")
    return PluginExecutor(config, registration()), Session.empty_session(), DiscardingWriter()


def run_through_runtime(request: BaseModel, invoke: str) -> Iterator[BaseModel]:
    """Dispatch `request` to the executor's `invoke` method and write each message it yields as the
    runtime writes it to stdout (serialised, then discarded); yields the messages too."""
    plugin_executor, session, writer = executor()
    for message in getattr(plugin_executor, invoke)(session, request):
        writer.session_message(session_id="bench", data=writer.stream_object(data=message))
        yield message
