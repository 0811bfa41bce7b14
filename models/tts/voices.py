"""The voices a Together TTS model offers: the model's declared list, refreshed from `GET /voices`.

Together's `GET /voices?model=<id>` answers `{data: [{model, voices: [{id, name}]}]}`; `name` is
what `/audio/speech` takes as `voice`. The live list says which voices exist; the declared list
(model YAML or customizable-model credentials) adds human labels and languages. Live lists are
cached per process, so opening Dify's voice picker does not call Together every time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.errors.model import InvokeError, InvokeServerUnavailableError

from models.together.client import TogetherClient

LIVE_VOICES_TTL = 600.0  # seconds a fetched list is reused; voices change with model releases
FAILED_FETCH_TTL = 60.0  # seconds before a failed fetch is retried, so a broken network is not hit per click

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Voice:
    """One voice: `value` is Together's voice name, `label` what Dify shows."""

    value: str
    label: str
    languages: tuple[str, ...] = ()  # Dify language codes such as "en-US"; empty when unknown

    def as_dify(self) -> dict[str, str]:
        return {"name": self.label, "value": self.value}


def declared_voices(entries: Iterable[Mapping[str, Any]]) -> list[Voice]:
    """Voices from a schema's `voices` property (`[{mode, name, language: [...]}]`)."""
    return [
        Voice(str(entry["mode"]), str(entry.get("name") or entry["mode"]), tuple(entry.get("language") or ()))
        for entry in entries
    ]


def fetch_voice_names(client: TogetherClient, model: str) -> list[str]:
    """Together's voice names for `model`, in its order; empty when Together lists none for it.

    The model is also matched in the answer, since the spec does not declare the `model` filter.
    Raises an `InvokeError` when the call fails or the answer has an unexpected shape.
    """
    payload = client.get_json("/voices", params={"model": model})
    entries = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(entries, list):
        raise InvokeServerUnavailableError("Together AI answered GET /voices without a `data` list")
    names: dict[str, None] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("model") != model:
            continue
        for voice in entry.get("voices") or []:
            name = voice.get("name") if isinstance(voice, Mapping) else None
            if isinstance(name, str) and name:
                names[name] = None
    return list(names)


def merge_voices(declared: list[Voice], live: list[str] | None) -> list[Voice]:
    """The live voices, labelled from the declared ones; the declared list when there is no live one."""
    if not live:
        return declared
    known = {voice.value: voice for voice in declared}
    return [known.get(name) or Voice(name, name) for name in live]


def for_language(voices: list[Voice], language: str | None) -> list[Voice]:
    """The voices that speak `language`, keeping those whose languages are unknown; all when no language."""
    if not language:
        return voices
    return [voice for voice in voices if not voice.languages or language in voice.languages]


class LiveVoiceCache:
    """Live voice lists per (endpoint, API key, model), kept `ttl` seconds; failures kept `failure_ttl`."""

    def __init__(
        self,
        ttl: float = LIVE_VOICES_TTL,
        failure_ttl: float = FAILED_FETCH_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._clock = clock
        self._entries: dict[tuple[str, str, str], tuple[float, list[str] | None]] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: str, api_key: str, model: str, load: Callable[[], list[str]]) -> list[str] | None:
        """The cached list, else `load()`'s; None when `load` raised an `InvokeError` (the caller falls back).

        The key is hashed so that no API key is kept in memory beyond the request that carried it.
        """
        key = (endpoint, hashlib.sha256(api_key.encode()).hexdigest(), model)
        now = self._clock()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            names: list[str] | None = load()
        except InvokeError as exc:
            logger.warning("Listing Together voices for %s failed, using the declared ones: %s", model, exc)
            names = None
        expires = now + (self._ttl if names is not None else self._failure_ttl)
        with self._lock:
            # Expired entries go, so many tenants over a long uptime do not grow the cache for ever.
            self._entries = {k: entry for k, entry in self._entries.items() if entry[0] > now}
            self._entries[key] = (expires, names)
        return names


live_voice_cache = LiveVoiceCache()
