"""The Redis-side broadcast: what queues while Redis is busy goes out merged per room."""

from pycrdt import Doc, Text

from documents.broadcast_layer import merge_updates_per_room
from documents.sync.broadcast import KIND_UPDATE
from tests.unit.fakes import typed_update


def test_a_backlog_of_updates_goes_out_as_one_merged_message_per_room():
    def message(kind, payload=b"", seq=0):
        return {"kind": kind, "payload": payload, "seq": seq}

    a1 = typed_update("a", client_id=1)
    a2 = typed_update("b", client_id=1, base=a1)
    b1 = typed_update("z", client_id=2)
    batch = [
        ("room.a", message(KIND_UPDATE, a1, 1)),
        ("room.b", message(KIND_UPDATE, b1, 1)),
        ("room.a", message("awareness", b"presence")),
        ("room.a", message(KIND_UPDATE, a2, 2)),
    ]
    out = merge_updates_per_room(batch)
    assert [(group, m["kind"], m["seq"]) for group, m in out] == [
        ("room.b", KIND_UPDATE, 1),
        ("room.a", "awareness", 0),
        ("room.a", KIND_UPDATE, 2),
    ]
    doc = Doc()
    doc.apply_update(out[-1][1]["payload"])
    assert str(doc.get("text", type=Text)) == "ab"
