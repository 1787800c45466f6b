"""Errors that services raise for things a client caused; the API turns them into 4xx JSON bodies."""


class ServiceError(Exception):
    """A request the service refuses; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    status = 400


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class QuotaExceeded(ServiceError):
    """A user's limit on unfinished work (jobs, tasks) is reached; retry when some finish."""

    status = 429


class StorageExceeded(ServiceError):
    """A limit on stored bytes (a user's, or one job's results) is reached."""

    status = 413
