"""Moderation against the scripted Together stand-in: verdicts, chunking, short-circuit and errors."""

from __future__ import annotations

import logging

import pytest
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeServerUnavailableError,
)

from models.moderation.guard import Verdict, guard_verdict
from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Reply
from tests.support.moderation_fakes import MODEL, UNSAFE_WORD, completion, guard, moderation_model

CUSTOM_MODEL = "my-org/Llama-Guard-4-12B-dedicated"


def word_text(words: int) -> str:
    """`words` distinct nine-character words, 'word00001 word00002 …': ten characters each with a space."""
    return " ".join(f"word{i:05d}" for i in range(1, words + 1))


def test_empty_or_blank_text_is_safe_without_a_request(
    fake_together: FakeTogether, credentials: dict
) -> None:
    assert moderation_model().invoke(MODEL, credentials, "") is False
    assert moderation_model().invoke(MODEL, credentials, " \n\t ") is False
    assert fake_together.requests == []


def test_safe_text_sends_one_guard_request(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/chat/completions", guard())

    assert moderation_model().invoke(MODEL, credentials, "  How do I bake bread?  ", user="u1") is False

    [request] = fake_together.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json() == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "How do I bake bread?"}],
        "temperature": 0,
        "max_tokens": 20,
    }


def test_unsafe_text_is_flagged_and_only_its_categories_are_logged(
    fake_together: FakeTogether, credentials: dict, caplog: pytest.LogCaptureFixture
) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    text = f"How do I make {UNSAFE_WORD} at home?"

    with caplog.at_level(logging.DEBUG, logger="models.moderation.moderation"):
        assert moderation_model().invoke(MODEL, credentials, text) is True

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "S9,S1" in logged
    assert UNSAFE_WORD not in logged


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("safe", Verdict(unsafe=False)),
        ("\n\n Safe \n", Verdict(unsafe=False)),
        ("unsafe\nS1", Verdict(unsafe=True, categories=("S1",))),
        ("UNSAFE\nS1, S10 ,S14", Verdict(unsafe=True, categories=("S1", "S10", "S14"))),
        ("\nunsafe\n\nS2\n", Verdict(unsafe=True, categories=("S2",))),
        ("unsafe", Verdict(unsafe=True)),  # cut off by max_tokens before the categories
    ],
)
def test_guard_replies_are_read_by_their_first_line(reply: str, verdict: Verdict) -> None:
    payload = {"choices": [{"message": {"role": "assistant", "content": reply}}]}
    assert guard_verdict(MODEL, payload) == verdict


def test_long_text_is_checked_in_pieces_cut_at_whitespace(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    text = word_text(1000)  # 9,999 characters: three pieces of at most 4,000

    assert moderation_model().invoke(MODEL, credentials, text) is False

    pieces = [request.json()["messages"][0]["content"] for request in fake_together.requests]
    assert [len(piece) for piece in pieces] == [3999, 3999, 1999]
    assert " ".join(pieces) == text  # every word is checked, none is split


def test_the_first_unsafe_piece_ends_the_check(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    words = word_text(1000).split()
    words[500] = UNSAFE_WORD  # in the second of three pieces

    assert moderation_model().invoke(MODEL, credentials, " ".join(words)) is True

    assert len(fake_together.requests) == 2


def test_text_needing_more_pieces_than_max_chunks_is_refused_unsent(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", guard())

    with pytest.raises(InvokeBadRequestError, match=r"33 pieces of at most 4000 characters.*at most 32"):
        moderation_model().invoke(MODEL, credentials, word_text(32 * 400 + 1))

    assert fake_together.requests == []


def test_customizable_model_uses_its_credentials(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/chat/completions", guard())
    custom = {**credentials, "max_characters_per_chunk": "100", "max_chunks": "3"}

    assert moderation_model().invoke(CUSTOM_MODEL, custom, word_text(30)) is False
    assert [len(r.json()["messages"][0]["content"]) for r in fake_together.requests] == [99, 99, 99]
    assert {r.json()["model"] for r in fake_together.requests} == {CUSTOM_MODEL}

    with pytest.raises(InvokeBadRequestError, match="4 pieces"):
        moderation_model().invoke(CUSTOM_MODEL, custom, word_text(31))


@pytest.mark.parametrize("bad", ["0", "-5", "many", "2.5"])
def test_customizable_limits_must_be_whole_positive_numbers(credentials: dict, bad: str) -> None:
    with pytest.raises(InvokeBadRequestError, match="max_chunks must be a whole number"):
        moderation_model().invoke(CUSTOM_MODEL, {**credentials, "max_chunks": bad}, "hello")


def test_a_reply_that_is_no_verdict_fails_quoting_it(fake_together: FakeTogether, credentials: dict) -> None:
    chatter = "Sure! Here is a friendly answer. " * 20
    fake_together.route("POST", "/chat/completions", completion(chatter))

    with pytest.raises(InvokeBadRequestError, match="neither 'safe' nor 'unsafe'") as caught:
        moderation_model().invoke(MODEL, credentials, "hello")

    message = str(caught.value)
    assert "Sure! Here is a friendly answer." in message
    assert len(message) < 400  # the quote is bounded


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "x", "choices": []},
        {"id": "x"},
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]},
        {"choices": [{"index": 0, "message": {"role": "assistant"}}]},
        {"choices": [{"index": 0, "text": "safe"}]},
        ["safe"],
    ],
)
def test_a_response_without_a_reply_is_never_safe(
    fake_together: FakeTogether, credentials: dict, payload: object
) -> None:
    fake_together.route("POST", "/chat/completions", Reply.json(payload))

    with pytest.raises(InvokeServerUnavailableError, match="without a reply"):
        moderation_model().invoke(MODEL, credentials, "hello")


def test_an_empty_reply_is_never_safe(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/chat/completions", completion(""))

    with pytest.raises(InvokeBadRequestError, match="Its reply: ''"):
        moderation_model().invoke(MODEL, credentials, "hello")


def test_validation_makes_one_real_request(fake_together: FakeTogether, credentials: dict) -> None:
    fake_together.route("POST", "/chat/completions", guard())

    moderation_model().validate_credentials(MODEL, credentials)

    [request] = fake_together.requests
    assert request.json()["model"] == MODEL


def test_validation_passes_when_the_probe_is_judged_unsafe(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", completion("unsafe\nS6"))

    moderation_model().validate_credentials(MODEL, credentials)  # any verdict proves a working guard model


def test_validation_fails_with_togethers_message(fake_together: FakeTogether, credentials: dict) -> None:
    invalid = {
        "error": {
            "message": "Invalid API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    fake_together.route("POST", "/chat/completions", Reply.json(invalid, 401))

    with pytest.raises(CredentialsValidateFailedError, match="Invalid API key provided"):
        moderation_model().validate_credentials(MODEL, credentials)


def test_validation_rejects_a_model_that_is_not_a_guard_model(
    fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route("POST", "/chat/completions", completion("Pong! How can I help you today?"))

    with pytest.raises(CredentialsValidateFailedError, match="is it a guard model"):
        moderation_model().validate_credentials("openai/gpt-oss-20b", credentials)
