"""The one table of what each HTTP error status from Together must become, and how many times the
request is sent before the user sees it (retried statuses go `MAX_ATTEMPTS` times)."""

from __future__ import annotations

from dify_plugin.errors import model as dify

from models.together.client import MAX_ATTEMPTS

STATUS_ERRORS: dict[int, tuple[type[dify.InvokeError], int]] = {
    400: (dify.InvokeBadRequestError, 1),
    401: (dify.InvokeAuthorizationError, 1),
    402: (dify.InvokeAuthorizationError, 1),  # credit limit: the account must change
    403: (dify.InvokeBadRequestError, 1),  # context exceeded, or a model the organization may not use
    404: (dify.InvokeBadRequestError, 1),
    408: (dify.InvokeConnectionError, MAX_ATTEMPTS),  # the server gave up waiting: transient
    409: (dify.InvokeBadRequestError, 1),
    413: (dify.InvokeBadRequestError, 1),
    422: (dify.InvokeBadRequestError, 1),
    429: (dify.InvokeRateLimitError, MAX_ATTEMPTS),
    500: (dify.InvokeServerUnavailableError, MAX_ATTEMPTS),
    502: (dify.InvokeServerUnavailableError, MAX_ATTEMPTS),
    503: (dify.InvokeServerUnavailableError, MAX_ATTEMPTS),
    504: (dify.InvokeServerUnavailableError, MAX_ATTEMPTS),
    529: (dify.InvokeServerUnavailableError, 1),  # an unlisted 5xx: unavailable, but not retried unasked
}
