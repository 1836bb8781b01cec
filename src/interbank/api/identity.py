"""Who is calling: from the verified client certificate, or a development token.

Production identifies callers by mutual TLS only: the TLS layer has already checked
that the client's certificate chains to the network's CA; ``pki.identity_of`` then
checks it in full (dates, usage, revocation, the BIC/role statement) and names the
``Identity``. That costs a signature check, so the result is kept per certificate
(keyed by its DER bytes, the same bytes object on every request of a connection) and
re-checked every ``identity_recheck_s``; revocation is looked up on every request
(a set lookup; the list reloads itself when its file changes).

Development mode maps plain bearer tokens from a file to identities. The service
refuses to combine it with a production configuration (``settings.check_mode``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Protocol

from interbank.api import pki
from interbank.api.errors import ApiError
from interbank.api.tls import client_certificate_der

Identity = pki.Identity
Role = pki.ClientRole

# Certificates remembered; past this the cache starts again (a flood of distinct
# certificates costs signature checks, never memory).
_CACHED_CERTIFICATES_MAX = 10_000
_TOKENS_FILE_BYTES_MAX = 1024 * 1024


def unauthenticated(text: str) -> ApiError:
    return ApiError(401, "AG01", text, headers={"WWW-Authenticate": "Bearer"})


class IdentitySource(Protocol):
    mode: str

    def identify(self, scope: dict[str, Any]) -> Identity: ...

    def problem(self) -> str | None:
        """Why the source cannot identify anyone right now (None: fine), for readiness."""
        ...


class CertificateIdentities:
    """Identities from verified client certificates (production)."""

    mode = "mtls"

    def __init__(self, pki_directory: Path, recheck_s: int) -> None:
        paths = pki.PkiPaths(pki_directory)
        self.ca = pki.load_ca_certificate(paths.ca_certificate)
        self.crl = pki.RevocationList.load(paths.crl, self.ca)
        self._recheck_s = recheck_s
        self._known: dict[bytes, tuple[Identity, float]] = {}

    def identify(self, scope: dict[str, Any]) -> Identity:
        der = client_certificate_der(scope)
        if der is None:
            raise unauthenticated("no verified client certificate on this connection")
        now_s = time.monotonic()
        known = self._known.get(der)
        if known is not None and now_s - known[1] < self._recheck_s:
            identity = known[0]
            if self.crl.is_revoked(identity.serial):
                self._known.pop(der, None)
                raise unauthenticated(f"certificate {pki.serial_hex(identity.serial)} is revoked")
            return identity
        try:
            identity = pki.identity_of(der, self.ca, self.crl)
        except pki.CertificateRefusedError as error:
            self._known.pop(der, None)
            raise unauthenticated(f"client certificate refused: {error.text}") from None
        if len(self._known) >= _CACHED_CERTIFICATES_MAX:
            self._known.clear()
        self._known[der] = (identity, now_s)
        return identity

    def problem(self) -> str | None:
        error = self.crl.reload_error
        return None if error is None else f"revocation list: {error}"


class TokenIdentities:
    """Development only: ``Authorization: Bearer <token>`` mapped to identities.

    The file is JSON: ``{"<token>": {"bic": "...", "role": "participant",
    "currency": null, "holder": "..."}, ...}``.
    """

    mode = "dev-tokens"

    def __init__(self, tokens: dict[str, Identity]) -> None:
        self._tokens = dict(tokens)

    @staticmethod
    def load(path: Path) -> TokenIdentities:
        try:
            with path.open("rb") as handle:
                data = handle.read(_TOKENS_FILE_BYTES_MAX + 1)
        except OSError as error:
            raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
        if len(data) > _TOKENS_FILE_BYTES_MAX:
            raise ValueError(f"{path} is larger than {_TOKENS_FILE_BYTES_MAX} bytes")
        try:
            raw = json.loads(data)
        except ValueError as error:
            raise ValueError(f"{path} is not JSON: {error}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: an object of token -> identity")
        tokens: dict[str, Identity] = {}
        for token, entry in raw.items():
            tokens[token] = token_identity(token, entry, str(path))
        return TokenIdentities(tokens)

    def identify(self, scope: dict[str, Any]) -> Identity:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token:
                    break
                identity = self._tokens.get(token.strip())
                if identity is None:
                    raise unauthenticated("unknown bearer token")
                return identity
        raise unauthenticated("send Authorization: Bearer <token> (development mode)")

    def problem(self) -> str | None:
        return None


def token_identity(token: str, entry: object, where: str) -> Identity:
    """One token's identity, checked as strictly as a certificate's statement."""
    if not isinstance(token, str) or len(token) < 8:
        raise ValueError(f"{where}: tokens are strings of at least 8 characters")
    if not isinstance(entry, dict) or not isinstance(entry.get("bic"), str):
        raise ValueError(f"{where}: token {token[:4]}...: an object with bic and role")
    try:
        role = Role(entry.get("role"))
        holder = entry.get("holder")
        profile = pki.ClientProfile(
            entry["bic"], role, entry.get("currency"), holder if isinstance(holder, str) else None
        )
    except (ValueError, pki.PkiError) as error:
        raise ValueError(f"{where}: token {token[:4]}...: {error}") from None
    return Identity(profile.bic, profile.role, profile.currency, 0, profile.holder or profile.bic)
