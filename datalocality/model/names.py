"""RFC 1123 name checks shared by every model that names a Kubernetes object."""

from __future__ import annotations

import re

from datalocality.errors import SpecError

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_replicas(value: object) -> int:
    """A replica count: an integer >= 1 (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError("", value, "must be an integer >= 1")
    return value


def check_dns_label(field: str, value: str) -> str:
    """An RFC 1123 label: lowercase alphanumerics and '-', at most 63 characters."""
    if len(value) > 63 or not _LABEL.match(value):
        raise SpecError(field, value, "must be an RFC 1123 label (a-z, 0-9, '-', <= 63 chars)")
    return value


def check_dns_subdomain(field: str, value: str) -> str:
    """An RFC 1123 subdomain, as Kubernetes requires for node names (<= 253 characters)."""
    if len(value) > 253 or not _SUBDOMAIN.match(value):
        raise SpecError(
            field, value, "must be an RFC 1123 subdomain (a-z, 0-9, '-', '.', <= 253 chars)"
        )
    return value
