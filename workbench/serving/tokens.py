"""Who a request comes from, for the standalone server: tokens mapped to principals.

An *authenticator* is any function ``(token or None) -> Principal or None``; ``None`` means
"refused". The server only asks it, so another mapping (workshop mode: tokens of people
and roles read from a config file) slots in without touching a handler.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Callable, Mapping

from workbench.core.redact import register_secret
from workbench.serving.service import Principal

__all__ = ["Authenticator", "OWNER", "open_access", "single_token", "token_table"]

Authenticator = Callable[[str | None], Principal | None]
"""Maps the token a request presented (None when it presented none) to who it is, or None."""

OWNER = Principal("owner")
"""The one user of a server started with a single token (or none, on loopback)."""


def open_access(principal: Principal = OWNER) -> Authenticator:
    """No token configured (loopback only): every request is the one local user."""

    def authenticate(token: str | None) -> Principal | None:
        return principal

    return authenticate


def single_token(token: str, principal: Principal = OWNER) -> Authenticator:
    """One token, one user."""
    return token_table({token: principal})


def token_table(tokens: Mapping[str, Principal]) -> Authenticator:
    """Several tokens, each naming a principal (workshop mode: people and their roles).

    Every configured token is compared, in constant time, with digests of equal length, so
    neither the time taken nor the answer tells a caller anything about the tokens.
    """
    if not tokens or any(not isinstance(t, str) or not t for t in tokens):
        raise ValueError("every token must be a non-empty string")
    for token in tokens:
        register_secret(token)  # no event or log line may show it
    table = [(hashlib.sha256(t.encode()).digest(), p) for t, p in tokens.items()]

    def authenticate(token: str | None) -> Principal | None:
        presented = hashlib.sha256((token or "").encode()).digest()
        found: Principal | None = None
        for digest, principal in table:
            if hmac.compare_digest(presented, digest) and token:
                found = principal
        return found

    return authenticate
