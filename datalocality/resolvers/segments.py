"""Names a server supplies, checked before they become part of a request path.

An HTTP client normalises ``..`` and ``.`` in a URL path, so a directory entry named
``..`` (or a partition named so) would send the next request, with its credentials,
outside the path the user asked for. A name from the user is checked where it is parsed;
a name from the server is checked here, and refused as a bad response.
"""

from __future__ import annotations

from datalocality.errors import ResolverResponseError

_MAX_SHOWN = 80


def check_server_segment(value: str, what: str, *, allow_slash: bool = False) -> str:
    """``value`` when it is one path segment (with ``allow_slash``: one once URL-quoted),
    else ResolverResponseError naming ``what`` and the (shortened) name."""
    bad = not value or value in (".", "..") or "\x00" in value or (not allow_slash and "/" in value)
    if bad:
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
        raise ResolverResponseError(
            f"{what}: the server named an entry {shown!r}, which is not a single path segment"
        )
    return value
