"""The OpenAPI schema tells the truth: schemathesis calls every operation of /api/schema/ with
generated input (as a signed-in owner, on a real document) and checks that no call is a 5xx and
that every response matches the schema (status code, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from documents.models import ApiToken, Document, Membership
from documents.versions import save_version


@pytest.fixture
def api_schema(db):
    # As Django's test client does: a finished request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.from_wsgi("/api/schema/", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.from_pytest_fixture("api_schema")


@pytest.fixture
def owner_world(make_user):
    owner = make_user("owner")
    make_user("someone")
    document = Document.objects.create(title="fuzzed", owner=owner)
    Membership.objects.create(document=document, user=make_user("member"), role="viewer")
    version = save_version(document.id, b"\x00\x00", name="v")
    return {"token": ApiToken.issue(owner)[1], "document": str(document.id), "version": version.id}


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says(case, owner_world):
    params = case.path_parameters or {}
    for name in ("id", "document_pk"):
        if name in params:
            params[name] = owner_world["document"]
    if "version_id" in params:
        params["version_id"] = owner_world["version"]
    response = case.call(headers={"Authorization": f"Bearer {owner_world['token']}"})
    case.validate_response(
        response,
        checks=(
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ),
    )


def test_the_schema_and_its_docs_page_are_served_without_a_cdn(db):
    client = Client()
    schema_response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema_response.status_code == 200
    paths = schema_response.json()["paths"]
    assert "/api/documents/{id}/content/" in paths
    assert "/api/documents/{document_pk}/versions/{version_id}/restore/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "cdn." not in page and "unpkg" not in page
    assert "swagger-ui" in page
