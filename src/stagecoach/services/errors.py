"""Failures a service reports; the API turns each into a problem+json answer."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status_code = 404
    title = "Not found"


class Conflict(ServiceError):
    status_code = 409
    title = "Conflict"


class Forbidden(ServiceError):
    status_code = 403
    title = "Forbidden"


class Unauthorized(ServiceError):
    status_code = 401
    title = "Unauthorized"


class Invalid(ServiceError):
    status_code = 422
    title = "Unprocessable content"


class TooLarge(ServiceError):
    status_code = 413
    title = "Content too large"


class UnsupportedMedia(ServiceError):
    status_code = 415
    title = "Unsupported media type"


class InsufficientStorage(ServiceError):
    status_code = 507
    title = "Insufficient storage"


class TooManyRequests(ServiceError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
