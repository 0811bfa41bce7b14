"""Text-to-speech against the scripted Together stand-in: voices, splitting, streaming, limits, errors."""

from __future__ import annotations

import binascii
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from dify_plugin.core.entities.message import SessionMessage
from dify_plugin.core.server.__base.writer_entities import Event, StreamOutputMessage
from dify_plugin.entities.model import ModelPropertyKey
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeServerUnavailableError,
)

from models.tts.speech import CHUNK_BYTES
from models.tts.voices import FAILED_FETCH_TTL, LIVE_VOICES_TTL, LiveVoiceCache
from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.tts_audio import (
    DAEMON_LINE_LIMIT,
    SPEECH_MP3,
    SPEECH_WAV,
    fresh_voice_cache,  # noqa: F401  (a fixture)
    is_mp3,
    mp3_of_size,
    tts_model,
)

ROOT = Path(__file__).resolve().parents[2]
KOKORO = "hexgrad/Kokoro-82M"
ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"
CUSTOM = "acme/dedicated-tts"
LIVE_VOICES = {
    "data": [
        {"model": KOKORO, "voices": [{"id": "k1", "name": "af_heart"}, {"id": "k2", "name": "af_brand_new"}]},
        {"model": ORPHEUS, "voices": [{"id": "o1", "name": "tara"}]},
    ]
}


# Each test starts with an empty live-voice cache.
pytestmark = pytest.mark.usefixtures("fresh_voice_cache")


def speech_requests(fake: FakeTogether) -> list[dict]:
    return [r.json() for r in fake.requests if r.path == "/v1/audio/speech"]


def voice_requests(fake: FakeTogether) -> list[Recorded]:
    return [r for r in fake.requests if urlsplit(r.path).path == "/v1/voices"]


def read_aloud(credentials: dict, text: str, voice: str = "", model: str = KOKORO) -> list[bytes]:
    """What Dify receives: the chunks of the SDK's public `invoke`."""
    return list(tts_model().invoke(model, "tenant", credentials, text, voice))


def stdout_line(chunk: bytes) -> bytes:
    """The exact line the SDK writes to the daemon for one audio chunk (plugin_executor.invoke_tts)."""
    payload = {"result": binascii.hexlify(chunk).decode(), "mime_type": "audio/mpeg"}
    message = SessionMessage(type=SessionMessage.Type.STREAM, data=payload).model_dump()
    return (
        StreamOutputMessage(event=Event.SESSION, session_id="0" * 32, data=message).model_dump_json().encode()
    )


# --- predefined catalogue ---------------------------------------------------------------------


def test_every_predefined_model_offers_its_default_voice_as_mp3() -> None:
    model = tts_model()
    positions = yaml.safe_load((ROOT / "models" / "tts" / "_position.yaml").read_text())

    assert sorted(positions) == sorted(schema.model for schema in model.predefined_models())
    assert set(positions) == {KOKORO, ORPHEUS, "cartesia/sonic-3"}  # sonic-2 is retired
    for schema in model.predefined_models():
        props = schema.model_properties
        values = [voice["mode"] for voice in props[ModelPropertyKey.VOICES]]
        assert props[ModelPropertyKey.DEFAULT_VOICE] in values, schema.model
        assert props[ModelPropertyKey.AUDIO_TYPE] == "mp3"
        assert props[ModelPropertyKey.WORD_LIMIT] > 0 and props[ModelPropertyKey.MAX_WORKERS] >= 1
        assert all(voice["name"] and voice["language"] for voice in props[ModelPropertyKey.VOICES])
        assert model.get_tts_model_mime_type(schema.model, {}) == "audio/mpeg"


# --- invoke -----------------------------------------------------------------------------------


def test_audio_reaches_dify_as_valid_mp3_and_the_request_is_togethers_shape(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))
    fake_together.route("POST", "/audio/speech", Reply(200, {"Content-Type": "audio/mpeg"}, SPEECH_MP3))

    chunks = read_aloud(credentials, "Hello from Together AI.", "af_heart")

    assert b"".join(chunks) == SPEECH_MP3 and is_mp3(chunks[0])
    assert speech_requests(fake_together) == [
        {
            "model": KOKORO,
            "input": "Hello from Together AI.",
            "voice": "af_heart",
            "response_format": "mp3",
            "language": "en",  # af_heart is declared as US English
        }
    ]
    speech = next(r for r in fake_together.requests if r.path == "/v1/audio/speech")
    assert speech.headers["authorization"] == f"Bearer {API_KEY}"


def test_a_voice_the_model_does_not_offer_becomes_its_default(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))

    read_aloud(credentials, "One.", "alloy")  # an OpenAI voice left over from another provider
    read_aloud(credentials, "Two.", "")
    read_aloud(credentials, "Three.", "af_brand_new")  # only Together's live list knows it

    assert [r["voice"] for r in speech_requests(fake_together)] == ["af_heart", "af_heart", "af_brand_new"]


def test_the_voices_language_is_sent_only_when_it_is_known(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route(
        "GET",
        "/voices",
        Reply.json(
            {
                "data": [
                    {
                        "model": KOKORO,
                        "voices": [
                            {"id": "1", "name": "zf_xiaoxiao"},
                            {"id": "2", "name": "jf_alpha"},
                            {"id": "3", "name": "af_brand_new"},
                        ],
                    }
                ]
            }
        ),
    )
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))

    for voice in ("zf_xiaoxiao", "jf_alpha", "af_brand_new"):  # the last one is not declared
        read_aloud(credentials, "One.", voice)

    assert [r.get("language") for r in speech_requests(fake_together)] == ["zh", "ja", None]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_bad_request_and_sends_nothing(
    fake_together: FakeTogether, credentials: dict, text: str
) -> None:
    with pytest.raises(InvokeBadRequestError, match="empty"):
        read_aloud(credentials, text)

    assert fake_together.requests == []


def test_long_text_is_split_at_sentence_ends_under_the_word_limit(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))
    sentences = [f"Sentence {i} is short but not tiny." for i in range(40)] + ["这是中文。", "真的吗？"]
    text = " ".join(sentences)
    custom = {**credentials, "default_voice": "narrator", "word_limit": "120"}

    chunks = read_aloud(custom, text, model=CUSTOM)

    inputs = [r["input"] for r in speech_requests(fake_together)]
    assert len(inputs) > 1 and all(len(piece) <= 120 for piece in inputs)
    assert all(piece.endswith((".", "。", "？")) for piece in inputs)
    assert " ".join(inputs).split() == text.split()
    assert b"".join(chunks) == SPEECH_MP3 * len(inputs)


def test_five_minutes_of_speech_reach_dify_in_lines_under_the_daemons_limit(
    fake_together: FakeTogether, credentials: dict
) -> None:
    # About 150 spoken words a minute: 750 words is five minutes of audio.
    text = " ".join(f"Part {i} of the story goes on for a few more words here." for i in range(70))
    body = mp3_of_size(3 * 1024 * 1024)  # one request's audio, sent whole: 6 MiB once hex-encoded
    fake_together.route("POST", "/audio/speech", Reply(body=body))

    lines = [stdout_line(chunk) for chunk in tts_model().invoke(KOKORO, "t", credentials, text, "af_heart")]

    requests = speech_requests(fake_together)
    assert len(text.split()) >= 750 and len(requests) >= 2
    assert max(len(line) for line in lines) < DAEMON_LINE_LIMIT
    audio = b"".join(binascii.unhexlify(json.loads(line)["data"]["data"]["result"]) for line in lines)
    assert audio == body * len(requests) and is_mp3(audio)


def test_audio_is_relayed_while_it_downloads(fake_together: FakeTogether, credentials: dict) -> None:
    body = mp3_of_size(3 * CHUNK_BYTES)
    first_chunk_seen = threading.Event()
    server_waited: list[bool] = []

    def audio_in_two_parts() -> Iterator[bytes]:
        yield body[:CHUNK_BYTES]
        # The rest is sent only once the first part has reached Dify; a plugin that buffered the
        # whole body would never get here, and the wait would time out.
        server_waited.append(first_chunk_seen.wait(timeout=30))
        yield body[CHUNK_BYTES:]

    fake_together.route("POST", "/audio/speech", lambda _request: Reply(chunks=audio_in_two_parts()))

    stream = tts_model().invoke(KOKORO, "t", credentials, "Hello.", "af_heart")
    first = next(stream)
    first_chunk_seen.set()
    rest = list(stream)

    assert first == body[:CHUNK_BYTES] and is_mp3(first)
    assert server_waited == [True]
    assert first + b"".join(rest) == body
    assert all(len(chunk) <= CHUNK_BYTES for chunk in [first, *rest])


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.json({"error": {"message": "model overloaded"}}), "Together AI: model overloaded"),
        (Reply(body=SPEECH_WAV), "wav instead of MP3"),
        (Reply(body=b""), "no audio"),
    ],
)
def test_a_200_that_is_not_mp3_is_an_error_not_silence(
    fake_together: FakeTogether, credentials: dict, reply: Reply, message: str
) -> None:
    fake_together.route("POST", "/audio/speech", reply)

    with pytest.raises(InvokeServerUnavailableError, match=message):
        read_aloud(credentials, "Hello.", "af_heart")


# --- validate_credentials ---------------------------------------------------------------------


def test_validation_really_synthesises_speech(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))

    tts_model().validate_credentials(ORPHEUS, credentials)

    assert [(r["model"], r["voice"]) for r in speech_requests(fake_together)] == [(ORPHEUS, "tara")]


def test_validation_fails_with_togethers_message(fake_together: FakeTogether, credentials: dict) -> None:
    invalid_key = {"error": {"message": "Invalid API key provided.", "code": "invalid_api_key"}}
    fake_together.route("POST", "/audio/speech", Reply.json(invalid_key, 401))

    with pytest.raises(CredentialsValidateFailedError, match="Invalid API key provided"):
        tts_model().validate_credentials(KOKORO, credentials)


# --- voices -----------------------------------------------------------------------------------


def test_voices_come_from_togethers_live_list_labelled_from_the_yaml(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))

    voices = tts_model().get_tts_model_voices(KOKORO, credentials, "")

    assert voices == [
        {"name": "Heart (US English, female)", "value": "af_heart"},
        {"name": "af_brand_new", "value": "af_brand_new"},
    ]
    [request] = voice_requests(fake_together)
    assert parse_qs(urlsplit(request.path).query) == {"model": [KOKORO]}


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json({"error": {"message": "boom"}}, 500),
        Reply.json({"unexpected": True}),
        Reply.json({"data": [{"model": "someone/else", "voices": [{"id": "x", "name": "x"}]}]}),
    ],
)
def test_voices_fall_back_to_the_yaml_when_the_live_list_is_unusable(
    fake_together: FakeTogether, credentials: dict, reply: Reply
) -> None:
    fake_together.route("GET", "/voices", reply)

    voices = tts_model().get_tts_model_voices(ORPHEUS, credentials)

    assert [voice["value"] for voice in voices] == ["tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe"]


def test_voices_without_an_api_key_are_the_yaml_ones_and_call_nothing(fake_together: FakeTogether) -> None:
    voices = tts_model().get_tts_model_voices(ORPHEUS, {"endpoint_url": fake_together.base_url})

    assert voices[0] == {"name": "Tara (female)", "value": "tara"}
    assert fake_together.requests == []


def test_voices_are_filtered_by_language(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("GET", "/voices", Reply.json({"data": []}))
    model = tts_model()

    japanese = model.get_tts_model_voices(KOKORO, credentials, "ja-JP")
    chinese = model.get_tts_model_voices(KOKORO, credentials, "zh-Hans")

    assert [v["value"] for v in japanese] == [
        "jf_alpha",
        "jf_gongitsune",
        "jf_nezumi",
        "jf_tebukuro",
        "jm_kumo",
    ]
    assert chinese and all(v["value"][0] == "z" for v in chinese)
    assert model.get_tts_model_voices(ORPHEUS, credentials, "ja-JP") == []


def test_live_voices_of_unknown_language_survive_a_language_filter(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))

    voices = tts_model().get_tts_model_voices(KOKORO, credentials, "ja-JP")

    assert voices == [{"name": "af_brand_new", "value": "af_brand_new"}]  # af_heart is declared US English


def test_live_voices_are_fetched_once_per_process(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("GET", "/voices", Reply.json(LIVE_VOICES))
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))

    tts_model().get_tts_model_voices(KOKORO, credentials)
    tts_model().get_tts_model_voices(KOKORO, credentials, "en-US")
    read_aloud(credentials, "Hello.", "af_brand_new")

    assert len(voice_requests(fake_together)) == 1


def test_the_voice_cache_expires_and_retries_failures_sooner() -> None:
    now = [0.0]
    cache = LiveVoiceCache(clock=lambda: now[0])
    calls: list[str] = []

    def load() -> list[str]:
        calls.append("load")
        if len(calls) == 1:
            raise InvokeServerUnavailableError("down")
        return ["tara"]

    assert cache.get("https://api", "key", ORPHEUS, load) is None
    now[0] += FAILED_FETCH_TTL - 1
    assert cache.get("https://api", "key", ORPHEUS, load) is None and len(calls) == 1
    now[0] += 2
    assert cache.get("https://api", "key", ORPHEUS, load) == ["tara"] and len(calls) == 2
    now[0] += LIVE_VOICES_TTL - 1
    assert cache.get("https://api", "key", ORPHEUS, load) == ["tara"] and len(calls) == 2
    assert cache.get("https://api", "other-key", ORPHEUS, load) == ["tara"] and len(calls) == 3
    now[0] += 2
    cache.get("https://api", "key", ORPHEUS, load)
    assert len(calls) == 4


# --- customizable models ----------------------------------------------------------------------


def test_a_customizable_model_reads_its_voices_and_limits_from_credentials(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))
    custom = {**credentials, "default_voice": "narrator", "voices": "narrator, calm one ,, bright"}
    model = tts_model()

    voices = model.get_tts_model_voices(CUSTOM, custom, "en-US")
    read_aloud(custom, "Hello.", "bright", model=CUSTOM)
    read_aloud(custom, "Hello.", "af_heart", model=CUSTOM)

    assert [v["value"] for v in voices] == ["narrator", "calm one", "bright"]
    assert [r["voice"] for r in speech_requests(fake_together)] == ["bright", "narrator"]
    assert model.get_tts_model_mime_type(CUSTOM, custom) == "audio/mpeg"


@pytest.mark.parametrize("word_limit", ["0", "many", "-5", "100001"])
def test_a_bad_word_limit_fails_validation(credentials: dict, word_limit: str) -> None:
    custom = {**credentials, "default_voice": "narrator", "word_limit": word_limit}

    with pytest.raises(CredentialsValidateFailedError, match="word_limit"):
        tts_model().validate_credentials(CUSTOM, custom)


def test_an_unknown_model_without_voices_or_default_is_a_bad_request(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("GET", "/voices", Reply.json({"data": []}))

    with pytest.raises(InvokeBadRequestError, match="no default voice"):
        read_aloud(credentials, "Hello.", "", model=CUSTOM)


def test_a_customizable_model_without_a_default_voice_still_has_a_schema(
    fake_together: FakeTogether, credentials: dict
) -> None:
    # Dify's API requires `model_schema` in the get_ai_model_schemas reply: a null one makes it raise.
    live = {"data": [{"model": CUSTOM, "voices": [{"id": "c1", "name": "studio"}]}]}
    fake_together.route("GET", "/voices", Reply.json(live))
    fake_together.route("POST", "/audio/speech", Reply(body=SPEECH_MP3))
    model = tts_model()

    schema = model.get_model_schema(CUSTOM, credentials)
    read_aloud(credentials, "Hello.", "", model=CUSTOM)

    assert schema is not None and schema.model == CUSTOM
    assert ModelPropertyKey.DEFAULT_VOICE not in schema.model_properties
    assert [r["voice"] for r in speech_requests(fake_together)] == ["studio"]
