"""Which hosts an endpoint may name: no cloud metadata or link-local address (pure).

A resolver endpoint comes from configuration, but configuration is text a user or a
template wrote: ``http://169.254.169.254/`` (or ``2852039166``, ``0xA9FEA9FE``,
``0251.0376.0251.0376``, ``[::ffff:169.254.169.254]``) would make a task fetch the node's
cloud credentials. Such hosts are refused unless listed in ``allowedHosts``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from datalocality.errors import SpecError

# link-local (where every cloud's instance metadata lives) and AWS's IPv6 metadata address
REFUSED_NETWORKS: Final = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
# names the clouds' metadata services answer to inside an instance
METADATA_NAMES: Final = frozenset(
    {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
)


def parse_host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a URL host means, in any spelling the C resolver accepts (dotted,
    decimal, octal, hex, short forms, IPv6 with or without brackets, IPv4-mapped IPv6
    taken as its IPv4), or None for a name.

    >>> str(parse_host_address("0xA9FEA9FE")), str(parse_host_address("[::ffff:a9fe:a9fe]"))
    ('169.254.169.254', '169.254.169.254')
    """
    # an IPv6 zone id does not change the address, nor does a root-label dot
    text = host.strip("[]").split("%", 1)[0].rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(text)
    except ValueError:
        try:  # inet_aton takes what connect() would: 2852039166, 0251.0376.0251.0376, 0xA9...
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_endpoint_host(field: str, url: str, allowed_hosts: Iterable[str] = ()) -> None:
    """SpecError naming ``field`` when ``url``'s host is a metadata or link-local address
    (or a metadata service's name), unless that host is in ``allowed_hosts``."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return  # not a URL: the field's own validation says so
    if not host or host in {h.lower() for h in allowed_hosts}:
        return
    address = parse_host_address(host)
    refused = host.rstrip(".") in METADATA_NAMES or (
        address is not None and any(address in network for network in REFUSED_NETWORKS)
    )
    if refused:
        shown = f"{host} ({address})" if address is not None and str(address) != host else host
        raise SpecError(
            field,
            shown,
            "is a cloud metadata or link-local address; list it in allowedHosts if meant",
        )
