"""How Okta's SCIM client sounds on the wire: User-Agent, content type, the two HTTP Header auth forms, the two
query encodings, and its 429 policy (Retry-After or 5 minutes, doubling, 10 tries) waited out on the harness clock."""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote, quote_plus

from harness.clock import Clock
from harness.transport import Exchange, ScimClient, TargetUnreachable

USER_AGENT = "Okta SCIM Client 1.0.0"              # okta_onelogin.md §0b
TIMEOUT_SECONDS = 60.0                             # "60 s with nothing received on the socket"
RATE_LIMIT_ATTEMPTS = 10                           # §6: gives up after 10 attempts
RATE_LIMIT_DEFAULT_WAIT = 300                      # 5 minutes when Retry-After is missing or not an integer

AUTH_MODES = ("header_bearer", "header_verbatim")
TOKEN_FIELDS = ("token", "bearer_token")
SPACE_ENCODINGS = ("%20", "+")


def authorization_field(token: str | None, token_field: str) -> str | None:
    """What the admin typed into the console's token field: the bare token (as a doc saying "paste your token"
    asks) or "Bearer <token>" (as the OIN Header Auth template needs)."""
    if token is None:
        return None
    return token if token_field == "token" else f"Bearer {token}"


class OktaScimClient(ScimClient):
    """ScimClient with Okta's headers. `auth_mode`: `header_bearer` (AIW HTTP Header, OIN OAuth Bearer template:
    Okta shows `Bearer` as a fixed prefix and adds it) or `header_verbatim` (OIN "SCIM 2.0 Test App (Header Auth)":
    the field is sent as typed). `space_encoding`: `%20` (current docs) or `+` (2018 docs) in filter values."""

    content_type = "application/scim+json; charset=utf-8"
    extra_headers = {"Accept-Charset": "utf-8"}

    def __init__(self, base_url: str, field: str | None, *, auth_mode: str = "header_bearer",
                 space_encoding: str = "%20", **kwargs: Any) -> None:
        kwargs.setdefault("user_agent", USER_AGENT)
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        super().__init__(base_url, field, **kwargs)
        self.auth_mode = auth_mode
        self.space_encoding = space_encoding

    def authorization(self) -> str | None:
        field = self._token
        if field is None:
            return None
        return f"Bearer {field}" if self.auth_mode == "header_bearer" else field

    def query(self, params: dict[str, str]) -> str:
        """filter=userName%20eq%20%22a%40b.c%22&startIndex=1&count=100 (or `+` for spaces): every reserved
        character percent-encoded, parameters in the order given."""
        encode = quote if self.space_encoding == "%20" else quote_plus
        return "&".join(f"{key}={encode(str(value), safe='')}" for key, value in params.items())


def retry_after_seconds(exchange: Exchange) -> int:
    """Retry-After as an integer number of seconds; anything else (absent, HTTP-date, fraction) means 5 minutes."""
    value = next((v for k, v in exchange.response_headers.items() if k.lower() == "retry-after"), None)
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else RATE_LIMIT_DEFAULT_WAIT


def send(client: ScimClient, clock: Clock, method: str, path: str, *,
         on_throttled: Callable[[Exchange, int], None] | None = None, **kwargs: Any) -> Exchange:
    """One Okta request under its 429 policy: the first wait is Retry-After (or 5 minutes), each further 429
    doubles the previous wait, and the 10th throttled attempt is final. No response at all comes back as an
    exchange with status None (Okta logs it as "null"), never as an exception."""
    wait: int | None = None
    attempt = 1
    while True:
        try:
            exchange = client.request(method, path, **kwargs)
        except TargetUnreachable as exc:
            return exc.exchange
        if exchange.status != 429 or attempt == RATE_LIMIT_ATTEMPTS:
            return exchange
        wait = retry_after_seconds(exchange) if wait is None else wait * 2
        if on_throttled:
            on_throttled(exchange, wait)
        clock.sleep(wait)
        attempt += 1
