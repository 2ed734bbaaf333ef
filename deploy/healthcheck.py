"""Container healthcheck: exit 0 when this container's Collab answers GET /healthz.

Standard library only (slim images have no curl). The request carries a Host from ALLOWED_HOSTS,
because Django refuses any other with 400, and the production value rarely lists 127.0.0.1;
/healthz is exempt from the HTTPS redirect (collab/settings.py), so plain HTTP is enough.
"""

import os
import sys
import urllib.request


def probe_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "localhost").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": probe_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
