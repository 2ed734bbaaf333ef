"""The daphne adapter's internals are all there (documents/server/adapters/daphne.py).

daphne, autobahn and Twisted are pinned in the lock files; an upgrade that renames or removes
one of these attributes fails here, naming it, instead of silently turning a guard off."""

from __future__ import annotations

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet.abstract import FileDescriptor
from twisted.internet.testing import StringTransport

from documents.server.adapters import daphne as adapter


@pytest.mark.parametrize(
    ("owner", "name"), adapter.INTERNALS, ids=[f"{o.__name__}.{n}" for o, n in adapter.INTERNALS]
)
def test_the_adapter_finds_what_it_touches(owner, name):
    assert hasattr(owner, name), f"{owner.__name__}.{name} is gone: update the daphne adapter"


def connected_protocol() -> WebSocketProtocol:
    protocol = WebSocketProtocol()
    protocol.factory = WebSocketServerFactory()
    protocol.makeConnection(StringTransport())
    return protocol


@pytest.mark.parametrize(
    ("owner", "name"),
    adapter.INSTANCE_INTERNALS,
    ids=[f"{o.__name__}.{n}" for o, n in adapter.INSTANCE_INTERNALS],
)
def test_connected_instances_carry_what_the_adapter_reads(owner, name):
    instance = connected_protocol() if owner is WebSocketProtocol else FileDescriptor()
    assert hasattr(instance, name), f"{owner.__name__}().{name} is gone: update the adapter"


def test_the_slow_reader_measure_reads_twisteds_write_buffer():
    protocol = connected_protocol()
    descriptor = FileDescriptor()
    descriptor.dataBuffer, descriptor.offset, descriptor._tempDataLen = b"x" * 100, 40, 7
    protocol.transport = descriptor
    assert adapter.buffered_bytes(protocol) == 100 - 40 + 7


def test_autobahn_formats_its_configuration_only_when_debugging(settings):
    import autobahn.websocket.protocol as autobahn_protocol

    adapter.install()
    assert autobahn_protocol.pformat({"a": 1}) == ""
