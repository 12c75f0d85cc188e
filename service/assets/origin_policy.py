"""Which origins asset copies may be fetched from, and which addresses they may resolve to.

An origin is fetched from only when an ingest key allows it: the configured keys'
`REPLAYDESK_INGEST_ORIGINS` and the origins of keys created with `replaydesk keys`. A key that
allows any origin (`*`) lets public addresses through, never another kind. Loopback and private
addresses (a site on the same machine or network as the service) are allowed only for an origin
a key names exactly: naming it is the deliberate act. Link-local (cloud metadata services),
multicast, reserved and unspecified addresses are never fetched from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import msgspec

from service.auth.keys import normalize_origin

__all__ = ["AddressKind", "OriginPolicy", "address_kind"]

ANY_ORIGIN = "*"
AddressKind = str  # "public", "private" (loopback included) or "forbidden"


def address_kind(address: str) -> AddressKind:
    """Whether an IP address is public, private (loopback, RFC 1918, unique local, shared
    address space) or one never to fetch from."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return "forbidden"
    # Before "reserved": IPv6's loopback lies in a reserved block.
    if ip.is_loopback:
        return "private"
    if ip.is_reserved:
        return "forbidden"
    if ip.is_private or ip in _SHARED_ADDRESS_SPACE:
        return "private"
    if not ip.is_global:
        return "forbidden"
    return "public"


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


class OriginPolicy(msgspec.Struct, frozen=True):
    """The origins ingest keys allow, as fetching sees them."""

    named: frozenset[str]
    any_public: bool = False

    @classmethod
    def from_origins(cls, origins: Iterable[str]) -> OriginPolicy:
        """The policy of these key origins (entries that are no origin are left out)."""
        named: set[str] = set()
        any_public = False
        for origin in origins:
            if origin.strip() == ANY_ORIGIN:
                any_public = True
                continue
            try:
                named.add(normalize_origin(origin))
            except ValueError:
                continue
        return cls(frozenset(named), any_public)

    def allows(self, origin: str) -> bool:
        """Whether `origin` (normalised) may be fetched from at all."""
        return self.any_public or origin in self.named

    def allows_address(self, origin: str, kind: AddressKind) -> bool:
        """Whether `origin` may be fetched from an address of this kind."""
        if kind == "public":
            return self.allows(origin)
        return kind == "private" and origin in self.named
