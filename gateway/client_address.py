"""The client's address: the socket's peer, or ``X-Forwarded-For`` when the peer is our own proxy.

``X-Forwarded-For`` is whatever the client wrote, plus one address per proxy that passed the
request on (each appends the address it received the request from). So it is read only when
the peer is in ``TRUSTED_PROXIES``, and then from the right: the first address that is not one
of our proxies is the client. Everything to its left could be made up by the client, which
would otherwise pick a fresh address for every request and never meet a per-address limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import hdrs, web

UNKNOWN = "unknown"

Networks = Sequence[IPv4Network | IPv6Network]


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address, proxies: Networks) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 from a dual-stack socket
    return any(address.version == net.version and address in net for net in proxies)


def counted_as(address: str) -> str:
    """What a per-address limit counts: an IPv6 client by its /64 (one subscriber's network,
    inside which it can pick a new address at will), anything else as it is."""
    parsed = _parse(address)
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is None:
        return str(IPv6Network((parsed, 64), strict=False))
    return address


def client_address(request: web.Request, proxies: Networks) -> str:
    """The address a per-address limit counts: see the module's docstring."""
    peer = request.remote or ""
    peer_ip = _parse(peer)
    if peer_ip is None:
        return peer or UNKNOWN  # a Unix socket: nothing better to go on
    if not proxies or not _trusted(peer_ip, proxies):
        return str(peer_ip)
    hops = [h for value in request.headers.getall(hdrs.X_FORWARDED_FOR, ()) for h in value.split(",")]
    client = peer_ip
    for hop in reversed(hops):
        hop_ip = _parse(hop)
        if hop_ip is None:
            break  # garbage from the client's side of our proxies: stop at the last real hop
        client = hop_ip
        if not _trusted(hop_ip, proxies):
            break
    return str(client)
