"""The sync engine: y-websocket framing, rooms, awareness, and the seams to storage and to other
processes. Plain Python with no Django import, so it is tested on its own (tests/unit)."""
