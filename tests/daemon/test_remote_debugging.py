"""`make run` against the real daemon, as the README's remote-debugging steps go.

A clean clone of this repository gets a `.env` with a debugging key the daemon handed out for a tenant
of its own; `make run` connects, the daemon lists the plugin for that tenant and dispatches calls to
it; once `make run` stops, the daemon drops it. The clone runs with this test's virtual environment
(`VENV=`), whose set-up stamp `make` is told not to remake, so no dependency is installed again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.dify_api import PLUGIN_ID, DifyApi
from tests.daemon.services import Daemon
from tests.support.fake_together import FakeTogether, Reply
from tests.support.llm_fakes import chunk, usage
from tests.support.tts_audio import SPEECH_MP3

ROOT = Path(__file__).resolve().parents[2]
LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
KOKORO = "hexgrad/Kokoro-82M"
WAIT = 120  # seconds for the plugin to appear in, or vanish from, the daemon's list


def listed(dify: DifyApi) -> list[dict]:
    return [entry for entry in dify.models() if entry.get("plugin_id") == PLUGIN_ID]


def wait_until(condition, what: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"{what} within {WAIT} s; make run wrote:\n{log.read_text()[-3000:]}")


@pytest.fixture
def debugging_tenant(daemon: Daemon) -> Iterator[DifyApi]:
    api = DifyApi(daemon, tenant=str(uuid.uuid4()))
    yield api
    api.close()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clean clone of this repository's committed state."""
    target = tmp_path / "togetherai"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def test_make_run_is_listed_answers_and_is_dropped_when_stopped(
    daemon: Daemon,
    debugging_tenant: DifyApi,
    clone: Path,
    fake_together: FakeTogether,
    credentials: dict,
    tmp_path: Path,
) -> None:
    key = debugging_tenant.debugging_key()
    settings = {"INSTALL_METHOD": "remote", "REMOTE_INSTALL_URL": f"127.0.0.1:{daemon.debugging_port}"}
    settings["REMOTE_INSTALL_KEY"] = key
    (clone / ".env").write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    venv = Path(sys.prefix)
    log = tmp_path / "make-run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    with log.open("wb") as out:
        run = subprocess.Popen(
            ["make", "-o", str(venv / ".installed"), "run", f"VENV={venv}"],
            cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(lambda: listed(debugging_tenant), "the daemon did not list the plugin", log)
        [entry] = listed(debugging_tenant)
        assert entry["declaration"]["provider"] == "togetherai"

        events = [
            chunk({"content": "Hello"}, model=LLAMA),
            chunk({"content": " there."}, "stop", usage(5, 2), model=LLAMA),
        ]
        fake_together.route("POST", "/chat/completions", Reply.sse(events))
        fake_together.route("GET", "/voices", Reply.json({"data": []}))
        fake_together.route("POST", "/audio/speech", Reply(200, {"Content-Type": "audio/mpeg"}, SPEECH_MP3))
        fields = {
            "prompt_messages": [{"role": "user", "content": "Hi", "name": None}],
            "model_parameters": {},
        }
        stream = debugging_tenant.model(
            "llm/invoke", "llm", LLAMA, credentials, **fields, tools=[], stop=[], stream=True
        ).ok()
        speech = debugging_tenant.model(
            "tts/invoke",
            "tts",
            KOKORO,
            credentials,
            tenant_id=debugging_tenant.tenant,
            content_text="Hi.",
            voice="af_heart",
        ).ok()

        assert "".join(p["delta"]["message"]["content"] for p in stream) == "Hello there."
        assert b"".join(bytes.fromhex(p["result"]) for p in speech) == SPEECH_MP3
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(30)

    wait_until(lambda: not listed(debugging_tenant), "the daemon still lists the stopped plugin", log)
