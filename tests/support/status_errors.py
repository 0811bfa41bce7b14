"""The one table of what each HTTP error status from Together must become, and how many times the
request is sent before the user sees it (retried statuses go `MAX_ATTEMPTS` times)."""

from __future__ import annotations

from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.together.client import MAX_ATTEMPTS

STATUS_ERRORS: dict[int, tuple[type[InvokeError], int]] = {
    400: (InvokeBadRequestError, 1),
    401: (InvokeAuthorizationError, 1),
    402: (InvokeAuthorizationError, 1),  # credit limit: the account must change
    403: (InvokeBadRequestError, 1),  # context exceeded, or a model the organization may not use
    404: (InvokeBadRequestError, 1),
    408: (InvokeConnectionError, MAX_ATTEMPTS),  # the server gave up waiting: transient
    409: (InvokeBadRequestError, 1),
    413: (InvokeBadRequestError, 1),
    422: (InvokeBadRequestError, 1),
    429: (InvokeRateLimitError, MAX_ATTEMPTS),
    500: (InvokeServerUnavailableError, MAX_ATTEMPTS),
    502: (InvokeServerUnavailableError, MAX_ATTEMPTS),
    503: (InvokeServerUnavailableError, MAX_ATTEMPTS),
    504: (InvokeServerUnavailableError, MAX_ATTEMPTS),
    529: (InvokeServerUnavailableError, 1),  # an unlisted 5xx: unavailable, but not retried unasked
}
