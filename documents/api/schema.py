"""OpenAPI post-processing: every operation documents the JSON errors it can answer with.

drf-spectacular describes successes only; clients (and schemathesis) also need to know that a
401, 403, 404 or 400 is a JSON object with a `detail` field (SPEC.md).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail"],
}
ERROR_DESCRIPTIONS = {
    "400": "malformed request",
    "401": "not authenticated",
    "403": "authenticated, but not allowed",
    "404": "no such document, version, member or page",
    "429": "too many requests: throttled (Retry-After says when to try again)",
}
# Only the endpoints that write a document's content take a body that can be too large or fill
# the write-behind buffer: (path suffix, method).
CONTENT_WRITES = {("/updates", "post"), ("/content", "put")}
UPDATE_ERROR_DESCRIPTIONS = {
    "413": "larger than COLLAB_MAX_MESSAGE_BYTES (refused before it is read), or the document "
    "would grow past COLLAB_MAX_DOCUMENT_BYTES",
    "503": "the server cannot keep more edits now (Retry-After)",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            descriptions = dict(ERROR_DESCRIPTIONS)
            if any(
                path.rstrip("/").endswith(suffix) and method == verb
                for suffix, verb in CONTENT_WRITES
            ):
                descriptions.update(UPDATE_ERROR_DESCRIPTIONS)
            for code, description in descriptions.items():
                operation.setdefault("responses", {}).setdefault(
                    code, {"description": description, "content": error}
                )
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer TOKEN`: an API token (`manage.py create_token`), a
    document token (`POST .../tokens/`) or a JWT signed with COLLAB_JWT_SECRET."""

    target_class = "documents.token_auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token (manage.py create_token), a document token "
            "(POST /api/documents/{id}/tokens/, that document only) or a JWT signed with "
            "COLLAB_JWT_SECRET (docs/embedding.md)",
        }
