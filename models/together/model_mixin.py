"""What every Together model class shares: error mapping, credential validation, the reply limit.

Each model class lists this mixin first, before its `dify_plugin` base class.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from dify_plugin.core.server.stdio.response_writer import StdioResponseWriter
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError
from pydantic import BaseModel

from models.together.errors import as_dify_error, redact

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Dify's plugin daemon kills the plugin, with every session of every tenant on it, when a line the
# plugin writes to stdout is longer than this; the SDK writes each result as one line.
MAX_REPLY_LINE_BYTES = 5_242_879
_SESSION_ID = "00000000-0000-0000-0000-000000000000"  # the daemon's session ids are UUIDs


class TogetherModelMixin:
    """Shared behaviour of the six Together model classes."""

    def customizable_entity(self, model: str, properties: Mapping[ModelPropertyKey, Any]) -> AIModelEntity:
        """The schema of a model the user added by its id, of this class's model type."""
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=self.model_type,  # type: ignore[attr-defined]  # set by each dify_plugin base
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties=dict(properties),
        )

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        # Abstract in the SDK; `_transform_invoke_error` below handles every InvokeError itself.
        return {}

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        # The SDK would replace an authorization error's text with a generic one and prefix the
        # others; Together's own message is the useful part, so an InvokeError keeps it.
        if isinstance(error, InvokeError):
            return as_dify_error(error)
        return super()._transform_invoke_error(error)  # type: ignore[misc]

    @staticmethod
    @contextmanager
    def validating_credentials(credentials: Mapping[str, Any]) -> Iterator[None]:
        """Turn any failure inside the block into `CredentialsValidateFailedError` with its message; one
        that is not an `InvokeError` is the plugin's fault: it says so and logs its traceback, key removed."""
        try:
            yield
        except CredentialsValidateFailedError:
            raise
        except InvokeError as exc:
            raise CredentialsValidateFailedError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001  whatever escapes is a fault of the plugin
            key = credentials.get("api_key")
            trace = "".join(traceback.format_exception(exc))
            logger.error("Checking credentials failed inside the plugin: %s", redact(trace, str(key or "")))
            raise CredentialsValidateFailedError(
                f"The plugin failed while checking these credentials ({type(exc).__name__}); the "
                "fault is in the plugin, not in the credentials, and the plugin log has its details"
            ) from None

    @staticmethod
    def ensure_fits_one_reply(result: BaseModel, setting: str, floats: str = "") -> None:
        """Raise `InvokeBadRequestError` naming `setting` when the SDK would write `result` as a line
        longer than the daemon accepts. The line is the one the SDK's writer builds, but the field
        named `floats` (lists of floats) is measured by orjson, which writes floats as pydantic does."""
        writer = StdioResponseWriter()
        rest = result.model_copy(update={floats: []}) if floats else result
        line = writer.session_message_text(_SESSION_ID, writer.stream_object(rest)).rstrip("\n")
        size = len(line.encode()) + (len(orjson.dumps(getattr(result, floats))) - 2 if floats else 0)
        if size > MAX_REPLY_LINE_BYTES:
            raise InvokeBadRequestError(
                f"The answer would be a {size:,}-byte reply, more than the {MAX_REPLY_LINE_BYTES:,} "
                f"bytes Dify's plugin daemon accepts in one: lower {setting}"
            )

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
