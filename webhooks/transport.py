"""The one HTTP request of a delivery attempt, behind the SSRF guard.

A webhook URL is the caller's input, and the server sends requests to it: without a guard it
could reach the metadata service, the database or the admin of the network it runs in. So the
host is resolved here, every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved or a cloud metadata address), and the request goes to the
address that was checked — never resolved a second time, so a DNS answer that changes between
check and connect (rebinding) gains nothing. The Host header and the TLS server name (SNI, and
the certificate check) stay the URL's host name. Redirects are not followed; only http and https.
WEBHOOK_ALLOW_PRIVATE_NETWORKS=true lifts the address check (development and tests).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import urllib3
from django.conf import settings

METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack instance metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ERROR_BODY = 300  # characters of a refusing receiver's answer kept in the delivery log


class UnsafeUrl(ValueError):
    """A URL the server must not send to; the message says why, for the API's error details."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL (lower case, no brackets)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # the checked IP addresses to connect to, in the resolver's order
    userinfo: str = ""

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no HTTP answer (refused URL, network error, timeout)
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def split(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path, userinfo) of an http(s) URL, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"Not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl("Only http:// and https:// URLs are allowed")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], path, userinfo


def redacted(url: str) -> str:
    """The URL without a password in it, for logs and alerts."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return f"{scheme}://{netloc}{slash}{path}"


def refusal(address: str) -> str | None:
    """Why the server must not connect to this address, or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = [
        (ip in METADATA_ADDRESSES, "a cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    ]
    return next((reason for refused, reason in checks if refused), None)


def resolve(url: str, *, allow_private: bool | None = None) -> Target:
    """The checked target of `url`: every address its host resolves to must be allowed."""
    scheme, host, port, path, userinfo = split(url)
    allow = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS if allow_private is None else allow_private
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"The host {host} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise UnsafeUrl(
                    f"The host {host} resolves to {address}, {reason}; webhooks go to public addresses only"
                )
    return Target(scheme, host, port, path, tuple(addresses), userinfo)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float | None = None) -> Answer:
    """POSTs `body` to a checked address of `url` (the next one when a connection is refused);
    never raises, never follows a redirect. `timeout` covers every address together."""
    started = time.monotonic()
    try:
        target = resolve(url)
    except UnsafeUrl as exc:
        return Answer(None, _ms_since(started), f"refused: {exc}")
    timeout = settings.WEBHOOK_TIMEOUT if timeout is None else timeout
    request_headers = {
        **headers,
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": "claudeflow-webhooks/1",
    }
    if target.userinfo:
        request_headers.update(urllib3.make_headers(basic_auth=unquote(target.userinfo)))
    answer = Answer(None, 0, "no address")
    for address in target.addresses:
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            return Answer(None, _ms_since(started), f"timed out after {timeout:g} s")
        answer, connected = _post_to(address, target, body, request_headers, left, timeout, started)
        if connected:
            break
    return answer


def _post_to(
    address: str,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    left: float,
    timeout: float,
    started: float,
) -> tuple[Answer, bool]:
    """The answer from one address, and whether a connection was made (else try the next)."""
    pool = _pool(address, target, urllib3.Timeout(total=left))
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            text = response.read(MAX_ERROR_BODY * 4, decode_content=False).decode(errors="replace")
        finally:
            response.release_conn()
    except urllib3.exceptions.NewConnectionError as exc:  # refused, unreachable (a TimeoutError subclass)
        return Answer(None, _ms_since(started), f"request failed: {_reason(exc)}"), False
    except urllib3.exceptions.TimeoutError:
        return Answer(None, _ms_since(started), f"timed out after {timeout:g} s"), True
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Answer(None, _ms_since(started), f"request failed: {_reason(exc)}"), True
    finally:
        pool.close()
    latency = _ms_since(started)
    if 200 <= response.status < 300:
        return Answer(response.status, latency), True
    if 300 <= response.status < 400:
        location = response.headers.get("Location", "")
        return Answer(response.status, latency, f"redirect to {location[:200]!r} not followed"), True
    error = f"HTTP {response.status}: {text[:MAX_ERROR_BODY]}".rstrip(": ")
    return Answer(response.status, latency, error), True


def _pool(address: str, target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,  # SNI
            assert_hostname=target.host,  # the certificate is checked against the name, not the IP
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason)[:MAX_ERROR_BODY]


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
