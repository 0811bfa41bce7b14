"""Text-to-speech: Dify's TTS calls translated to Together's `/audio/speech` and `/voices`."""

from __future__ import annotations

from collections.abc import Generator, Mapping

from dify_plugin import TTSModel
from dify_plugin.entities.model import ModelPropertyKey
from dify_plugin.entities.model.schema import AIModelEntity
from dify_plugin.errors.model import InvokeBadRequestError, InvokeError

from models.together.client import TogetherClient
from models.together.credentials import whole_number
from models.together.model_mixin import TogetherModelMixin
from models.tts.speech import AUDIO_FORMAT, relay_speech
from models.tts.voices import declared_voices, fetch_voice_names, for_language, live_voice_cache, merge_voices

DEFAULT_WORD_LIMIT = 2000  # characters per request when a model declares none
MAX_WORD_LIMIT = 100_000
# Sentence ends (Latin and CJK) and line breaks: long text is cut after the last one inside the limit.
SENTENCE_END = r"[.!?。！？\n]"
VALIDATION_TEXT = "Hello."


class TogetherTTSModel(TogetherModelMixin, TTSModel):
    """Together's speech models (Kokoro, Orpheus, Cartesia Sonic and customizable ones)."""

    def _invoke(
        self,
        model: str,
        tenant_id: str,
        credentials: dict,
        content_text: str,
        voice: str,
        user: str | None = None,
    ) -> Generator[bytes, None, None]:
        """MP3 of `content_text` read by `voice`, relayed as Together sends it.

        A voice the model does not offer (Dify keeps the voice when the model changes) is replaced
        by the model's default. Text longer than the model's `word_limit` (characters) goes out as
        several requests cut at sentence ends, with the voice's language when exactly one is
        declared for it. Raises `InvokeBadRequestError` for empty text.
        """
        text = content_text.strip()
        if not text:
            raise InvokeBadRequestError("There is no text to read aloud: the text is empty")
        client = TogetherClient(credentials)
        chosen = self._voice_for(model, credentials, voice)
        limit = self._get_model_word_limit(model, credentials) or DEFAULT_WORD_LIMIT
        pieces = self._split_text_into_sentences(text, max_length=limit, pattern=SENTENCE_END)
        segments = [piece.strip() for piece in pieces if piece.strip()]
        return relay_speech(client, model, chosen, segments, self._language_of(model, credentials, chosen))

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """Synthesise a short phrase with the default voice and read the audio to its end.

        Iterating matters: the request is only sent once the generator runs.
        """
        with self.validating_credentials(credentials):
            for _chunk in self._invoke(model, "", dict(credentials), VALIDATION_TEXT, ""):
                pass

    def get_tts_model_voices(self, model: str, credentials: dict, language: str | None = None) -> list[dict]:
        """`[{name, value}]` for Dify's voice picker: Together's live list for the model, labelled
        from the declared voices; the declared voices when the live list is unavailable. With a
        `language` (a Dify code such as "en-US"), only voices that speak it or whose language is
        unknown.
        """
        schema = self.get_model_schema(model, credentials)
        entries = schema.model_properties.get(ModelPropertyKey.VOICES) or [] if schema else []
        voices = merge_voices(declared_voices(entries), self._live_voice_names(model, credentials))
        return [voice.as_dify() for voice in for_language(voices, language)]

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """The schema of a TTS model the user added, from its credentials; never None (Dify cannot
        handle a null schema), so without `default_voice` synthesis takes the picker's first voice.

        `voices` (comma-separated) adds choices for the picker; `word_limit` is the characters per request.
        """
        default_voice = str(credentials.get("default_voice") or "").strip()
        names = dict.fromkeys(
            [default_voice, *(n.strip() for n in str(credentials.get("voices") or "").split(","))]
        )
        names.pop("", None)
        word_limit = whole_number(credentials, "word_limit", DEFAULT_WORD_LIMIT, MAX_WORD_LIMIT)
        return self.customizable_entity(
            model,
            {
                **({ModelPropertyKey.DEFAULT_VOICE: default_voice} if default_voice else {}),
                ModelPropertyKey.VOICES: [{"mode": name, "name": name, "language": []} for name in names],
                ModelPropertyKey.WORD_LIMIT: word_limit,
                ModelPropertyKey.AUDIO_TYPE: AUDIO_FORMAT,
                ModelPropertyKey.MAX_WORKERS: 1,
            },
        )

    def _voice_for(self, model: str, credentials: dict, requested: str) -> str:
        """`requested` when the model offers it (or its voices are unknown), else its default voice."""
        offered = [voice["value"] for voice in self.get_tts_model_voices(model, credentials)]
        requested = (requested or "").strip()
        if requested and (requested in offered or not offered):
            return requested
        default = self._get_model_default_voice(model, credentials)
        if default:
            return str(default)
        if offered:
            return offered[0]
        raise InvokeBadRequestError(
            f"No voice was chosen and {model} has no default voice: add it as a customizable model with one"
        )

    def _language_of(self, model: str, credentials: dict, voice: str) -> str | None:
        """The ISO 639-1 code Together takes for `voice` ("zh" for Dify's "zh-Hans"), when known."""
        schema = self.get_model_schema(model, credentials)
        entries = schema.model_properties.get(ModelPropertyKey.VOICES) or [] if schema else []
        languages = [declared.languages for declared in declared_voices(entries) if declared.value == voice]
        return languages[0][0].split("-")[0].lower() if languages and len(languages[0]) == 1 else None

    def _live_voice_names(self, model: str, credentials: Mapping) -> list[str] | None:
        """Together's voice names for the model (cached), or None when they cannot be had."""
        try:
            client = TogetherClient(credentials)
        except InvokeError:
            return None  # no API key or an unusable endpoint: the declared voices still serve
        api_key = str(credentials["api_key"]).strip()
        return live_voice_cache.get(client.base_url, api_key, model, lambda: fetch_voice_names(client, model))
