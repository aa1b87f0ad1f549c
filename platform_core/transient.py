"""Which failures are worth another attempt: a connection that dropped, a timeout, an object store
or database briefly unreachable, a catalog file another process holds. Everything else (a bad
delivery, a contract violation, a missing file, a bug) fails the same way every time, so a retry
would only delay the report by the length of the backoff.
"""

from __future__ import annotations

import errno

import duckdb

from platform_core.contract import ContractError

# Clients that may not be installed (or whose import is slow), matched by their classes' names.
TRANSIENT_CLASSES = frozenset({
    "botocore.exceptions.ConnectionError",  # EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError
    "botocore.exceptions.HTTPClientError",  # ReadTimeoutError, ProxyConnectionError
    "aiohttp.client_exceptions.ClientConnectionError",  # s3fs's transport
    "psycopg.OperationalError",  # the server went away, a failover, too many connections
    "psycopg2.OperationalError",
})
TRANSIENT_ERRNOS = frozenset({
    errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EHOSTUNREACH,
    errno.ENETUNREACH, errno.ENETDOWN, errno.EPIPE, errno.EAGAIN, errno.EBUSY, errno.EIO,
})
PERMANENT = (ContractError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError,
             ValueError, TypeError, LookupError, AssertionError, NotImplementedError)
# DuckDB's IOException for a path that is not there, a folder it may not read, a full disk: another attempt fails the same way
PERMANENT_IO = ("No files found", "No such file", "does not exist", "Permission denied", "No space left")
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})  # a 403 or 404 from an object store stays a 403 or 404


def is_transient(error: BaseException) -> bool:
    """True if `error`, or an error it was raised from (`raise ... from`), is transient, and
    nothing on the way there is a permanent one (a ContractError raised while reading over a flaky
    link is still a ContractError). An error merely raised while another was being handled is
    judged by itself: a bug in an `except ConnectionError:` block is a bug."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _transient(error):
            return True
        if isinstance(error, PERMANENT):
            return False
        error = error.__cause__
    return False


def _transient(error: BaseException) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if isinstance(error, duckdb.HTTPException):
        return getattr(error, "status_code", None) in TRANSIENT_HTTP
    if isinstance(error, duckdb.IOException):
        return not any(text in str(error) for text in PERMANENT_IO)
    if type(error) is OSError and error.errno in TRANSIENT_ERRNOS:
        return True
    return any(f"{c.__module__}.{c.__qualname__}" in TRANSIENT_CLASSES for c in type(error).__mro__)
