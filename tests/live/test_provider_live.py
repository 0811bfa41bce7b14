"""Provider credential validation on the real API: `GET /models`, which spends no tokens."""

from __future__ import annotations

import pytest
from dify_plugin.errors.model import CredentialsValidateFailedError

from provider.togetherai import TogetherAIProvider

WRONG_KEY = "tgp_v1_not-a-real-key-0000000000000000"


def validate(credentials: dict) -> None:
    # The method reads no instance state, so the SDK's provider wiring is not needed.
    object.__new__(TogetherAIProvider).validate_provider_credentials(credentials)


def test_the_key_is_accepted(live_credentials: dict) -> None:
    validate(live_credentials)


def test_a_wrong_key_is_refused_in_togethers_words_without_echoing_it() -> None:
    with pytest.raises(CredentialsValidateFailedError) as refused:
        validate({"api_key": WRONG_KEY})

    message = str(refused.value)
    assert message.strip()
    assert WRONG_KEY not in message
