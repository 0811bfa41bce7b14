"""The Together AI provider: checks a user's credentials with one free, real call."""

from __future__ import annotations

from collections.abc import Mapping

from dify_plugin import ModelProvider
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.together.client import TogetherClient
from models.together.model_mixin import TogetherModelMixin


class TogetherAIProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: Mapping) -> None:
        """List Together's models (`GET /models`, which spends no tokens).

        Raises `CredentialsValidateFailedError` with Together's own message when the key,
        endpoint or timeout is wrong, or when the endpoint does not answer like Together.
        """
        with TogetherModelMixin.validating_credentials(credentials):
            models = TogetherClient(credentials).get_json("/models")
        if isinstance(models, Mapping):
            models = models.get("data")
        if not isinstance(models, list):
            raise CredentialsValidateFailedError(
                "The endpoint answered GET /models without a model list; is endpoint_url a Together API?"
            )
