"""Security headers that every response carries, SCIM or admin, success or error: set here and only here.
The API serves JSON to machines, so nothing may be sniffed, cached, framed, referred or run as a page."""
from __future__ import annotations

from flask import Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",             # responses carry personal data and fresh tokens
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


def add_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
