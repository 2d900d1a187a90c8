"""RFC 1123 name checks shared by every model that names a Kubernetes object."""

from __future__ import annotations

import re

from datalocality.errors import SpecError

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


def check_text(field: str, value: str) -> str:
    """An identifier a user wrote: no control characters or line breaks, which would forge
    log lines and break the headers and labels the value may reach."""
    found = _CONTROL.search(value)
    if found:
        raise SpecError(field, value, f"must not contain control character {found.group()!r}")
    return value


def check_label_value(field: str, value: str) -> str:
    """A Kubernetes label value: empty, or <= 63 of [A-Za-z0-9_.-] starting and ending
    alphanumeric (what the apiserver accepts in a label or a nodeSelector)."""
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        raise SpecError(
            field, value, "must be a label value (<= 63 of A-Z, a-z, 0-9, '-', '_', '.')"
        )
    return value


def check_label_key(field: str, key: str) -> str:
    """A Kubernetes label key: an optional DNS-subdomain prefix and '/', then a name of
    <= 63 of [A-Za-z0-9_.-] starting and ending alphanumeric."""
    prefix, slash, name = key.rpartition("/")
    if (
        (slash and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)))
        or not name
        or len(name) > 63
        or not _LABEL_NAME.match(name)
    ):
        raise SpecError(field, key, "must be a label key ([prefix/]name, the name <= 63 chars)")
    return key
