"""Workshop mode: tokens that map to people and roles, read from a small config file.

    # workshop.toml
    [[people]]
    name = "instructor"
    role = "instructor"
    token = "change-me-instructor"

    [[people]]
    name = "ada"
    role = "participant"
    token_sha256 = "…"          # or a hash instead of the token itself

An instructor starts and cancels runs, which are shared with every participant. A
participant can list, watch and download the shared runs, and can start or cancel nothing.
With ``participants_may_fork = true`` at the top of the file, a participant may also fork a
shared run into a run of their own (``POST /runs/{id}/fork``), which only they and no one else
see and control; off by default, since each fork calls the model on the workshop's account.
Serve it with ``workbench serve --workshop workshop.toml`` (instead of ``--token``; allowed
off loopback, since everyone needs a token); each person then connects with their own
token, e.g. ``wb.connect(url, token=...)``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.redact import register_secret
from workbench.errors import UserError
from workbench.serving.service import Principal

__all__ = ["Workshop", "load_workshop", "token_sha256"]

_ROLES = ("instructor", "participant")
MIN_TOKEN_CHARS = 12


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token, for config files that should not hold the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Workshop:
    """Who may use a workshop server, by token."""

    people: tuple[tuple[str, Principal], ...]
    """(SHA-256 of the token, person) pairs."""

    def principal_for(self, token: str | None) -> Principal | None:
        """The person a token belongs to, or None; compares in constant time against every entry."""
        if not token:
            return None
        digest = token_sha256(token)
        found = None
        for expected, person in self.people:
            if hmac.compare_digest(digest, expected):
                found = person
        return found

    @property
    def instructors(self) -> list[str]:
        return [p.name for _, p in self.people if p.role == "instructor"]

    @property
    def participants(self) -> list[str]:
        return [p.name for _, p in self.people if p.role == "participant"]


def _entry(raw: Any, index: int, where: str) -> tuple[str, Principal]:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: people[{index}] must be a table with name, role and token")
    name, role = raw.get("name"), raw.get("role", "participant")
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{where}: people[{index}] needs a name")
    if role not in _ROLES:
        raise UserError(f"{where}: {name}: role must be one of {', '.join(_ROLES)}, not {role!r}")
    token, digest = raw.get("token"), raw.get("token_sha256")
    if (token is None) == (digest is None):
        raise UserError(f"{where}: {name}: give exactly one of token or token_sha256")
    if token is not None:
        # The server strips the token a request presents: one that is blank, or has whitespace
        # around it, could never log in.
        if isinstance(token, str) and not token.strip():
            raise UserError(f"{where}: {name}: the token is blank; give them a token of at least "
                            f"{MIN_TOKEN_CHARS} characters")
        if isinstance(token, str) and token != token.strip():
            raise UserError(f"{where}: {name}: the token starts or ends with whitespace, which is stripped from "
                            "the token a request sends, so it could never log in; remove the whitespace")
        if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
            raise UserError(f"{where}: {name}: a token needs at least {MIN_TOKEN_CHARS} characters")
        digest = token_sha256(token)
        register_secret(token)  # read in plain text: no event or log line may show it
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
        raise UserError(f"{where}: {name}: token_sha256 must be 64 hex digits")
    return digest.lower(), Principal(name.strip(), role)


def load_workshop(path: str | os.PathLike[str]) -> Workshop:
    """Read a workshop file (TOML); every mistake is a :class:`UserError` naming the file and the person."""
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{where}: no such workshop file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{where}: not valid TOML ({exc})") from None
    people = data.get("people")
    if not isinstance(people, list) or not people:
        raise UserError(f"{where}: list the people as [[people]] tables with name, role and token")
    may_fork = data.get("participants_may_fork", False)
    if not isinstance(may_fork, bool):
        raise UserError(f"{where}: participants_may_fork must be true or false")
    entries = tuple(_entry(raw, i, where) for i, raw in enumerate(people))
    if may_fork:
        entries = tuple((d, replace(p, forks_shared=True) if p.role == "participant" else p) for d, p in entries)
    names = [p.name for _, p in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"{where}: names must be unique; repeated: {', '.join(duplicates)}")
    digests = [d for d, _ in entries]
    if len(set(digests)) != len(digests):
        raise UserError(f"{where}: two people have the same token; give everyone their own")
    if not any(p.role == "instructor" for _, p in entries):
        raise UserError(f"{where}: a workshop needs at least one instructor")
    return Workshop(entries)
