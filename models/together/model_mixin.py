"""What every Together model class shares: the client, error mapping and credential validation.

Each model class lists this mixin first, before its `dify_plugin` base class.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError
from pydantic import BaseModel

from models.together.client import TogetherClient
from models.together.errors import INVOKE_ERRORS, as_dify_error

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)
# Dify's plugin daemon reads a reply as one stdout line of at most 5 MiB and kills the whole plugin,
# with every session on it, for a longer one; the margin leaves room for the session envelope.
MAX_REPLY_BYTES = 5 * 1024 * 1024 - 4096


class TogetherModelMixin:
    """Shared behaviour of the six Together model classes."""

    @staticmethod
    def client(credentials: Mapping[str, Any]) -> TogetherClient:
        """A Together client for these credentials."""
        return TogetherClient(credentials)

    def customizable_entity(self, model: str, properties: Mapping[ModelPropertyKey, Any]) -> AIModelEntity:
        """The schema of a model the user added by its id, of this class's model type."""
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=self.model_type,  # type: ignore[attr-defined]  # set by each dify_plugin base
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties=dict(properties),
        )

    @staticmethod
    def fitting_reply(result: R, items: int, noun: str, setting: str) -> R:
        """`result` if the daemon can read it, else `InvokeBadRequestError` naming the `setting` that fits."""
        size = len(result.model_dump_json())
        if size <= MAX_REPLY_BYTES:
            return result
        raise InvokeBadRequestError(
            f"{items} {noun} make a {size / 2**20:.1f} MiB reply, over the 5 MiB Dify's plugin daemon"
            f" accepts: set {setting} to at most {max(1, items * MAX_REPLY_BYTES // size)}"
        )

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        # The client raises only InvokeErrors; each maps to itself.
        return {cls: [cls] for cls in INVOKE_ERRORS}

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        # The SDK would replace an authorization error's text with a generic one and prefix the
        # others; Together's own message is the useful part, so an InvokeError keeps it.
        if isinstance(error, InvokeError):
            return as_dify_error(error)
        return super()._transform_invoke_error(error)  # type: ignore[misc]

    @staticmethod
    @contextmanager
    def validating_credentials() -> Iterator[None]:
        """Turn any failure inside the block into `CredentialsValidateFailedError` with its message."""
        try:
            yield
        except CredentialsValidateFailedError:
            raise
        except Exception as exc:
            raise CredentialsValidateFailedError(str(exc)) from None

    def map_stream_errors(self, stream: Generator[T, None, None]) -> Generator[T, None, None]:
        """Re-raise what escapes a streamed result as an `InvokeError`.

        The SDK maps errors raised by `_invoke` itself but not those raised while Dify iterates
        the generator it returned.
        """
        try:
            yield from stream
        except Exception as exc:
            mapped = self._transform_invoke_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc
