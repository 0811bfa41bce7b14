"""Dify's LLM model type on Together's chat and completion endpoints.

A thin translator: `messages` and `request` build Together's request from Dify's entities,
the shared client sends it (retries, timeouts, error mapping), and `stream` turns the answer
back into Dify's chunks or result. Chat-mode models use `/chat/completions`; completion-mode
customizable models use `/completions` with a prompt built from the messages. Usage is what
Together reports, priced from the model's YAML; only when Together reports none is it estimated
offline (`num_tokens`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model import AIModelEntity
from dify_plugin.entities.model.llm import LLMMode, LLMResult, LLMResultChunk, LLMUsage
from dify_plugin.entities.model.message import PromptMessage, PromptMessageTool, UserPromptMessage
from dify_plugin.errors.model import InvokeBadRequestError

from models.llm.messages import chat_messages, completion_prompt
from models.llm.num_tokens import count_prompt_tokens
from models.llm.reply import ReplyAssembler
from models.llm.request import chat_request, completion_request
from models.llm.schema import customizable_schema
from models.llm.stream import (
    chat_chunk_delta,
    chat_response_delta,
    completion_chunk_delta,
    completion_response_delta,
    reported_tokens,
    stream_result,
    whole_result,
)
from models.llm.trace_keys import trace_key
from models.together.client import TogetherClient
from models.together.model_mixin import TogetherModelMixin
from models.together.tokens import count_tokens

VALIDATION_PROMPT = "ping"
VALIDATION_MAX_TOKENS = 5  # a reply is not needed, only Together's acceptance of key and model


class TogetherLargeLanguageModel(TogetherModelMixin, LargeLanguageModel):
    """Chat and completion models served by Together AI."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        model_parameters: dict,
        tools: list[PromptMessageTool] | None = None,
        stop: list[str] | None = None,
        stream: bool = True,
        user: str | None = None,
    ) -> LLMResult | Generator[LLMResultChunk, None, None]:
        # `user` is not sent: neither Together request schema has such a field.
        client = TogetherClient(credentials)
        if self.get_model_mode(model, credentials) is LLMMode.COMPLETION:
            if tools:
                raise InvokeBadRequestError(f"{model} is set up in completion mode, which cannot call tools")
            path = "/completions"
            body = completion_request(
                model, completion_prompt(prompt_messages), model_parameters, stop, stream
            )
            read_chunk, read_whole = completion_chunk_delta, completion_response_delta
            reply = ReplyAssembler(stop)
        else:
            path = "/chat/completions"
            messages = chat_messages(prompt_messages, trace_key(model))
            body = chat_request(model, messages, model_parameters, tools, stop, stream)
            read_chunk, read_whole = chat_chunk_delta, chat_response_delta
            # Thinking switched off leaves no block open: the template closes the one it wrote.
            thinking = model_parameters.get("reasoning") is not False
            reply = ReplyAssembler(stop, think_opened=thinking and credentials.get("think_tags") == "close_only")

        def usage_for(reported: Mapping[str, Any] | None, completion_text: str) -> LLMUsage:
            tokens = reported_tokens(reported)
            if tokens is None:
                tokens = (count_prompt_tokens(prompt_messages, tools), count_tokens(completion_text))
            return self._calc_response_usage(model, credentials, *tokens)

        if stream:
            batches = client.stream_event_batches(path, body)
            chunks = stream_result(model, batches, read_chunk, reply, usage_for)
            return self.map_stream_errors(chunks)
        delta = read_whole(client.post_json(path, body))
        return whole_result(model, prompt_messages, delta, reply, usage_for)

    def _validate_and_filter_model_parameters(
        self, model: str, model_parameters: dict, credentials: dict
    ) -> dict:
        # The SDK checks parameters against the model's rules (max_tokens above the model's
        # ceiling, a value out of range) before its error mapping applies: its ValueError would
        # reach Dify as an unknown kind of error.
        try:
            return super()._validate_and_filter_model_parameters(model, model_parameters, credentials)
        except ValueError as exc:
            raise InvokeBadRequestError(f"{exc} Change it in the model's parameters.") from None

    def get_num_tokens(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None = None,
    ) -> int:
        """An offline estimate of the prompt's tokens (see `num_tokens`)."""
        return count_prompt_tokens(prompt_messages, tools)

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        """One minimal real request to `model`, sent and read as any blocking call; any failure →
        `CredentialsValidateFailedError` with Together's message."""
        with self.validating_credentials(credentials):
            prompt = [UserPromptMessage(content=VALIDATION_PROMPT)]
            self._invoke(
                model, dict(credentials), prompt, {"max_tokens": VALIDATION_MAX_TOKENS}, stream=False
            )

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Any Together model id, shaped by the credential switches (see `schema`)."""
        return customizable_schema(model, credentials)

