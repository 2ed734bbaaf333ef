"""Every API error is JSON with a `detail` field (SPEC.md), validation errors included."""

from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler


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
