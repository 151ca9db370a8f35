"""TLS for ``workbench serve`` and for the client: contexts built from PEM files, and
failures that say what to change.

The server loads its certificate once, at start, so a wrong file is a clear error before
anything listens. The client checks certificates against the system's trusted CAs, plus
the CA file given as ``cafile=`` or ``$WORKBENCH_CA_BUNDLE`` (a workshop's own CA).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import aiohttp

from workbench.errors import ServerError, UserError

__all__ = ["CA_BUNDLE_ENV", "server_context", "client_context", "connector", "tls_failure"]

CA_BUNDLE_ENV = "WORKBENCH_CA_BUNDLE"
"""A PEM file of CA certificates the client trusts besides the system's."""

_NAME_MISMATCH = frozenset({62, 64})
"""OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH: a trusted certificate for another name."""


def server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """The server's TLS: the certificate (chain) in ``certfile``, its key in ``keyfile`` or in ``certfile``.

    Raises :class:`UserError`, naming the file, for a file that cannot be read, one that holds
    no certificate or key, a key with a passphrase, or a key that is not the certificate's.
    """
    if "-----BEGIN CERTIFICATE-----" not in _read(certfile, "certificate file"):
        raise UserError(f"{certfile} holds no certificate: --certfile needs a PEM file with a "
                        "'-----BEGIN CERTIFICATE-----' block (the server's certificate first, then any intermediates)")
    key_path = keyfile if keyfile is not None else certfile
    if "PRIVATE KEY-----" not in _read(key_path, "key file"):
        if keyfile is None:
            raise UserError(f"{certfile} holds a certificate but no private key: pass the key's file with --keyfile")
        raise UserError(f"{keyfile} holds no private key: --keyfile needs a PEM file with a "
                        "'-----BEGIN PRIVATE KEY-----' block")

    def no_passphrase() -> bytes:  # no one is there to type one: never let OpenSSL prompt
        raise UserError(f"the key in {key_path} is protected by a passphrase, which workbench serve cannot ask for; "
                        f"give it an unencrypted copy (openssl pkey -in {key_path} -out key.pem), readable only by you")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile, password=no_passphrase)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise UserError(f"the key in {key_path} does not belong to the certificate in {certfile}: pass the key "
                            "that was made with that certificate") from None
        raise UserError(f"cannot load the certificate {certfile} with the key in {key_path} "
                        f"({exc.reason or exc}); both must be PEM files") from None
    except OSError as exc:  # the file changed since it was read
        raise UserError(f"cannot read {exc.filename or certfile}: {exc.strerror or exc}") from None
    return context


def client_context(cafile: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """Certificate checks for the client: the system's trusted CAs, plus ``cafile`` (or ``$WORKBENCH_CA_BUNDLE``)."""
    source = "cafile="
    if cafile is None:
        cafile, source = os.environ.get(CA_BUNDLE_ENV) or None, CA_BUNDLE_ENV
    context = ssl.create_default_context()
    if cafile is None:
        return context
    path = os.fspath(cafile)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise UserError(f"the CA file {path} ({source}) holds no CA certificate ({exc.reason or exc}): it must be "
                        "a PEM file of '-----BEGIN CERTIFICATE-----' blocks, such as the workshop's ca.pem") from None
    except OSError as exc:
        raise UserError(f"cannot read the CA file {path} ({source}): {exc.strerror or exc}") from None
    return context


def connector(context: ssl.SSLContext | None) -> aiohttp.TCPConnector:
    """A connector whose HTTPS requests check certificates with ``context`` (None: the system's CAs)."""
    return aiohttp.TCPConnector(ssl=context if context is not None else True)


def tls_failure(url: str, exc: aiohttp.ClientSSLError) -> ServerError:
    """The error of a failed TLS handshake with the server at ``url``, saying what to do about it."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        reason = str(getattr(error, "verify_message", None) or error).rstrip(".")
        if getattr(error, "verify_code", None) in _NAME_MISMATCH:
            return ServerError(f"the TLS certificate of {url} failed verification ({reason}): connect with the "
                               "host name or address the certificate was made for")
        return ServerError(f"the TLS certificate of {url} failed verification ({reason}). If the server has a "
                           "certificate of its own (a workshop's self-signed one, say), trust its CA: "
                           f"wb.connect(url, cafile='ca.pem'), or set {CA_BUNDLE_ENV}=ca.pem")
    reason = getattr(exc.os_error, "reason", None) or str(exc.os_error)
    return ServerError(f"the TLS handshake with {url} failed ({reason}); does the server speak HTTPS? "
                       "A server without --certfile takes an http:// URL")


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise UserError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
