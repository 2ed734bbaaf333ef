"""WebSocket close codes: the one table (README and SPEC.md list the same)."""

from enum import IntEnum


class CloseCode(IntEnum):
    GOING_AWAY = 1001  # server shutting down, after its state is persisted
    MESSAGE_TOO_BIG = 1009  # larger than COLLAB_MAX_MESSAGE_BYTES
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # cannot keep more edits now, or cannot reach the database to join
    MALFORMED = 4400  # bad framing, undecodable update, text frame
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403  # authenticated, but no access to this document (or foreign Origin)
    NOT_FOUND = 4404
    TOO_SLOW = 4408  # the client stopped reading; its send buffer passed the limit
    TOO_LARGE = 4413  # the document would grow past COLLAB_MAX_DOCUMENT_BYTES
    TOO_MANY_CONNECTIONS = 4429
