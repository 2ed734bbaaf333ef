"""Every API error is JSON with a `detail` field (SPEC.md), validation errors included."""

import sys

from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler

from collab.db_pool import RETRY_AFTER_SECONDS, database_unavailable


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "too_large"


class TryAgainLater(APIException):
    """The process cannot keep more edits now (its write-behind buffer is full)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the server cannot keep more edits now; try again later"
    default_code = "try_again_later"
    wait = 1  # seconds: DRF's handler sends it as Retry-After


class QuotaExceeded(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "quota exceeded"
    default_code = "quota_exceeded"


def json_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        errors = response.data
        response.data = {"detail": _first_message(errors), "errors": errors}
    return response


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors) or "invalid request"


def not_found(request, exception=None):
    """JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def unhandled(request):
    """Django's last resort (`handler500`), for an exception anywhere in a request, middleware
    included: without a database (restarting, or no pooled connection free within
    COLLAB_DB_POOL_TIMEOUT) the answer is 503 with Retry-After, on every page, never 500."""
    if database_unavailable(sys.exc_info()[1]):
        response = JsonResponse(
            {"detail": "the database is unavailable or busy; try again shortly"}, status=503
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "internal error"}, status=500)
    return server_error(request)
