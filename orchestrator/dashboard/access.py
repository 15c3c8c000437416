"""Who may use the dashboard: a per-start token, a cookie, and same-origin writes.

As Jupyter does: ``lanewarden serve`` prints ``http://127.0.0.1:PORT/?token=T``;
the first visit trades the token for an HttpOnly, SameSite=Strict cookie and
is redirected to the same page without it (so it stays out of the history and
of shared screenshots). Every request needs the cookie or the token.

Writes (POST) need three things, any one failing refuses: the cookie, a CSRF
field derived from the token in the form, and an ``Origin`` (or ``Referer``)
that is this server. The ``Host`` header must name this server too, so a page
elsewhere cannot reach it through DNS rebinding.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

COOKIE = "lanewarden_desk"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True)
class Access:
    host: str
    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    @property
    def csrf(self) -> str:
        """The value every form carries; derived, so the token itself never appears in a page."""
        return hmac.new(self.token.encode(), b"lanewarden-csrf", hashlib.sha256).hexdigest()

    @property
    def origins(self) -> frozenset[str]:
        names = {self.host, *(LOOPBACK if self.host in LOOPBACK else ())}
        return frozenset(f"http://{n}:{self.port}" for n in names)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(o.removeprefix("http://") for o in self.origins)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest((given or "").encode(), self.token.encode())

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host in self.hosts

    def same_origin(self, origin: str | None, referer: str | None) -> bool:
        """A write comes from one of this server's own pages; neither header present is a refusal."""
        if origin:
            return origin in self.origins
        if referer:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}" in self.origins
        return False

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest((given or "").encode(), self.csrf.encode())
