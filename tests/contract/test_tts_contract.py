"""The text-to-speech requests the plugin sends, checked against Together's OpenAPI spec."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.fake_together import FakeTogether, Reply
from tests.support.openapi import OpenAPI
from tests.support.tts_audio import SPEECH_MP3, fresh_voice_cache, tts_model  # noqa: F401  (a fixture)

KOKORO = "hexgrad/Kokoro-82M"
ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"


# Each test starts with an empty live-voice cache.
pytestmark = pytest.mark.usefixtures("fresh_voice_cache")


@pytest.mark.parametrize(
    ("model", "voice"), [(KOKORO, "af_bella"), (ORPHEUS, "tara"), ("cartesia/sonic-3", "")]
)
def test_speech_requests_are_audio_speech_requests(
    openapi: OpenAPI, fake_together: FakeTogether, credentials: dict, model: str, voice: str
) -> None:
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))
    text = " ".join(["A sentence that is long enough to matter."] * 80)

    list(tts_model().invoke(model, "tenant", credentials, text, voice))

    bodies = [r.json() for r in fake_together.requests if r.path == "/v1/audio/speech"]
    assert len(bodies) > 1
    check = openapi.validator("AudioSpeechRequest", closed=True)
    for body in bodies:
        check.validate(body)
        assert body["response_format"] == "mp3"


def test_the_voices_answer_we_parse_is_a_list_voices_response(
    openapi: OpenAPI, fake_together: FakeTogether, credentials: dict
) -> None:
    answer = {"data": [{"model": KOKORO, "voices": [{"id": "v-1", "name": "af_heart"}]}]}
    openapi.validator("ListVoicesResponse").validate(answer)
    fake_together.route("GET", "/voices", Reply.json(answer))

    voices = tts_model().get_tts_model_voices(KOKORO, credentials, "")

    assert voices == [{"name": "Heart (US English, female)", "value": "af_heart"}]
    [request] = fake_together.requests
    assert (request.method, urlsplit(request.path).path) == ("GET", "/v1/voices")
    assert "get" in openapi.paths["/voices"]
    # The docs filter with `?model=`; the spec lists no parameters, so the answer is filtered too.
    assert parse_qs(urlsplit(request.path).query) == {"model": [KOKORO]}
