"""Dify moderation through Together's guard models (Llama Guard) served as chat completions.

Together has no `/moderations` endpoint; a guard model classifies a user message through
`POST /chat/completions`, applying its own safety taxonomy server-side, and answers `safe`, or
`unsafe` with the violated categories (`S1`–`S14`) on the next line.

Contract of `invoke` (True means unsafe):
- Empty or whitespace-only text: False, no request.
- The text is cut at whitespace into pieces of at most `max_characters_per_chunk` characters
  (`chunks.split_text`). Text needing more than `max_chunks` pieces is refused with
  `InvokeBadRequestError` before any request: it is never partly checked.
- Pieces are checked in order, one request each; the first `unsafe` returns True and no further
  piece is sent. The categories are logged at debug level, never the text.
- A reply whose first non-empty line is neither `safe` nor `unsafe` raises
  `InvokeBadRequestError` quoting it (the model is most likely not a guard model); a response
  without a reply raises `InvokeServerUnavailableError`. Neither is ever read as "safe".

Together serves no guard model serverless, so none is predefined: the user adds the guard model
of their own dedicated endpoint (or of a compatible gateway) as a customizable model, and
`max_characters_per_chunk` and `max_chunks` come from its credentials of the same names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from dify_plugin import ModerationModel
from dify_plugin.entities.model import AIModelEntity, ModelPropertyKey
from dify_plugin.errors.model import InvokeBadRequestError

from models.moderation.chunks import split_text
from models.moderation.guard import guard_request, guard_verdict
from models.together.client import TogetherClient
from models.together.credentials import whole_number
from models.together.model_mixin import TogetherModelMixin

logger = logging.getLogger(__name__)

DEFAULT_MAX_CHARACTERS_PER_CHUNK = 4000
DEFAULT_MAX_CHUNKS = 32
VALIDATION_TEXT = "ping"


class TogetherModerationModel(TogetherModelMixin, ModerationModel):
    """Moderation by a Together guard model; see the module docstring for the contract."""

    def _invoke(self, model: str, credentials: dict, text: str, user: str | None = None) -> bool:
        # `user` is not sent: Together's ChatCompletionRequest has no such field.
        max_chars, max_chunks = self._limits(model, credentials)
        pieces = split_text(text, max_chars)
        if len(pieces) > max_chunks:
            raise InvokeBadRequestError(
                f"The text is too long to moderate: it needs {len(pieces)} pieces of at most {max_chars} "
                f"characters, and {model} checks at most {max_chunks} (max_chunks) per call"
            )
        if not pieces:
            return False
        client = TogetherClient(credentials)
        for number, piece in enumerate(pieces, 1):
            verdict = guard_verdict(model, client.post_json("/chat/completions", guard_request(model, piece)))
            if verdict.unsafe:
                named = ",".join(verdict.categories) or "none given"
                logger.debug(
                    "%s flagged piece %d of %d as unsafe, categories: %s", model, number, len(pieces), named
                )
                return True
        return False

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """Moderate one word with one real request; any failure becomes `CredentialsValidateFailedError`.

        A model that is not a guard model fails here, because its reply is neither `safe` nor `unsafe`.
        """
        with self.validating_credentials(credentials):
            self._invoke(model, dict(credentials), VALIDATION_TEXT)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """A customizable guard model's schema from its `max_characters_per_chunk` and `max_chunks`
        credentials."""
        chars = whole_number(credentials, "max_characters_per_chunk", DEFAULT_MAX_CHARACTERS_PER_CHUNK)
        chunks = whole_number(credentials, "max_chunks", DEFAULT_MAX_CHUNKS)
        return self.customizable_entity(
            model, {ModelPropertyKey.MAX_CHARACTERS_PER_CHUNK: chars, ModelPropertyKey.MAX_CHUNKS: chunks}
        )

    def _limits(self, model: str, credentials: dict) -> tuple[int, int]:
        """(characters per piece, pieces per call) from the model's schema."""
        schema = self.get_model_schema(model, credentials)
        properties = schema.model_properties if schema else {}
        return (
            int(properties.get(ModelPropertyKey.MAX_CHARACTERS_PER_CHUNK, DEFAULT_MAX_CHARACTERS_PER_CHUNK)),
            int(properties.get(ModelPropertyKey.MAX_CHUNKS, DEFAULT_MAX_CHUNKS)),
        )
