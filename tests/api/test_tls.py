"""Mutual TLS against a real `interbank serve` on loopback: the identity comes from the
verified client certificate; no certificate, a foreign CA or a revoked certificate get
nothing; development tokens are refused beside a PKI."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from interbank.api import pki
from interbank.node import Node

from .conftest import ACCOUNT_A, ACCOUNT_B, BANK_A, seed_commands

STARTUP_S_MAX = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_for(directory: Path, issued: pki.IssuedClient | None) -> httpx.Client:
    paths = pki.PkiPaths(directory)
    context = pki.ssl_context_for_client(
        paths.ca_certificate,
        None if issued is None else issued.certificate_path,
        None if issued is None else issued.key_path,
    )
    return httpx.Client(verify=context, timeout=10)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    root = tmp_path_factory.mktemp("tls")
    directory = root / "pki"
    pki.init_directory(directory)
    db = str(root / "net.db")
    with Node.open(db, create=True) as node:
        for group in seed_commands():
            node.submit(group)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "interbank.cli", "serve", "--db", db, "--pki", str(directory),
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_S_MAX
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start: {server.stderr.read()!r}") from None
                time.sleep(0.1)
        yield url, directory, port
    finally:
        server.terminate()
        server.wait(30)


def test_the_certificate_names_the_caller(network: tuple[str, Path, int]) -> None:
    url, directory, _ = network
    bank = pki.issue(directory, pki.ClientProfile(BANK_A, pki.ClientRole.PARTICIPANT))
    with client_for(directory, bank) as client:
        accounts = client.get(f"{url}/v1/accounts").json()["accounts"]
        assert [a["account_id"] for a in accounts] == [ACCOUNT_A]
        body = {"id": str(uuid.uuid4()), "debit_account_id": ACCOUNT_A,
                "credit_account_id": ACCOUNT_B, "amount_minor": 5}  # fmt: skip
        assert client.post(f"{url}/v1/transfers", json=body).json()["status"] == "ACSC"
        other = client.get(f"{url}/v1/accounts/{ACCOUNT_B}")
        assert other.status_code == 403
        assert client.get(f"{url}/health").status_code == 200


def test_no_certificate_or_a_foreign_one_gets_no_answer(
    network: tuple[str, Path, int], tmp_path: Path
) -> None:
    url, directory, _ = network
    with client_for(directory, None) as anonymous, pytest.raises(httpx.TransportError):
        anonymous.get(f"{url}/health")
    foreign = tmp_path / "foreign"
    pki.init_directory(foreign)
    stranger = pki.issue(foreign, pki.ClientProfile(BANK_A, pki.ClientRole.PARTICIPANT))
    context = pki.ssl_context_for_client(
        pki.PkiPaths(directory).ca_certificate, stranger.certificate_path, stranger.key_path
    )
    with httpx.Client(verify=context, timeout=10) as client, pytest.raises(httpx.TransportError):
        client.get(f"{url}/v1/accounts")


def test_a_revoked_certificate_is_refused_within_seconds(network: tuple[str, Path, int]) -> None:
    url, directory, _ = network
    bank = pki.issue(directory, pki.ClientProfile(BANK_A, pki.ClientRole.PARTICIPANT))
    with client_for(directory, bank) as client:
        assert client.get(f"{url}/v1/accounts").status_code == 200
        pki.revoke(directory, pki.serial_hex(bank.certificate.serial_number))
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            status = client.get(f"{url}/v1/accounts").status_code
        assert status == 401


def test_development_tokens_are_refused_beside_a_pki(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    pki.init_directory(directory)
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "interbank.cli", "serve", "--db", str(tmp_path / "x.db"),
         "--pki", str(directory), "--dev-tokens", str(tokens), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "development tokens are refused in a production configuration" in done.stderr


def test_tls_context_demands_a_client_certificate(network: tuple[str, Path, int]) -> None:
    _, directory, port = network
    context = ssl.create_default_context(cafile=str(pki.PkiPaths(directory).ca_certificate))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        # TLS 1.3 finishes the client's side before the server checks its certificate:
        # the refusal arrives as an alert (or a closed connection) on the first read.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            if not tls.recv(1024):
                raise ConnectionError("closed without an answer")
