"""The network's PKI: certificates issued and verified, refusals with their reasons,
revocation reloaded by a running service, and real mutual-TLS handshakes on loopback.

Every refusal must be a CertificateRefusedError naming the failed check, never another
exception: the service turns it into a 401/403 and a log line, not a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from interbank.api import pki
from interbank.api.pki import (
    CertificateRefusedError,
    ClientProfile,
    ClientRole,
    Identity,
    PkiError,
    RefusalReason,
    RevocationList,
)
from interbank.cli import app

SOCKET_TIMEOUT_S = 5.0
NOW = dt.datetime.now(dt.UTC)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    pki.init_directory(directory, hosts=["rtgs.example.net", "10.1.2.3"])
    return directory


@pytest.fixture
def ca(pki_dir: Path) -> x509.Certificate:
    return pki.load_ca_certificate(pki_dir)


@pytest.fixture
def crl(pki_dir: Path, ca: x509.Certificate) -> RevocationList:
    # Interval 0: every question looks at the file, so tests need not sleep.
    return RevocationList.load(pki_dir / "crl.pem", ca, reload_check_interval_ms=0)


def _issue(
    pki_dir: Path,
    bic: str = "BANKDEFF",
    role: ClientRole = ClientRole.PARTICIPANT,
    currency: str | None = None,
    holder: str | None = None,
    **kwargs: Any,
) -> pki.IssuedClient:
    return pki.issue(pki_dir, ClientProfile(bic, role, currency, holder), **kwargs)


def _refused(
    reason: RefusalReason, check: Callable[[], object], words: str | None = None
) -> CertificateRefusedError:
    with pytest.raises(CertificateRefusedError) as caught:
        check()
    assert caught.value.reason is reason, caught.value
    if words is not None:
        assert words in caught.value.text
    return caught.value


def _forge(
    pki_dir: Path,
    *,
    subject: list[tuple[x509.ObjectIdentifier, str]] | None = None,
    urns: tuple[str, ...] = ("urn:interbank:bic:BANKDEFF:role:participant",),
    usage: x509.KeyUsage | None = None,
    extended: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    extra: x509.ExtensionType | None = None,
    extra_critical: bool = False,
) -> bytes:
    """A certificate the network's own CA signed, but not as ``pki.issue`` would."""
    authority = pki.load_authority(pki_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = subject or [
        (NameOID.ORGANIZATION_NAME, "BANKDEFF"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "participant"),
        (NameOID.COMMON_NAME, "BANKDEFF"),
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes]))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage or pki._key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(extended)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    if urns:
        names = [x509.UniformResourceIdentifier(urn) for urn in urns]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if extra is not None:
        builder = builder.add_extension(extra, critical=extra_critical)
    certificate = builder.sign(authority.key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.DER)


# --- issue and verify -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bic", "role", "currency", "holder"),
    [
        ("BANKDEFF", ClientRole.PARTICIPANT, None, None),
        ("BANKDEFF123", ClientRole.PARTICIPANT, None, "payments gateway 1"),
        ("MARKDEFF", ClientRole.CENTRAL_BANK, "EUR", None),
        ("BCBLBRDF", ClientRole.CENTRAL_BANK, "BRL", "Ana Souza"),
        ("NETWCHZZ", ClientRole.OPERATOR, None, "Alice Operator"),
        ("NETWCHZZ", ClientRole.AUDITOR, None, None),
    ],
)
def test_issued_certificate_verifies_to_its_identity(
    pki_dir: Path,
    ca: x509.Certificate,
    crl: RevocationList,
    bic: str,
    role: ClientRole,
    currency: str | None,
    holder: str | None,
) -> None:
    issued = _issue(pki_dir, bic, role, currency, holder)
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    expected = Identity(bic, role, currency, issued.certificate.serial_number, holder or bic)
    # The same answer from DER (what ssl's getpeercert gives), PEM bytes, PEM text.
    assert pki.identity_of(der, ca, crl) == expected
    assert pki.identity_of(issued.certificate_path.read_bytes(), ca, crl) == expected
    assert pki.identity_of(issued.certificate_path.read_text(), ca, crl) == expected


def test_client_certificate_profile(pki_dir: Path) -> None:
    issued = _issue(pki_dir, "MARKDEFF", ClientRole.CENTRAL_BANK, "EUR", validity_days=30)
    certificate = issued.certificate
    extensions = certificate.extensions
    assert certificate.subject.rfc4514_string() == "CN=MARKDEFF,OU=central_bank,O=MARKDEFF"
    alt = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:interbank:bic:MARKDEFF:role:central_bank:currency:EUR"
    ]
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == dt.timedelta(days=30, seconds=pki.BACKDATE_S)
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"
    # Serials are random and large (no counter anyone could predict).
    other = _issue(pki_dir).certificate.serial_number
    assert certificate.serial_number != other
    assert certificate.serial_number.bit_length() > 64 and other.bit_length() > 64
    assert issued.key_path is not None
    assert stat.S_IMODE(issued.key_path.stat().st_mode) == 0o600
    # The CA keeps its own copy of what it signed.
    recorded = pki_dir / "issued" / f"{pki.serial_hex(certificate.serial_number)}.pem"
    assert x509.load_pem_x509_certificate(recorded.read_bytes()) == certificate


def test_ca_and_server_certificates(pki_dir: Path, ca: x509.Certificate) -> None:
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert stat.S_IMODE((pki_dir / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((pki_dir / "server.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700
    server = x509.load_pem_x509_certificate((pki_dir / "server.pem").read_bytes())
    alt = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["localhost", "rtgs.example.net"]
    assert [str(ip) for ip in alt.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
    ]
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    server.verify_directly_issued_by(ca)


def test_init_never_replaces_a_ca(pki_dir: Path) -> None:
    before = (pki_dir / "ca.key").read_bytes()
    with pytest.raises(PkiError, match="already holds a certificate authority"):
        pki.init_directory(pki_dir)
    assert (pki_dir / "ca.key").read_bytes() == before


def test_init_refuses_a_bad_host_before_writing(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="neither a DNS name nor an IP address"):
        pki.init_directory(tmp_path / "pki", hosts=["bad host!"])
    assert not (tmp_path / "pki").exists()


@pytest.mark.parametrize(
    ("bic", "role", "currency", "reason_code", "words"),
    [
        ("BANKDEF", ClientRole.PARTICIPANT, None, "RC01", "not a BIC"),
        ("bankdeff", ClientRole.PARTICIPANT, None, "RC01", "not a BIC"),
        ("BANKQQFF", ClientRole.PARTICIPANT, None, "RC01", "QQ is not a country code"),
        ("BANKDEFFXXX", ClientRole.PARTICIPANT, None, "RC01", "as BANKDEFF"),
        ("MARKDEFF", ClientRole.CENTRAL_BANK, None, "AM03", "names its currency"),
        ("MARKDEFF", ClientRole.CENTRAL_BANK, "XYZ", "AM03", "ISO 4217"),
        ("BANKDEFF", ClientRole.PARTICIPANT, "EUR", "AM03", "only a central bank"),
    ],
)
def test_profile_refuses_what_is_not_an_identity(
    bic: str, role: ClientRole, currency: str | None, reason_code: str, words: str
) -> None:
    with pytest.raises(PkiError) as caught:
        ClientProfile(bic, role, currency)
    assert caught.value.reason_code == reason_code
    assert words in caught.value.text


def test_issue_refuses_bad_holder_and_days(pki_dir: Path) -> None:
    with pytest.raises(PkiError, match="holder"):
        ClientProfile("BANKDEFF", ClientRole.OPERATOR, holder="x\nO=OTHRDEFF")
    with pytest.raises(PkiError, match="1 to 825 days"):
        _issue(pki_dir, validity_days=826)
    with pytest.raises(PkiError, match="1 to 825 days"):
        _issue(pki_dir, validity_days=0)


def test_issue_from_a_csr_keeps_the_key_with_the_bank(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    # The request asks for another bank's BIC: the CA ignores the request's subject.
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OTHRDEFF")]))
        .sign(key, hashes.SHA256())
    )
    issued = pki.issue(
        pki_dir,
        ClientProfile("BANKDEFF", ClientRole.PARTICIPANT),
        csr_pem=request.public_bytes(serialization.Encoding.PEM),
        out_directory=tmp_path / "out",
    )
    assert issued.key_path is None
    assert issued.certificate_path.parent == tmp_path / "out"
    assert issued.certificate.public_key() == key.public_key()
    assert pki.identity_of(issued.certificate, ca, crl).bic == "BANKDEFF"


def test_issue_refuses_weak_or_broken_csrs(pki_dir: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(weak, hashes.SHA256())
    )
    with pytest.raises(PkiError, match="1024 bits is too short"):
        _issue(pki_dir, csr_pem=request.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(PkiError, match="not a certificate signing request"):
        _issue(pki_dir, csr_pem=b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n")
    good = ec.generate_private_key(ec.SECP256R1())
    der = bytearray(
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(good, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    der[-3] ^= 0x01  # inside the signature: the request no longer proves the key
    with pytest.raises(PkiError):
        _issue(pki_dir, csr_pem=bytes(der))


def test_ca_key_under_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "pki"
    pki.init_directory(directory, passphrase="correct horse")
    assert b"ENCRYPTED" in (directory / "ca.key").read_bytes()
    monkeypatch.delenv(pki.PASSPHRASE_ENV, raising=False)
    with pytest.raises(PkiError, match="is encrypted; set INTERBANK_PKI_PASSPHRASE"):
        pki.load_authority(directory)
    with pytest.raises(PkiError, match="wrong passphrase"):
        pki.load_authority(directory, "wrong")
    monkeypatch.setenv(pki.PASSPHRASE_ENV, "correct horse")
    assert _issue(directory).certificate.issuer == pki.load_ca_certificate(directory).subject


# --- refusals, each with its reason ----------------------------------------------------------


def test_expired_and_not_yet_valid(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    issued = _issue(pki_dir, validity_days=10).certificate
    _refused(
        RefusalReason.EXPIRED,
        lambda: pki.identity_of(issued, ca, crl, NOW + dt.timedelta(days=11)),
        "expired at",
    )
    _refused(
        RefusalReason.NOT_YET_VALID,
        lambda: pki.identity_of(issued, ca, crl, NOW - dt.timedelta(hours=1)),
        "valid only from",
    )
    # Issued in the past and long expired, and issued to start in the future.
    old = _issue(pki_dir, validity_days=1, now=NOW - dt.timedelta(days=3)).certificate
    _refused(RefusalReason.EXPIRED, lambda: pki.identity_of(old, ca, crl))
    future = _issue(pki_dir, validity_days=5, now=NOW + dt.timedelta(days=2)).certificate
    _refused(RefusalReason.NOT_YET_VALID, lambda: pki.identity_of(future, ca, crl))


def test_certificate_of_another_network_is_untrusted(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList, tmp_path: Path
) -> None:
    # Same CA name, other key: the name alone must not be trusted.
    other = tmp_path / "other"
    pki.init_directory(other)
    foreign = _issue(other).certificate
    _refused(
        RefusalReason.UNTRUSTED,
        lambda: pki.identity_of(foreign, ca, crl),
        "not issued by this network's CA",
    )


def test_tampered_certificate_is_refused(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    der = _issue(pki_dir, "BANKDEFF").certificate.public_bytes(serialization.Encoding.DER)
    # Same length BIC in the URI: only the signature can tell.
    forged = der.replace(b"BANKDEFF", b"OTHRDEFF")
    assert forged != der
    _refused(RefusalReason.UNTRUSTED, lambda: pki.identity_of(forged, ca, crl))


def test_revoked_certificate_is_refused(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    issued = _issue(pki_dir)
    assert pki.identity_of(issued.certificate, ca, crl).bic == "BANKDEFF"
    serial, newly = pki.revoke(
        pki_dir, str(issued.certificate_path), x509.ReasonFlags.key_compromise
    )
    assert newly and serial == issued.certificate.serial_number
    _refused(
        RefusalReason.REVOKED,
        lambda: pki.identity_of(issued.certificate, ca, crl),
        "has been revoked",
    )


def test_wrong_key_usage_is_refused(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    server = (pki_dir / "server.pem").read_bytes()
    _refused(RefusalReason.KEY_USAGE, lambda: pki.identity_of(server, ca, crl), "no clientAuth")
    _refused(
        RefusalReason.KEY_USAGE, lambda: pki.identity_of(ca, ca, crl), "not a client certificate"
    )
    no_signature = _forge(pki_dir, usage=pki._key_usage(crl_sign=True))
    _refused(
        RefusalReason.KEY_USAGE, lambda: pki.identity_of(no_signature, ca, crl), "digitalSignature"
    )
    email_only = _forge(pki_dir, extended=(ExtendedKeyUsageOID.EMAIL_PROTECTION,))
    _refused(RefusalReason.KEY_USAGE, lambda: pki.identity_of(email_only, ca, crl))


@pytest.mark.parametrize(
    ("forged", "words"),
    [
        ({"urns": ()}, "no subjectAltName"),
        ({"urns": ("https://bank.example",)}, "has 0 urn:interbank: names"),
        (
            {
                "urns": (
                    "urn:interbank:bic:BANKDEFF:role:participant",
                    "urn:interbank:bic:OTHRDEFF:role:participant",
                )
            },
            "has 2 urn:interbank: names",
        ),
        ({"urns": ("urn:interbank:bic:BANKDEFF:role:king",)}, "unknown role"),
        ({"urns": ("urn:interbank:bic:BANKQQFF:role:participant",)}, "not a country code"),
        ({"urns": ("urn:interbank:bic:BANKDEFF",)}, "is not urn:interbank:bic:"),
        ({"urns": ("urn:interbank:bic:MARKDEFF:role:central_bank",)}, "names its currency"),
        (
            {
                "subject": [
                    (NameOID.ORGANIZATION_NAME, "OTHRDEFF"),
                    (NameOID.ORGANIZATIONAL_UNIT_NAME, "participant"),
                ]
            },
            "disagrees with",
        ),
        (
            {
                "subject": [
                    (NameOID.ORGANIZATION_NAME, "BANKDEFF"),
                    (NameOID.ORGANIZATIONAL_UNIT_NAME, "participant"),
                    (NameOID.ORGANIZATIONAL_UNIT_NAME, "operator"),
                ]
            },
            "repeats OU",
        ),
    ],
)
def test_certificate_without_a_consistent_identity_is_refused(
    pki_dir: Path,
    ca: x509.Certificate,
    crl: RevocationList,
    forged: dict[str, Any],
    words: str,
) -> None:
    der = _forge(pki_dir, **forged)
    _refused(RefusalReason.IDENTITY, lambda: pki.identity_of(der, ca, crl), words)


def test_unknown_critical_extension_fails_path_validation(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    extension = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"
    )
    der = _forge(pki_dir, extra=extension, extra_critical=True)
    _refused(RefusalReason.UNTRUSTED, lambda: pki.identity_of(der, ca, crl), "path validation")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        b"\x30\x82\xff\xff" + b"\x00" * 40,
        b"\x30" * (pki.CERTIFICATE_BYTES_MAX + 1),
        "-----BEGIN CERTIFICATE-----\nÄÖÜ\n-----END CERTIFICATE-----\n",
        None,
        12345,
    ],
)
def test_malformed_input_is_refused(
    ca: x509.Certificate, crl: RevocationList, data: object
) -> None:
    _refused(RefusalReason.MALFORMED, lambda: pki.identity_of(data, ca, crl))  # type: ignore[arg-type]


def test_truncated_certificate_is_malformed(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    der = _issue(pki_dir).certificate.public_bytes(serialization.Encoding.DER)
    for length in (1, 10, len(der) // 2, len(der) - 1):
        _refused(
            RefusalReason.MALFORMED, lambda length=length: pki.identity_of(der[:length], ca, crl)
        )


def test_damaged_version_is_malformed(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList
) -> None:
    # Found by the byte-flip test below: cryptography reads the version lazily.
    der = bytearray(_issue(pki_dir).certificate.public_bytes(serialization.Encoding.DER))
    version_at = der.index(b"\xa0\x03\x02\x01\x02") + 4  # [0] EXPLICIT INTEGER 2 (v3)
    der[version_at] = 0x07
    _refused(RefusalReason.MALFORMED, lambda: pki.identity_of(bytes(der), ca, crl))


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[x509.Certificate, RevocationList, bytes]:
    """One CA and one certificate for the tests that only read (hypothesis runs many)."""
    directory = tmp_path_factory.mktemp("shared") / "pki"
    pki.init_directory(directory)
    ca = pki.load_ca_certificate(directory)
    der = _issue(directory).certificate.public_bytes(serialization.Encoding.DER)
    return ca, RevocationList.load(directory / "crl.pem", ca), der


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_byte_changed_is_refused_or_the_same_identity(
    shared: tuple[x509.Certificate, RevocationList, bytes], position: int, value: int
) -> None:
    ca, crl, original_der = shared
    original = pki.identity_of(original_der, ca, crl)
    der = bytearray(original_der)
    der[position % len(der)] = value
    try:
        identity = pki.identity_of(bytes(der), ca, crl)
    except CertificateRefusedError:
        return
    # Only the unchanged byte (value equal to the old one) can pass: the signature
    # covers everything that carries meaning.
    assert identity == original
    assert bytes(der) == original_der


# --- the revocation list ----------------------------------------------------------------------


def test_revocation_list_reloads_when_the_file_changes(pki_dir: Path, ca: x509.Certificate) -> None:
    first, second = _issue(pki_dir).certificate, _issue(pki_dir).certificate
    lazy = RevocationList.load(pki_dir / "crl.pem", ca, reload_check_interval_ms=60_000)
    eager = RevocationList.load(pki_dir / "crl.pem", ca, reload_check_interval_ms=0)
    assert lazy.crl_number == 1 and not lazy.serials
    pki.revoke(pki_dir, pki.serial_hex(first.serial_number))
    assert eager.is_revoked(first) and not eager.is_revoked(second)
    assert eager.crl_number == 2
    # The lazy one looks at the file at most once a minute, until told to look now.
    assert not lazy.is_revoked(first)
    assert lazy.reload_if_changed() and lazy.is_revoked(first)
    assert not lazy.reload_if_changed()  # nothing new
    serial, newly = pki.revoke(pki_dir, pki.serial_hex(first.serial_number))
    assert (serial, newly) == (first.serial_number, False)
    assert eager.crl_number == 2  # revoking twice did not even re-sign
    pki.revoke(pki_dir, f"0x{second.serial_number:X}")
    assert eager.serials == {first.serial_number, second.serial_number}


def test_a_damaged_or_forged_list_never_unrevokes(
    pki_dir: Path, ca: x509.Certificate, crl: RevocationList, tmp_path: Path
) -> None:
    issued = _issue(pki_dir).certificate
    pki.revoke(pki_dir, pki.serial_hex(issued.serial_number))
    assert crl.is_revoked(issued)
    # An empty list signed by another CA, put in place the way revoke writes.
    other = tmp_path / "other"
    pki.init_directory(other)
    os.replace(other / "crl.pem", pki_dir / "crl.pem")
    assert crl.is_revoked(issued)
    assert crl.reload_error is not None and "not signed by this network's CA" in crl.reload_error
    (pki_dir / "crl.pem").write_bytes(b"garbage")
    assert crl.is_revoked(issued)
    assert "not a revocation list" in (crl.reload_error or "")
    (pki_dir / "crl.pem").unlink()
    assert crl.is_revoked(issued)
    assert "cannot read" in (crl.reload_error or "")
    # A service must not start without a readable list.
    with pytest.raises(PkiError, match=r"crl\.pem"):
        RevocationList.load(pki_dir / "crl.pem", ca)


def test_revoke_refuses_what_this_ca_did_not_issue(pki_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="issued no certificate with serial abc123"):
        pki.revoke(pki_dir, "ABC123")
    with pytest.raises(PkiError, match="not a certificate serial"):
        pki.revoke(pki_dir, "12-34")
    other = tmp_path / "other"
    pki.init_directory(other)
    foreign = _issue(other)
    with pytest.raises(PkiError, match="was not issued by the CA"):
        pki.revoke(pki_dir, str(foreign.certificate_path))


def test_concurrent_revocations_all_land(pki_dir: Path, ca: x509.Certificate) -> None:
    serials = [_issue(pki_dir).certificate.serial_number for _ in range(6)]
    threads = [
        threading.Thread(target=pki.revoke, args=(pki_dir, pki.serial_hex(serial)))
        for serial in serials
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    crl = pki.read_crl(pki_dir / "crl.pem", ca)
    assert {entry.serial_number for entry in crl} == set(serials)


def test_refresh_keeps_entries_and_moves_next_update(pki_dir: Path, ca: x509.Certificate) -> None:
    issued = _issue(pki_dir).certificate
    pki.revoke(pki_dir, pki.serial_hex(issued.serial_number))
    later = NOW + dt.timedelta(days=20)
    refreshed = pki.refresh_crl(pki_dir, now=later)
    assert [entry.serial_number for entry in refreshed] == [issued.serial_number]
    assert refreshed.next_update_utc is not None
    assert refreshed.next_update_utc > later + dt.timedelta(days=pki.CRL_VALIDITY_DAYS - 1)
    assert (
        pki.read_crl(pki_dir / "crl.pem", ca)
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
        == 3
    )


def test_authenticator_remembers_only_what_cannot_change(pki_dir: Path) -> None:
    authenticator = pki.ClientAuthenticator.from_directory(pki_dir, reload_check_interval_ms=0)
    issued = _issue(pki_dir, validity_days=10).certificate
    der = issued.public_bytes(serialization.Encoding.DER)
    first = authenticator.identity(der)
    assert authenticator.identity(der) == first  # from memory this time
    _refused(
        RefusalReason.EXPIRED,
        lambda: authenticator.identity(der, NOW + dt.timedelta(days=11)),
    )
    pki.revoke(pki_dir, pki.serial_hex(issued.serial_number))
    _refused(RefusalReason.REVOKED, lambda: authenticator.identity(der))
    _refused(RefusalReason.MALFORMED, lambda: authenticator.identity(b"junk"))


# --- TLS on loopback ------------------------------------------------------------------------


class _OneConnectionServer:
    """Accepts one TLS connection in a thread, answers "pong" to a verified client."""

    def __init__(self, context: ssl.SSLContext, authenticator: pki.ClientAuthenticator) -> None:
        self.context = context
        self.authenticator = authenticator
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(SOCKET_TIMEOUT_S)
        self.port = self.listener.getsockname()[1]
        self.identity: Identity | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError as error:
            self.error = error
            return
        connection.settimeout(SOCKET_TIMEOUT_S)
        try:
            with self.context.wrap_socket(connection, server_side=True) as tls:
                self.identity = self.authenticator.identity(tls.getpeercert(binary_form=True))
                if tls.recv(4) == b"ping":
                    tls.sendall(b"pong")
        except (ssl.SSLError, OSError, CertificateRefusedError) as error:
            self.error = error
        finally:
            connection.close()
            self.listener.close()

    def join(self) -> None:
        self.thread.join(SOCKET_TIMEOUT_S * 2)
        assert not self.thread.is_alive()


def _talk(port: int, context: ssl.SSLContext) -> bytes:
    """ping over TLS; what came back (b"" when the server hung up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                return tls.recv(4)
        except (ssl.SSLError, ConnectionError):
            return b""


# The client side of the old-protocol case asks for TLS 1.1 on purpose.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_handshake_with_and_without_a_client_certificate(pki_dir: Path, tmp_path: Path) -> None:
    server_context = pki.ssl_context_for_server(pki_dir)
    assert server_context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert server_context.verify_mode is ssl.CERT_REQUIRED
    authenticator = pki.ClientAuthenticator.from_directory(pki_dir)
    issued = _issue(pki_dir, "MARKDEFF", ClientRole.CENTRAL_BANK, "EUR")
    ca_path = pki_dir / "ca.pem"

    # A client with a certificate of this network: the server learns who it is.
    server = _OneConnectionServer(server_context, authenticator)
    client = pki.ssl_context_for_client(ca_path, issued.certificate_path, issued.key_path)
    assert _talk(server.port, client) == b"pong"
    server.join()
    assert server.error is None
    assert server.identity == Identity(
        "MARKDEFF", ClientRole.CENTRAL_BANK, "EUR", issued.certificate.serial_number, "MARKDEFF"
    )

    # No client certificate: the handshake fails on the server, the client gets nothing.
    server = _OneConnectionServer(server_context, authenticator)
    assert _talk(server.port, pki.ssl_context_for_client(ca_path, None, None)) == b""
    server.join()
    assert isinstance(server.error, ssl.SSLError) and server.identity is None

    # A certificate of another network: refused in the handshake.
    other = tmp_path / "other"
    pki.init_directory(other)
    foreign = _issue(other)
    server = _OneConnectionServer(server_context, authenticator)
    client = pki.ssl_context_for_client(ca_path, foreign.certificate_path, foreign.key_path)
    assert _talk(server.port, client) == b""
    server.join()
    assert isinstance(server.error, ssl.SSLError)

    # TLS 1.1 and older are not spoken.
    server = _OneConnectionServer(server_context, authenticator)
    client = pki.ssl_context_for_client(ca_path, issued.certificate_path, issued.key_path)
    client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    client.maximum_version = ssl.TLSVersion.TLSv1_1
    assert _talk(server.port, client) == b""
    server.join()
    assert server.error is not None and server.identity is None


def test_tls_passes_a_revoked_certificate_to_the_service_which_refuses_it(
    pki_dir: Path,
) -> None:
    # Revocation is the service's check (the CRL reloads there), not OpenSSL's.
    issued = _issue(pki_dir)
    pki.revoke(pki_dir, pki.serial_hex(issued.certificate.serial_number))
    server = _OneConnectionServer(
        pki.ssl_context_for_server(pki_dir), pki.ClientAuthenticator.from_directory(pki_dir)
    )
    client = pki.ssl_context_for_client(
        pki_dir / "ca.pem", issued.certificate_path, issued.key_path
    )
    assert _talk(server.port, client) == b""
    server.join()
    assert isinstance(server.error, CertificateRefusedError)
    assert server.error.reason is RefusalReason.REVOKED


def test_server_context_needs_the_files(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="interbank pki init"):
        pki.ssl_context_for_server(tmp_path)


# --- the commands -----------------------------------------------------------------------------

runner = CliRunner()


def _run(*args: str) -> Any:
    return runner.invoke(app, ["pki", *args], catch_exceptions=False)


def test_cli_init_issue_list_revoke_crl_server(tmp_path: Path) -> None:
    directory = str(tmp_path / "pki")
    result = _run("init", "--dir", directory, "--host", "rtgs.example.net")
    assert result.exit_code == 0, result.output
    assert "ca.key" in result.output

    result = _run(
        "issue",
        "markdeff",
        "--role",
        "central_bank",
        "--currency",
        "eur",
        "--dir",
        directory,
        "--days",
        "30",
        "--json",
    )
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert issued["bic"] == "MARKDEFF" and issued["currency"] == "EUR"
    assert issued["urn"] == "urn:interbank:bic:MARKDEFF:role:central_bank:currency:EUR"
    assert Path(issued["certificate"]).is_file() and Path(issued["key"]).is_file()

    result = _run(
        "issue",
        "NETWCHZZXXX",
        "--role",
        "operator",
        "--holder",
        "Alice",
        "--dir",
        directory,
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["bic"] == "NETWCHZZ"  # the engine's form of the BIC

    result = _run("revoke", issued["serial"], "--dir", directory, "--reason", "key_compromise")
    assert result.exit_code == 0, result.output
    assert f"revoked {issued['serial']}" in result.output
    result = _run("revoke", issued["certificate"], "--dir", directory)
    assert "already revoked" in result.output

    result = _run("list", "--dir", directory, "--json")
    rows = {row["serial"]: row for row in json.loads(result.output)}
    assert len(rows) == 3  # the server certificate, the central bank, the operator
    assert rows[issued["serial"]]["revoked"] is True

    result = _run("crl", "--dir", directory)
    assert result.exit_code == 0 and "1 revoked" in result.output
    result = _run("server", "--dir", directory, "--host", "rtgs2.example.net")
    assert result.exit_code == 0 and "server certificate" in result.output
    assert _run("list", "--dir", directory).exit_code == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("issue", "BANKQQFF", "--role", "participant"), "RC01: BANKQQFF is not a BIC"),
        (("issue", "MARKDEFF", "--role", "central_bank"), "AM03: a central bank's certificate"),
        (("issue", "BANKDEFF", "--role", "king"), "--role 'king'"),
        (("issue", "NETWCHZZ", "--role", "operator"), "add --holder NAME"),
        (
            ("issue", "BANKDEFF", "--role", "participant", "--csr", "/nonexistent.csr"),
            "No such file",
        ),
        (("revoke", "ffff"), "issued no certificate with serial ffff"),
        (("revoke", "ffff", "--reason", "boredom"), "--reason 'boredom'"),
        (("init",), "already holds a certificate authority"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    directory = str(tmp_path / "pki")
    assert _run("init", "--dir", directory).exit_code == 0
    result = runner.invoke(app, ["pki", *args, "--dir", directory])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_cli_without_a_ca(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["pki", "issue", "BANKDEFF", "--role", "participant", "--dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 2
    assert "interbank pki init" in result.output
