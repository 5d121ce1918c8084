"""Who sent a request: the peer's address, or the client a trusted proxy names.

X-Forwarded-For is anyone's to write, so it is read only when the peer is one of
`trusted_proxies`, and then from the right: each proxy appends the address it saw, so the
first address from the right that is not a trusted proxy is the client. Entries left of it
were written by the client itself and are never believed.
"""

import ipaddress
from functools import lru_cache

from starlette.types import Scope

from app.contract.settings import Network

UNKNOWN = "unknown"  # a request without a peer address (a Unix socket, a test client)
MAX_ADDRESS_CHARS = 45  # the longest text form of an IPv6 address
IPV6_HOST_PREFIX = 64  # an IPv6 host is usually given a whole /64


class ClientResolver:
    """The client address of a request, under one list of trusted proxies."""

    def __init__(self, trusted_proxies: list[Network]) -> None:
        self.trusted_proxies = trusted_proxies

    def client(self, scope: Scope) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else UNKNOWN
        if not self.trusted_proxies or not self._is_trusted(address):
            return address
        forwarded = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        ]
        hops = [hop.strip() for value in forwarded for hop in value.split(",")]
        for hop in reversed(hops):
            if _ip(hop) is None:
                break  # a malformed entry: nothing left of it can be believed
            if not self._is_trusted(hop):
                return str(hop)
            address = hop
        return address

    def _is_trusted(self, address: str) -> bool:
        return in_networks(address, self.trusted_proxies)


def host_key(address: str) -> str:
    """The key one host's requests share: an IPv4 address, or an IPv6 address's /64."""
    if ":" not in address:
        return address
    try:
        network = ipaddress.ip_network(f"{address}/{IPV6_HOST_PREFIX}", strict=False)
    except ValueError:
        return address
    return str(network)


def in_networks(address: str, networks: list[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # Anyone can write X-Forwarded-For: only what could be an address is remembered.
    return _parse_ip(text) if len(text) <= MAX_ADDRESS_CHARS else None


@lru_cache(maxsize=16_384)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
