"""The client certificate of a TLS connection, handed to the application.

uvicorn verifies the client certificate during the handshake (the context from
``pki.ssl_context_for_server`` demands one from the network's CA) but does not put it
in the ASGI scope. This protocol does, following the ASGI TLS extension
(``scope["extensions"]["tls"]``), with the certificate in DER form
(``client_cert_der``) besides the extension's PEM chain: the service maps DER to an
identity and keys its cache by those bytes. The certificate is read once per
connection, when the handshake is done, and the same dict is put into every request's
scope on that connection, so a request costs one dict assignment.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class ClientCertificateProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the peer certificate in every request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls_extension: dict[str, Any] | None = None
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            der = ssl_object.getpeercert(binary_form=True)
            self._tls_extension = {
                "client_cert_der": der,
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
                "client_cert_error": None if der else "no client certificate",
                "tls_version": None,
                "cipher_suite": None,
            }

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls_extension is not None:
            self.scope["extensions"] = {"tls": self._tls_extension}  # type: ignore[typeddict-unknown-key]


def client_certificate_der(scope: dict[str, Any]) -> bytes | None:
    """The DER bytes of the verified client certificate of this request, if any."""
    extensions = scope.get("extensions")
    if not extensions:
        return None
    tls = extensions.get("tls")
    if not tls:
        return None
    der = tls.get("client_cert_der")
    return der if isinstance(der, bytes) and der else None
