"""One JSON object per log line (COLLAB_LOG_FORMAT=json), for container log collectors.

Loki, Elasticsearch, CloudWatch and `docker logs | jq` read a line of JSON without a parsing
rule per service; a traceback stays inside its record instead of spilling over many lines.
Standard library only, so logging works before any dependency is importable.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as a single-line JSON object: time, level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that JSON cannot encode (a request, a UUID) still logs.
        return json.dumps(entry, default=str, ensure_ascii=False)
