"""Security headers on every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request


def content_security_policy(cdn_script_url: str) -> str:
    # Only the one pinned file is allowed from the CDN, not everything the CDN serves.
    cdn = urlsplit(cdn_script_url)
    cdn_script = f"{cdn.scheme}://{cdn.netloc}{cdn.path}"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {cdn_script}",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'self'",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def register_security_headers(app: Flask) -> None:
    policy = content_security_policy(app.config["HTMX_CDN_URL"])

    @app.after_request
    def set_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Pages can hold private data (access needs, payments): never keep them in caches.
            headers.setdefault("Cache-Control", "no-store")
        return response
