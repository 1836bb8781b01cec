"""``interbank serve``: open the network, build the service, run it on uvicorn.

Production runs mutual TLS with the PKI directory (``--pki DIR``): the server
certificate and key, the CA that client certificates must chain to, and the
revocation list the service reloads. Development runs plain HTTP with bearer tokens
(``--dev-tokens FILE``) on loopback only; ``settings.check_mode`` refuses every mix.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

from interbank.api.approvals import ApprovalStore
from interbank.api.identity import CertificateIdentities, IdentitySource, TokenIdentities
from interbank.api.settings import (
    DevTokens,
    ServiceSettings,
    SettingsError,
    TlsSettings,
    check_mode,
)

ENVIRONMENT_ENV = "INTERBANK_ENV"

# uvicorn's keep-alive: banks hold connections open; idle ones are closed after this.
KEEP_ALIVE_TIMEOUT_S = 30
# Open connections at most (uvicorn answers 503 beyond); each costs a TLS session.
CONNECTIONS_MAX = 4_096


def production_requested() -> bool:
    return os.environ.get(ENVIRONMENT_ENV, "").strip().lower() == "production"


def open_service(
    db: str,
    settings: ServiceSettings,
    tls: TlsSettings | None,
    dev: DevTokens | None,
    schemas_dir: str | None = None,
) -> object:
    """The ``Service`` for ``db`` (a ``Service``; typed loosely so the CLI imports nothing)."""
    from interbank.api.service import Service
    from interbank.iso20022 import IsoSettings
    from interbank.iso20022.gateway import Gateway

    identities: IdentitySource
    if tls is not None:
        identities = CertificateIdentities(tls.pki_directory, settings.identity_recheck_s)
    else:
        assert dev is not None
        identities = TokenIdentities.load(dev.tokens_file)
    gateway = Gateway.open(db, IsoSettings.from_environment(schemas_dir))
    try:
        approvals = ApprovalStore.beside(db)
    except BaseException:
        gateway.close()
        raise
    return Service(gateway, settings, identities, approvals)


def serve(
    db: str,
    host: str,
    port: int,
    settings: ServiceSettings,
    tls: TlsSettings | None,
    dev: DevTokens | None,
    schemas_dir: str | None = None,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Run until SIGINT/SIGTERM; the node closes cleanly (snapshot) on the way out."""
    import uvicorn

    from interbank.api import pki
    from interbank.api.app import create_app
    from interbank.api.service import Service
    from interbank.api.tls import ClientCertificateProtocol

    check_mode(tls, dev, db, host, production_requested())
    # Refusals are warnings on interbank.api.access: shown unless the operator says not.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    ssl_factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None
    ssl_factory = None
    if tls is not None:
        directory = tls.pki_directory
        pki.ssl_context_for_server(directory)  # refuse missing or bad files before opening
        ssl_factory = lambda config, default: pki.ssl_context_for_server(directory)  # noqa: E731
    service = open_service(db, settings, tls, dev, schemas_dir)
    assert isinstance(service, Service)
    try:
        config = uvicorn.Config(
            create_app(service),
            host=host,
            port=port,
            http=ClientCertificateProtocol,
            loop="uvloop" if _has_uvloop() else "asyncio",
            ssl_context_factory=ssl_factory,
            access_log=False,
            log_level=log_level,
            timeout_keep_alive=KEEP_ALIVE_TIMEOUT_S,
            limit_concurrency=CONNECTIONS_MAX,
            lifespan="off",
            server_header=False,
        )
        server = uvicorn.Server(config)
        if on_ready is not None:
            scheme = "https" if tls is not None else "http"
            on_ready(f"{scheme}://{host}:{port}")
        server.run()
    finally:
        service.close()


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def settings_from(values: dict[str, int]) -> ServiceSettings:
    try:
        return ServiceSettings(**values)
    except (TypeError, SettingsError) as error:
        raise SettingsError(str(error)) from None


def tls_or_dev(
    pki_directory: str | None, dev_tokens: str | None
) -> tuple[TlsSettings | None, DevTokens | None]:
    tls = TlsSettings(Path(pki_directory)) if pki_directory else None
    dev = DevTokens(Path(dev_tokens)) if dev_tokens else None
    return tls, dev
