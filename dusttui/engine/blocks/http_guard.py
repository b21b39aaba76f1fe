"""Where a curl block may send a request, as core decides it (core/src/http/network.rs).

Every address a URL's host resolves to must be public: IPv4 `0.`, `127.`, `10.`, `192.168.`,
`169.254.`, `172.16-31.`, `100.64-127.` are refused, and IPv6 loopback, unspecified, link-local,
unique-local and IPv4-mapped private addresses ("Forbidden IP range: 10.0.0.1"). The check runs
for the first URL and for every redirect. An engine option lets tests reach loopback only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from urllib.parse import urlsplit

_SIMPLE = re.compile(r"^(0|127|10|192\.168|169\.254)\.")
_RANGE_172 = re.compile(r"^172\.(1[6-9]|2[0-9]|3[0-1])\.")
_RANGE_100 = re.compile(r"^100\.(6[4-9]|7[0-9]|8[0-9]|9[0-9]|1[01][0-9]|12[0-7])\.")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Forbidden(Exception):
    """The request may not be sent; the message is core's."""


def check_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> None:
    """core's `check_ipv4_is_public` / `check_ipv6_is_public`; Forbidden when private."""
    if allow_loopback and ip.is_loopback:
        return
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return check_ip(mapped, allow_loopback)
        first = ip.packed[0] << 8 | ip.packed[1]
        if (
            ip.is_loopback
            or ip.is_unspecified
            or (first & 0xFFC0) == 0xFE80
            or (first & 0xFE00) == 0xFC00
        ):
            raise Forbidden(f"Forbidden IP range: {ip}")
        return
    text = str(ip)
    if _SIMPLE.match(text) or _RANGE_172.match(text) or _RANGE_100.match(text):
        raise Forbidden(f"Forbidden IP range: {text}")


async def check_url(url: str, allow_loopback: bool = False) -> None:
    """core's `check_url_for_private_ip`: resolve the host, refuse any private address."""
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        raise Forbidden(str(exc)) from None
    if not host:
        raise Forbidden("Provided URL has an empty host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host)
    for address in addresses:
        check_ip(address, allow_loopback)


async def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except (OSError, UnicodeError) as exc:
        raise Forbidden(f"Could not resolve any address for host: {host} ({exc})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise Forbidden(f"Could not resolve any address for host: {host}")
    return addresses


def redacted_url(url: str) -> str:
    """core's `redacted_url`: scheme, host, port and path; no query, fragment or credentials."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<unparseable-url>"
    if not parts.scheme or not host:
        return "<unparseable-url>"
    if ":" in host:
        host = f"[{host}]"
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(parts.scheme) else ""
    return f"{parts.scheme}://{host}{shown_port}{parts.path or '/'}"
