"""The client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy.

daphne runs without --proxy-headers (it would believe any caller's X-Forwarded-For, leftmost
entry first); `TrustedProxyMiddleware` sets REMOTE_ADDR instead, so rate limits and login
lockouts see the same address (daphne's own access log still shows the peer, i.e. the proxy).
X-Forwarded-For is read right to left, skipping the proxies in TRUSTED_PROXIES (CIDRs, default
none): the first address that is not one is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def resolve_client(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage in the header: keep the last address a trusted proxy vouched for
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client


def client_ip(request: Any) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        peer = request.META.get("REMOTE_ADDR", "") or ""
        request.META["REMOTE_ADDR"] = resolve_client(
            peer, request.META.get("HTTP_X_FORWARDED_FOR", ""), settings.TRUSTED_PROXY_NETWORKS
        )
        return self.get_response(request)
