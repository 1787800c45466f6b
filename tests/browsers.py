"""Debian's Chromium for the browser tests (playwright drives it; no browser is ever downloaded)."""

import ipaddress
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
# No first-run work, no background or component traffic: the browser talks only to the page's hosts.
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def is_loopback(url: str) -> bool:
    """Whether a URL's host is a loopback address (127.0.0.0/8, ::1) or localhost."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
