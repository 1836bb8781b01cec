"""The network's public-key infrastructure: who may connect, and who they are.

Participants, central banks, operators and auditors reach the service over mutual
TLS. This module is the certificate authority behind it and the check the service
makes on every client certificate:

- ``init_directory`` creates the CA (ECDSA P-256, for the broadest TLS client
  support), the service's server certificate and an empty revocation list;
- ``issue`` signs a client certificate that names one BIC and one role (and, for a
  central bank, its currency), from a key it generates or from a bank's CSR;
- ``revoke`` adds a serial to the CA-signed revocation list, written atomically;
  ``RevocationList`` reloads that file when it changes;
- ``identity_of`` verifies a client certificate against the CA and the list and
  returns the ``Identity`` the service authorises; ``ssl_context_for_server``
  builds the TLS context that demands a client certificate.

What a certificate says (docs/pki.md has the full profile): the subjectAltName URI
``urn:interbank:bic:<BIC>:role:<role>[:currency:<ISO 4217>]`` is the one statement
the service trusts; the subject repeats it for people (O=<BIC>, OU=<role>,
CN=<holder or BIC>) and must agree with it. The holder name in CN tells people of
the same bank apart, which maker-checker needs for operators.

Everything here runs outside the engine: it reads the wall clock and random sources
(key generation, serial numbers), which the engine never may. It imports only the
standard library, ``cryptography``, ``schwifty`` and ``interbank.money``, so the
``pki`` commands and the TLS layer start without the engine or the XML stack.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import re
import ssl
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from schwifty import BIC
from schwifty.exceptions import SchwiftyException

from interbank.money import MoneyError, currency

# --- limits and defaults (units in the names) ---------------------------------------------

CA_VALIDITY_DAYS_DEFAULT = 3_650
SERVER_VALIDITY_DAYS_DEFAULT = 365
CLIENT_VALIDITY_DAYS_DEFAULT = 365
# A client certificate lives at most about two years (the CA/Browser Forum's old cap
# for TLS certificates): revocation is the exception, expiry the rule.
CLIENT_VALIDITY_DAYS_MAX = 825
# The revocation list says when its next edition is due. Proxies that check CRLs refuse
# every client once that date passes, so `interbank pki crl` must re-sign it before.
CRL_VALIDITY_DAYS = 30
# Certificates start a little in the past so a client whose clock runs slightly behind
# the CA's can use a certificate the minute it is issued.
BACKDATE_S = 300
# A client certificate is a few hundred bytes; anything far larger is not one of ours
# and is refused before the ASN.1 parser sees it.
CERTIFICATE_BYTES_MAX = 16_384
CSR_BYTES_MAX = 16_384
CRL_BYTES_MAX = 16 * 1024 * 1024
# X.520 ub-common-name.
HOLDER_LENGTH_MAX = 64
HOSTS_MAX = 64
# How often RevocationList.is_revoked looks at the file's metadata: once a second
# costs nothing, and a revocation takes effect within that second.
RELOAD_CHECK_INTERVAL_MS_DEFAULT = 1_000
RSA_KEY_BITS_MIN = 2_048
# Distinct client certificates a running service remembers as verified.
AUTHENTICATED_ENTRIES_MAX = 4_096

PASSPHRASE_ENV = "INTERBANK_PKI_PASSPHRASE"
NETWORK_NAME_DEFAULT = "interbank"
URN_PREFIX = "urn:interbank:"
# Public keys a CA of ours can have (what build_ca_certificate signs with).
_SIGNING_PUBLIC_KEYS = (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, rsa.RSAPublicKey)

# ISO 9362: 4 party prefix, 2 country (checked against ISO 3166 by schwifty), 2 suffix,
# then an optional 3-character branch.
_BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_URN_PATTERN = re.compile(
    r"urn:interbank:bic:(?P<bic>[A-Z0-9]{8}(?:[A-Z0-9]{3})?)"
    r":role:(?P<role>[a-z_]{1,20})(?::currency:(?P<currency>[A-Z]{3}))?"
)
_SERIAL_PATTERN = re.compile(r"(?:0x)?[0-9a-f]{1,40}")
_HOLDER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .,'()@_+-]*")
_HOST_PATTERN = re.compile(
    r"(?=.{1,253}$)(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


class ClientRole(StrEnum):
    """What a client certificate lets its holder do (the service enforces it)."""

    PARTICIPANT = "participant"  # a bank: its own accounts and data
    CENTRAL_BANK = "central_bank"  # issues and redeems its one currency
    OPERATOR = "operator"  # runs the network; maker-checker between two operators
    AUDITOR = "auditor"  # reads everything, changes nothing


class RefusalReason(StrEnum):
    """Why a client certificate was not accepted; stable words for logs and answers."""

    MALFORMED = "malformed"  # not a parseable X.509 certificate
    UNTRUSTED = "untrusted"  # not signed by this network's CA, or not a valid chain
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    KEY_USAGE = "key_usage"  # not made for TLS client authentication
    IDENTITY = "identity"  # no (or a contradictory) BIC, role or currency


class PkiError(ValueError):
    """A PKI operation could not be done (bad input, missing or damaged files)."""

    def __init__(self, text: str, reason_code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        # ISO 20022 reason code where one fits (RC01 bad BIC, AM03 bad currency).
        self.reason_code = reason_code


class CertificateRefusedError(Exception):
    """A client certificate was refused; ``reason`` says which check failed."""

    def __init__(self, reason: RefusalReason, text: str) -> None:
        super().__init__(f"{reason.value}: {text}")
        self.reason = reason
        self.text = text


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """What a client certificate states: one BIC, one role, and for a central bank its
    currency. ``holder`` is the person or system holding the key (CN)."""

    bic: str
    role: ClientRole
    currency: str | None = None
    holder: str | None = None

    def __post_init__(self) -> None:
        _check_bic(self.bic)
        if self.bic != canonical_bic(self.bic):
            raise PkiError(f"write the BIC {self.bic} as {canonical_bic(self.bic)}", "RC01")
        if self.role is ClientRole.CENTRAL_BANK:
            if self.currency is None:
                raise PkiError("a central bank's certificate names its currency", "AM03")
            _check_currency(self.currency)
        elif self.currency is not None:
            raise PkiError(
                f"only a central bank's certificate names a currency, not a {self.role.value}'s",
                "AM03",
            )
        if self.holder is not None:
            _check_holder(self.holder)

    @property
    def urn(self) -> str:
        text = f"{URN_PREFIX}bic:{self.bic}:role:{self.role.value}"
        return text if self.currency is None else f"{text}:currency:{self.currency}"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is on the other end of a verified TLS connection."""

    bic: str
    role: ClientRole
    currency: str | None
    serial: int
    # The CN: the BIC itself unless the certificate was issued to a named holder.
    # Maker-checker compares holders, so one person's two certificates count once.
    holder: str = ""


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """The CA certificate with its private key: only the ``pki`` commands hold this."""

    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes


@dataclass(frozen=True, slots=True)
class PkiPaths:
    """Where a PKI directory keeps each file."""

    root: Path

    @property
    def ca_certificate(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_certificate(self) -> Path:
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"

    @property
    def issued(self) -> Path:
        """The CA's copy of every certificate it signed, one ``<serial hex>.pem`` each."""
        return self.root / "issued"

    @property
    def clients(self) -> Path:
        """Client certificates and generated keys, to hand to their holders."""
        return self.root / "clients"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A client certificate written by ``issue``; ``key_path`` is None for a CSR."""

    certificate: x509.Certificate
    certificate_path: Path
    key_path: Path | None


@dataclass(frozen=True, slots=True)
class IssuedEntry:
    """One line of ``pki list``."""

    serial: int
    subject: str
    urn: str | None
    not_after: dt.datetime
    revoked: bool


# --- names and values ---------------------------------------------------------------------


def canonical_bic(bic: str) -> str:
    """A BIC11 whose branch is XXX names the same party as its BIC8 (as the engine has it)."""
    return bic[:8] if len(bic) == 11 and bic.endswith("XXX") else bic


def serial_hex(serial: int) -> str:
    """How serials are written everywhere here: lower-case hex, no separators."""
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """A serial as ``serial_hex`` writes it; ``0x``, colons and upper case are accepted."""
    cleaned = text.strip().lower().replace(":", "")
    if _SERIAL_PATTERN.fullmatch(cleaned) is None:
        raise PkiError(f"{text!r} is not a certificate serial (hexadecimal, as pki list shows)")
    return int(cleaned.removeprefix("0x"), 16)


def _check_bic(bic: str) -> None:
    if not isinstance(bic, str) or _BIC_PATTERN.fullmatch(bic) is None:
        raise PkiError(
            f"{bic!r} is not a BIC (ISO 9362: 8 or 11 upper-case letters and digits)", "RC01"
        )
    try:
        BIC(bic)
    except SchwiftyException:
        raise PkiError(f"{bic} is not a BIC: {bic[4:6]} is not a country code", "RC01") from None


def _check_currency(code: str) -> None:
    try:
        currency(code)
    except MoneyError as error:
        raise PkiError(str(error), "AM03") from None


def _check_holder(holder: str, label: str = "holder") -> None:
    if len(holder) > HOLDER_LENGTH_MAX or _HOLDER_PATTERN.fullmatch(holder) is None:
        raise PkiError(
            f"{label} {holder!r}: up to {HOLDER_LENGTH_MAX} letters, digits, spaces"
            " and .,'()@_+- starting with a letter or digit"
        )


def _host_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """subjectAltName entries for the service: localhost and loopback always, then hosts."""
    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in ("localhost", "127.0.0.1", "::1", *hosts):
        text = host.strip().lower()
        if text in seen:
            continue
        seen.add(text)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
            continue
        except ValueError:
            pass
        if _HOST_PATTERN.fullmatch(text) is None:
            raise PkiError(f"--host {host!r} is neither a DNS name nor an IP address")
        names.append(x509.DNSName(text))
    if len(names) > HOSTS_MAX:
        raise PkiError(f"at most {HOSTS_MAX} host names in a server certificate")
    return names


# --- certificates (pure: no files) --------------------------------------------------------


def _utc_now(now: dt.datetime | None) -> dt.datetime:
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        raise PkiError("times must carry a timezone (UTC)")
    return moment.astimezone(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: every TLS stack in use at banks (Java, .NET, OpenSSL, Go, browsers) accepts
    # it for client authentication, which Ed25519 still cannot claim.
    return ec.generate_private_key(ec.SECP256R1())


def _signing_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519/Ed448 sign without a separate hash; everything else signs SHA-256.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def build_ca_certificate(
    key: CertificateIssuerPrivateKeyTypes,
    network_name: str = NETWORK_NAME_DEFAULT,
    validity_days: int = CA_VALIDITY_DAYS_DEFAULT,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A self-signed CA that may sign end-entity certificates and CRLs, nothing else."""
    _check_holder(network_name, "network name")
    moment = _utc_now(now)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, network_name),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{network_name} network CA"[:HOLDER_LENGTH_MAX]
            ),
        ]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(seconds=BACKDATE_S))
        .not_valid_after(moment + dt.timedelta(days=validity_days))
        # path_length=0: this CA signs only end entities, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, _signing_hash(key))
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _end_entity(
    authority: CertificateAuthority,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    usage: x509.ObjectIdentifier,
    alt_names: list[x509.GeneralName],
    validity_days: int,
    now: dt.datetime | None,
) -> x509.Certificate:
    moment = _utc_now(now)
    not_after = moment + dt.timedelta(days=validity_days)
    # A certificate must not outlive the CA that vouches for it.
    not_after = min(not_after, authority.certificate.not_valid_after_utc)
    ca_key_id = authority.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(public_key)
        # 159 random bits: unpredictable serials, so nobody can aim a collision at one.
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(seconds=BACKDATE_S))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .sign(authority.key, _signing_hash(authority.key))
    )


def build_server_certificate(
    authority: CertificateAuthority,
    public_key: CertificatePublicKeyTypes,
    hosts: Sequence[str] = (),
    validity_days: int = SERVER_VALIDITY_DAYS_DEFAULT,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """The service's certificate: serverAuth for localhost, loopback and ``hosts``."""
    alt_names = _host_names(hosts)
    first = hosts[0].strip().lower() if hosts else "localhost"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organisation(authority)),
            x509.NameAttribute(NameOID.COMMON_NAME, first[:HOLDER_LENGTH_MAX]),
        ]
    )
    return _end_entity(
        authority,
        subject,
        public_key,
        ExtendedKeyUsageOID.SERVER_AUTH,
        alt_names,
        validity_days,
        now,
    )


def build_client_certificate(
    authority: CertificateAuthority,
    public_key: CertificatePublicKeyTypes,
    profile: ClientProfile,
    validity_days: int = CLIENT_VALIDITY_DAYS_DEFAULT,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A clientAuth certificate stating ``profile`` (see the module docstring)."""
    if not 1 <= validity_days <= CLIENT_VALIDITY_DAYS_MAX:
        raise PkiError(
            f"--days {validity_days}: a client certificate is valid 1 to"
            f" {CLIENT_VALIDITY_DAYS_MAX} days"
        )
    _check_public_key(public_key)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, profile.bic),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, profile.role.value),
            x509.NameAttribute(NameOID.COMMON_NAME, profile.holder or profile.bic),
        ]
    )
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(profile.urn)]
    return _end_entity(
        authority,
        subject,
        public_key,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        alt_names,
        validity_days,
        now,
    )


def _organisation(authority: CertificateAuthority) -> str:
    names = authority.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    value = names[0].value if names else NETWORK_NAME_DEFAULT
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _check_public_key(public_key: CertificatePublicKeyTypes) -> None:
    """Keys a bank may bring in a CSR: what TLS 1.2 and 1.3 clients can sign with."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in ("secp256r1", "secp384r1"):
            raise PkiError(f"EC curve {public_key.curve.name} is not accepted (P-256 or P-384)")
    elif isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < RSA_KEY_BITS_MIN:
            raise PkiError(
                f"an RSA key of {public_key.key_size} bits is too short"
                f" (at least {RSA_KEY_BITS_MIN})"
            )
    elif not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise PkiError(
            f"{type(public_key).__name__} keys are not accepted (EC P-256/P-384, RSA, Ed25519)"
        )


def build_crl(
    authority: CertificateAuthority,
    revoked: Sequence[x509.RevokedCertificate],
    crl_number: int,
    now: dt.datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL with ``revoked``, signed by the CA, due again in ``CRL_VALIDITY_DAYS``."""
    moment = _utc_now(now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(moment)
        .next_update(moment + dt.timedelta(days=CRL_VALIDITY_DAYS))
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(authority.key, _signing_hash(authority.key))


# --- verification -------------------------------------------------------------------------


def load_certificate(data: bytes | str | x509.Certificate) -> x509.Certificate:
    """One certificate from PEM or DER; refused as MALFORMED when it is not one."""
    if isinstance(data, x509.Certificate):
        return data
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise CertificateRefusedError(RefusalReason.MALFORMED, "no certificate given")
    raw = bytes(raw)
    if not raw:
        raise CertificateRefusedError(RefusalReason.MALFORMED, "no certificate given")
    if len(raw) > CERTIFICATE_BYTES_MAX:
        raise CertificateRefusedError(
            RefusalReason.MALFORMED,
            f"{len(raw)} bytes is more than a certificate's {CERTIFICATE_BYTES_MAX}",
        )
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except Exception as error:
        # Whatever the parser throws at untrusted bytes (ValueError, InvalidVersion,
        # ...), the answer is the same refusal, never a 500.
        raise CertificateRefusedError(
            RefusalReason.MALFORMED, f"not an X.509 certificate ({_first_line(error)})"
        ) from None


def identity_of(
    certificate: bytes | str | x509.Certificate,
    ca: x509.Certificate,
    crl: RevocationList,
    now: dt.datetime | None = None,
) -> Identity:
    """Verify a client certificate against the network's CA and revocation list.

    ``certificate`` is DER (``SSLSocket.getpeercert(binary_form=True)``), PEM, or a parsed
    certificate. Refuses with ``CertificateRefusedError`` (its ``reason`` one of
    ``RefusalReason``) when it is malformed, not signed by ``ca``, outside its validity
    dates, revoked, not made for client authentication, or without a consistent
    identity. Never raises anything else for bad input.
    """
    moment = _utc_now(now)
    leaf = load_certificate(certificate)
    try:
        return _verified_identity(leaf, ca, crl, moment)
    except CertificateRefusedError:
        raise
    except (
        ValueError,
        TypeError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as error:
        # cryptography parses the version and extensions lazily, so a damaged one
        # surfaces only when read.
        raise CertificateRefusedError(
            RefusalReason.MALFORMED, f"unreadable certificate field ({_first_line(error)})"
        ) from None
    except Exception as error:
        # Untrusted input: whatever else a parser throws, the answer is no, never a 500.
        raise CertificateRefusedError(
            RefusalReason.MALFORMED,
            f"unreadable certificate ({type(error).__name__}: {_first_line(error)})",
        ) from None


def _verified_identity(
    leaf: x509.Certificate,
    ca: x509.Certificate,
    crl: RevocationList,
    moment: dt.datetime,
) -> Identity:
    serial = leaf.serial_number
    shown = f"certificate {serial_hex(serial)}"
    if leaf.version is not x509.Version.v3:
        raise CertificateRefusedError(RefusalReason.MALFORMED, f"{shown} is not X.509 v3")
    # Trust first: nothing else a certificate says means anything unless the CA said it.
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise CertificateRefusedError(
            RefusalReason.UNTRUSTED, f"{shown} was not issued by this network's CA"
        ) from None
    if leaf == ca or leaf.subject == ca.subject:
        raise CertificateRefusedError(
            RefusalReason.KEY_USAGE, "the CA certificate is not a client certificate"
        )
    if crl.is_revoked(leaf):
        raise CertificateRefusedError(RefusalReason.REVOKED, f"{shown} has been revoked")
    if moment < leaf.not_valid_before_utc:
        raise CertificateRefusedError(
            RefusalReason.NOT_YET_VALID,
            f"{shown} is valid only from {leaf.not_valid_before_utc:%Y-%m-%d %H:%M:%S}Z",
        )
    if moment > leaf.not_valid_after_utc:
        raise CertificateRefusedError(
            RefusalReason.EXPIRED,
            f"{shown} expired at {leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S}Z",
        )
    if not ca.not_valid_before_utc <= moment <= ca.not_valid_after_utc:
        raise CertificateRefusedError(
            RefusalReason.EXPIRED, "the network's CA certificate is outside its validity"
        )
    _check_client_usage(leaf, shown)
    profile = _profile_of(leaf, shown)
    # Last, the full RFC 5280 path check by cryptography's own verifier: it catches what
    # the checks above do not name (critical extensions we do not know, the CA's own
    # profile) so that a refusal never depends on this module having thought of it.
    try:
        verifier = PolicyBuilder().store(Store([ca])).time(moment).build_client_verifier()
        verifier.verify(leaf, [])
    except VerificationError as error:
        raise CertificateRefusedError(
            RefusalReason.UNTRUSTED, f"{shown} failed path validation: {_first_line(error)}"
        ) from None
    holder = _single_attribute(leaf.subject, NameOID.COMMON_NAME, shown) or profile.bic
    return Identity(profile.bic, profile.role, profile.currency, serial, holder)


_EXTENSION_NAMES = {
    x509.BasicConstraints.oid: "basicConstraints",
    x509.KeyUsage.oid: "keyUsage",
    x509.ExtendedKeyUsage.oid: "extendedKeyUsage",
}
_ATTRIBUTE_NAMES = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
}


def _check_client_usage(leaf: x509.Certificate, shown: str) -> None:
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as error:
        missing = _EXTENSION_NAMES.get(error.oid, error.oid.dotted_string)
        raise CertificateRefusedError(
            RefusalReason.KEY_USAGE, f"{shown} lacks {missing} (not a client certificate)"
        ) from None
    if constraints.ca:
        raise CertificateRefusedError(RefusalReason.KEY_USAGE, f"{shown} is a CA certificate")
    if not usage.digital_signature:
        raise CertificateRefusedError(
            RefusalReason.KEY_USAGE, f"{shown} may not sign (keyUsage lacks digitalSignature)"
        )
    if ExtendedKeyUsageOID.CLIENT_AUTH not in extended:
        raise CertificateRefusedError(
            RefusalReason.KEY_USAGE, f"{shown} is not for TLS clients (no clientAuth)"
        )


def _profile_of(leaf: x509.Certificate, shown: str) -> ClientProfile:
    """The ClientProfile a certificate states, its subject agreeing with its URI."""
    try:
        alt_names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise CertificateRefusedError(
            RefusalReason.IDENTITY, f"{shown} names no BIC (no subjectAltName)"
        ) from None
    urns = [
        uri
        for uri in alt_names.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(URN_PREFIX)
    ]
    if len(urns) != 1:
        raise CertificateRefusedError(
            RefusalReason.IDENTITY,
            f"{shown} has {len(urns)} {URN_PREFIX} names; a client certificate has exactly one",
        )
    match = _URN_PATTERN.fullmatch(urns[0])
    if match is None:
        raise CertificateRefusedError(
            RefusalReason.IDENTITY,
            f"{shown}: {urns[0]!r} is not urn:interbank:bic:<BIC>:role:<role>[:currency:<CCY>]",
        )
    try:
        role = ClientRole(match["role"])
        profile = ClientProfile(match["bic"], role, match["currency"])
    except ValueError as error:  # PkiError is a ValueError too
        text = error.text if isinstance(error, PkiError) else f"unknown role {match['role']!r}"
        raise CertificateRefusedError(RefusalReason.IDENTITY, f"{shown}: {text}") from None
    # The subject is what people and proxies read; refuse a certificate whose subject
    # says something else than its URI rather than guess which one was meant.
    organisation = _single_attribute(leaf.subject, NameOID.ORGANIZATION_NAME, shown)
    unit = _single_attribute(leaf.subject, NameOID.ORGANIZATIONAL_UNIT_NAME, shown)
    if organisation != profile.bic or unit != profile.role.value:
        raise CertificateRefusedError(
            RefusalReason.IDENTITY,
            f"{shown}: subject O={organisation} OU={unit} disagrees with {urns[0]}",
        )
    return profile


def _single_attribute(name: x509.Name, oid: x509.ObjectIdentifier, shown: str) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) > 1:
        raise CertificateRefusedError(
            RefusalReason.IDENTITY,
            f"{shown}: its subject repeats {_ATTRIBUTE_NAMES.get(oid, oid.dotted_string)}",
        )
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else None


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


class ClientAuthenticator:
    """``identity_of`` for a running service, with verified certificates remembered.

    A full check costs about 0.3 ms (two ECDSA verifications and parsing); a client
    sends the same certificate on every connection, so the verified identity is kept
    per certificate (by its DER bytes, at most ``entries_max``) and a repeat costs a
    dictionary look-up plus the two checks that can change between calls: the
    validity dates and the revocation list. Refusals are never remembered.
    """

    def __init__(
        self,
        ca: x509.Certificate,
        crl: RevocationList,
        entries_max: int = AUTHENTICATED_ENTRIES_MAX,
    ) -> None:
        self.ca = ca
        self.crl = crl
        self.entries_max = entries_max
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, tuple[Identity, dt.datetime, dt.datetime]] = (
            OrderedDict()
        )

    @classmethod
    def from_directory(
        cls,
        directory: Path | str,
        reload_check_interval_ms: int = RELOAD_CHECK_INTERVAL_MS_DEFAULT,
    ) -> ClientAuthenticator:
        """The CA and CRL of a PKI directory (``PkiError`` when either cannot be read)."""
        paths = PkiPaths(Path(directory))
        ca = load_ca_certificate(paths.ca_certificate)
        return cls(ca, RevocationList.load(paths.crl, ca, reload_check_interval_ms))

    def identity(self, certificate_der: bytes, now: dt.datetime | None = None) -> Identity:
        """As ``identity_of(certificate_der, self.ca, self.crl, now)``."""
        moment = _utc_now(now)
        key = bytes(certificate_der) if isinstance(certificate_der, bytes | bytearray) else b""
        with self._lock:
            known = self._verified.get(key) if key else None
            if known is not None:
                self._verified.move_to_end(key)
        if known is None:
            identity = identity_of(certificate_der, self.ca, self.crl, moment)
            if key:
                leaf = load_certificate(key)
                with self._lock:
                    self._verified[key] = (
                        identity,
                        leaf.not_valid_before_utc,
                        leaf.not_valid_after_utc,
                    )
                    while len(self._verified) > self.entries_max:
                        self._verified.popitem(last=False)
            return identity
        identity, not_before, not_after = known
        shown = f"certificate {serial_hex(identity.serial)}"
        if self.crl.is_revoked(identity.serial):
            raise CertificateRefusedError(RefusalReason.REVOKED, f"{shown} has been revoked")
        if moment < not_before:
            raise CertificateRefusedError(
                RefusalReason.NOT_YET_VALID,
                f"{shown} is valid only from {not_before:%Y-%m-%d %H:%M:%S}Z",
            )
        if moment > not_after:
            raise CertificateRefusedError(
                RefusalReason.EXPIRED, f"{shown} expired at {not_after:%Y-%m-%d %H:%M:%S}Z"
            )
        return identity


# --- the revocation list the service reads ------------------------------------------------


class RevocationList:
    """The CA's revocation list as the service sees it, reloaded when the file changes.

    The one stateful object here, on purpose: the service keeps one for its lifetime and
    asks ``is_revoked`` per connection or request. At most once per
    ``reload_check_interval_ms`` it compares the file's inode, size and mtime with what
    it loaded (``pki revoke`` replaces the file atomically, so the inode always
    changes). A file that is missing, unreadable or not signed by the CA is not loaded:
    the previous list stays in force and ``reload_error`` says why, so a damaged file
    can never un-revoke anyone, and readiness checks can report it.
    """

    def __init__(
        self,
        path: Path,
        ca: x509.Certificate,
        reload_check_interval_ms: int = RELOAD_CHECK_INTERVAL_MS_DEFAULT,
    ) -> None:
        self.path = path
        self.ca = ca
        self.reload_check_interval_ms = reload_check_interval_ms
        self._lock = threading.Lock()
        self._serials: frozenset[int] = frozenset()
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at_ms = 0.0
        self._next_update: dt.datetime | None = None
        self._crl_number: int | None = None
        self.reload_error: str | None = None

    @classmethod
    def load(
        cls,
        path: Path | str,
        ca: x509.Certificate | None = None,
        reload_check_interval_ms: int = RELOAD_CHECK_INTERVAL_MS_DEFAULT,
    ) -> RevocationList:
        """Load ``path``; its signature is checked against ``ca``, by default the
        ``ca.pem`` beside it. Raises ``PkiError`` if the first load fails: a service
        must not start without knowing who is revoked."""
        path = Path(path)
        authority = ca if ca is not None else load_ca_certificate(path.parent)
        crl = cls(path, authority, reload_check_interval_ms)
        crl.reload_if_changed()
        if crl._stamp is None:
            raise PkiError(f"revocation list {path}: {crl.reload_error}")
        return crl

    @property
    def serials(self) -> frozenset[int]:
        self._maybe_reload()
        return self._serials

    @property
    def next_update(self) -> dt.datetime | None:
        """When the CA promised the next edition; past it, external CRL checkers refuse."""
        return self._next_update

    @property
    def crl_number(self) -> int | None:
        return self._crl_number

    def is_revoked(self, certificate: x509.Certificate | int) -> bool:
        """Whether a certificate (or serial) of this CA is on the list."""
        serial = certificate if isinstance(certificate, int) else certificate.serial_number
        self._maybe_reload()
        return serial in self._serials

    def _maybe_reload(self) -> None:
        now_ms = time.monotonic() * 1000
        if now_ms - self._checked_at_ms >= self.reload_check_interval_ms:
            self.reload_if_changed()

    def reload_if_changed(self) -> bool:
        """Look at the file now; True when a new edition was loaded."""
        with self._lock:
            self._checked_at_ms = time.monotonic() * 1000
            try:
                status = self.path.stat()
            except OSError as error:
                self.reload_error = f"cannot read it: {error.strerror or error}"
                return False
            stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
            if stamp == self._stamp:
                return False
            try:
                crl = read_crl(self.path, self.ca)
            except PkiError as error:
                self.reload_error = error.text
                # Remember the stamp so a broken file is not re-parsed every second.
                self._stamp = stamp if self._stamp is not None else None
                return False
            self._serials = frozenset(entry.serial_number for entry in crl)
            self._next_update = crl.next_update_utc
            self._crl_number = _crl_number(crl)
            self._stamp = stamp
            self.reload_error = None
            return True


def read_crl(path: Path, ca: x509.Certificate) -> x509.CertificateRevocationList:
    """A CRL file, refused unless ``ca`` signed it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(CRL_BYTES_MAX + 1)
    except OSError as error:
        raise PkiError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > CRL_BYTES_MAX:
        raise PkiError(f"{path} is larger than {CRL_BYTES_MAX} bytes")
    try:
        crl = x509.load_pem_x509_crl(data)
        ca_key = ca.public_key()
        if not isinstance(ca_key, _SIGNING_PUBLIC_KEYS):
            raise PkiError(f"the CA's {type(ca_key).__name__} key cannot sign a revocation list")
        signed = crl.issuer == ca.subject and crl.is_signature_valid(ca_key)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise PkiError(f"{path} is not a revocation list ({_first_line(error)})") from None
    if not signed:
        raise PkiError(f"{path} is not signed by this network's CA")
    return crl


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


# --- TLS ------------------------------------------------------------------------------------


def ssl_context_for_server(directory: Path | str) -> ssl.SSLContext:
    """The service's TLS context: TLS 1.2 or later, a client certificate from this CA
    required.

    Revocation is not in the context: OpenSSL would read the CRL once and never again,
    and a CRL past its nextUpdate would lock every client out. The service checks
    ``identity_of(peer certificate, ca, RevocationList)`` instead.
    """
    paths = PkiPaths(Path(directory))
    for path in (paths.ca_certificate, paths.server_certificate, paths.server_key):
        if not path.is_file():
            raise PkiError(
                f"{path} is missing; create it with: interbank pki init --dir {paths.root}"
            )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    # Strict X.509 checks and no renegotiation: nothing a legitimate client needs.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(paths.server_certificate, paths.server_key)
        context.load_verify_locations(cafile=paths.ca_certificate)
    except (ssl.SSLError, OSError) as error:
        raise PkiError(
            f"cannot load the service's TLS files from {paths.root}: {_first_line(error)}"
        ) from None
    return context


def ssl_context_for_client(
    ca_certificate: Path | str, certificate: Path | str | None, key: Path | str | None
) -> ssl.SSLContext:
    """A client's TLS context trusting only the network's CA, presenting a client
    certificate when given (for tools, tests and the load generator)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=ca_certificate)
        if certificate is not None:
            context.load_cert_chain(certificate, key)
    except (ssl.SSLError, OSError) as error:
        raise PkiError(f"cannot load TLS client files: {_first_line(error)}") from None
    return context


# --- files ----------------------------------------------------------------------------------


def _passphrase(passphrase: str | None) -> bytes | None:
    text = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    return text.encode("utf-8") if text else None


def _write_atomically(path: Path, data: bytes, mode: int, *, replace: bool = True) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, fsynced, then
    renamed over ``path``. Keys are created 0600 from the first byte (mkstemp), never
    briefly readable by others."""
    if not replace and path.exists():
        raise PkiError(f"{path} already exists; refusing to overwrite it")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            # link() fails if path appeared meanwhile: never clobber a key.
            os.link(temporary, path)
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _key_pem(key: CertificateIssuerPrivateKeyTypes, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@contextlib.contextmanager
def _locked(paths: PkiPaths) -> Iterator[None]:
    """One writer at a time in a PKI directory: two ``revoke`` runs must not each
    rewrite the CRL from the same old edition and lose the other's entry."""
    with paths.lock.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _record_issued(paths: PkiPaths, certificate: x509.Certificate) -> None:
    target = paths.issued / f"{serial_hex(certificate.serial_number)}.pem"
    _write_atomically(target, _certificate_pem(certificate), 0o644, replace=False)


def init_directory(
    directory: Path | str,
    network_name: str = NETWORK_NAME_DEFAULT,
    hosts: Sequence[str] = (),
    ca_validity_days: int = CA_VALIDITY_DAYS_DEFAULT,
    server_validity_days: int = SERVER_VALIDITY_DAYS_DEFAULT,
    passphrase: str | None = None,
    now: dt.datetime | None = None,
) -> PkiPaths:
    """Create the CA, the server certificate and an empty CRL in ``directory``.

    Refuses a directory that already holds a CA key: re-running init must never replace
    the CA every participant trusts. The CA key is encrypted when a passphrase is given
    (or ``INTERBANK_PKI_PASSPHRASE`` is set).
    """
    paths = PkiPaths(Path(directory))
    if paths.ca_key.exists() or paths.ca_certificate.exists():
        raise PkiError(
            f"{paths.root} already holds a certificate authority; give another"
            " --dir (init never replaces a CA)"
        )
    for days, what in ((ca_validity_days, "CA"), (server_validity_days, "server")):
        if days < 1:
            raise PkiError(f"the {what} certificate needs a validity of at least one day")
    _host_names(hosts)  # refuse a bad --host before anything is written
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths.issued.mkdir(mode=0o700, exist_ok=True)
    paths.clients.mkdir(mode=0o700, exist_ok=True)
    with _locked(paths):
        key = _new_key()
        certificate = build_ca_certificate(key, network_name, ca_validity_days, now)
        authority = CertificateAuthority(certificate, key)
        _write_atomically(
            paths.ca_key, _key_pem(key, _passphrase(passphrase)), 0o600, replace=False
        )
        _write_atomically(paths.ca_certificate, _certificate_pem(certificate), 0o644, replace=False)
        _write_server(authority, paths, hosts, server_validity_days, now)
        crl = build_crl(authority, [], crl_number=1, now=now)
        _write_atomically(paths.crl, crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths


def _write_server(
    authority: CertificateAuthority,
    paths: PkiPaths,
    hosts: Sequence[str],
    validity_days: int,
    now: dt.datetime | None,
) -> x509.Certificate:
    key = _new_key()
    certificate = build_server_certificate(authority, key.public_key(), hosts, validity_days, now)
    # Unencrypted: the service starts unattended. 0600, readable by its user only.
    _write_atomically(paths.server_key, _key_pem(key, None), 0o600)
    _write_atomically(paths.server_certificate, _certificate_pem(certificate), 0o644)
    _record_issued(paths, certificate)
    return certificate


def reissue_server(
    directory: Path | str,
    hosts: Sequence[str] = (),
    validity_days: int = SERVER_VALIDITY_DAYS_DEFAULT,
    passphrase: str | None = None,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A new server key and certificate (on expiry, or for new host names)."""
    paths = PkiPaths(Path(directory))
    authority = load_authority(paths.root, passphrase)
    _host_names(hosts)
    with _locked(paths):
        return _write_server(authority, paths, hosts, validity_days, now)


def load_ca_certificate(directory_or_file: Path | str) -> x509.Certificate:
    """The network's CA certificate (no key): what the service verifies clients with."""
    path = Path(directory_or_file)
    if path.is_dir():
        path = PkiPaths(path).ca_certificate
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except FileNotFoundError:
        raise PkiError(
            f"no CA at {path}; create one with: interbank pki init --dir {path.parent}"
        ) from None
    except OSError as error:
        raise PkiError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, x509.ExtensionNotFound) as error:
        raise PkiError(f"{path} is not a CA certificate ({_first_line(error)})") from None
    if not constraints.value.ca:
        raise PkiError(f"{path} is not a CA certificate (basicConstraints CA is false)")
    return certificate


def load_authority(directory: Path | str, passphrase: str | None = None) -> CertificateAuthority:
    """The CA with its key, to sign; the key must match the certificate."""
    paths = PkiPaths(Path(directory))
    certificate = load_ca_certificate(paths.ca_certificate)
    try:
        data = paths.ca_key.read_bytes()
    except OSError as error:
        raise PkiError(
            f"cannot read the CA key {paths.ca_key}: {error.strerror or error}"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, _passphrase(passphrase))
    except TypeError:
        raise PkiError(f"the CA key {paths.ca_key} is encrypted; set {PASSPHRASE_ENV}") from None
    except ValueError:
        raise PkiError(
            f"cannot open the CA key {paths.ca_key} (wrong passphrase, or not a key)"
        ) from None
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise PkiError(f"the CA key {paths.ca_key} is of a type that cannot sign certificates")
    if key.public_key() != certificate.public_key():
        raise PkiError(f"the CA key {paths.ca_key} does not belong to {paths.ca_certificate}")
    return CertificateAuthority(certificate, key)


def issue(
    directory: Path | str,
    profile: ClientProfile,
    validity_days: int = CLIENT_VALIDITY_DAYS_DEFAULT,
    csr_pem: bytes | None = None,
    out_directory: Path | str | None = None,
    passphrase: str | None = None,
    now: dt.datetime | None = None,
) -> IssuedClient:
    """Sign a client certificate for ``profile`` and write it (and a new key unless a CSR
    brought the public key) to ``out_directory`` (default ``<dir>/clients``).

    With a CSR only its public key is used (after checking the CSR's own signature,
    which proves the requester holds the key); the subject comes from ``profile``,
    never from the request, so a bank cannot ask for another bank's BIC.
    """
    paths = PkiPaths(Path(directory))
    authority = load_authority(paths.root, passphrase)
    key: ec.EllipticCurvePrivateKey | None = None
    if csr_pem is not None:
        public_key = _csr_public_key(csr_pem)
    else:
        key = _new_key()
        public_key = key.public_key()
    certificate = build_client_certificate(authority, public_key, profile, validity_days, now)
    out = Path(out_directory) if out_directory is not None else paths.clients
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"{profile.bic}-{profile.role.value}-{serial_hex(certificate.serial_number)[:12]}"
    certificate_path = out / f"{stem}.pem"
    key_path = out / f"{stem}.key" if key is not None else None
    with _locked(paths):
        # The CA's record first: a certificate that exists anywhere is one `pki list`
        # shows and `pki revoke` can find.
        _record_issued(paths, certificate)
        if key is not None and key_path is not None:
            _write_atomically(key_path, _key_pem(key, None), 0o600, replace=False)
        _write_atomically(certificate_path, _certificate_pem(certificate), 0o644, replace=False)
    return IssuedClient(certificate, certificate_path, key_path)


def _csr_public_key(csr_pem: bytes) -> CertificatePublicKeyTypes:
    if len(csr_pem) > CSR_BYTES_MAX:
        raise PkiError(f"the CSR is larger than {CSR_BYTES_MAX} bytes")
    try:
        request = (
            x509.load_pem_x509_csr(csr_pem)
            if csr_pem.lstrip().startswith(b"-----")
            else x509.load_der_x509_csr(csr_pem)
        )
        valid = request.is_signature_valid
        public_key = request.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise PkiError(f"not a certificate signing request ({_first_line(error)})") from None
    if not valid:
        raise PkiError("the CSR's signature does not verify: it was not made with its key")
    _check_public_key(public_key)
    return public_key


def _certificate_in(paths: PkiPaths, reference: str) -> int:
    """The serial of ``reference``: a certificate file from this CA, or a hex serial."""
    candidate = Path(reference)
    if candidate.is_file():
        try:
            certificate = load_certificate(candidate.read_bytes())
        except CertificateRefusedError as error:
            raise PkiError(f"{candidate}: {error.text}") from None
        except OSError as error:
            raise PkiError(f"cannot read {candidate}: {error.strerror or error}") from None
        ca = load_ca_certificate(paths.ca_certificate)
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise PkiError(f"{candidate} was not issued by the CA in {paths.root}") from None
        return certificate.serial_number
    serial = parse_serial(reference)
    if not (paths.issued / f"{serial_hex(serial)}.pem").is_file():
        raise PkiError(
            f"the CA in {paths.root} issued no certificate with serial"
            f" {serial_hex(serial)} (see: interbank pki list --dir {paths.root})"
        )
    return serial


def revoke(
    directory: Path | str,
    reference: str,
    reason: x509.ReasonFlags | None = None,
    passphrase: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[int, bool]:
    """Put a certificate (a file or a hex serial) on the CRL and re-sign it atomically.

    Returns (serial, newly revoked); revoking twice changes nothing the second time.
    """
    paths = PkiPaths(Path(directory))
    authority = load_authority(paths.root, passphrase)
    serial = _certificate_in(paths, reference)
    with _locked(paths):
        crl = read_crl(paths.crl, authority.certificate)
        if crl.get_revoked_certificate_by_serial_number(serial) is not None:
            return serial, False
        entries = list(crl)
        entry = x509.RevokedCertificateBuilder().serial_number(serial)
        entry = entry.revocation_date(_utc_now(now))
        if reason is not None and reason is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        entries.append(entry.build())
        _write_crl(paths, authority, entries, crl, now)
    return serial, True


def refresh_crl(
    directory: Path | str, passphrase: str | None = None, now: dt.datetime | None = None
) -> x509.CertificateRevocationList:
    """Re-sign the CRL with the same entries and a new nextUpdate (run it from cron)."""
    paths = PkiPaths(Path(directory))
    authority = load_authority(paths.root, passphrase)
    with _locked(paths):
        crl = read_crl(paths.crl, authority.certificate)
        return _write_crl(paths, authority, list(crl), crl, now)


def _write_crl(
    paths: PkiPaths,
    authority: CertificateAuthority,
    entries: list[x509.RevokedCertificate],
    previous: x509.CertificateRevocationList,
    now: dt.datetime | None,
) -> x509.CertificateRevocationList:
    # CRL numbers only grow (RFC 5280 5.2.3): consumers tell editions apart by them.
    number = (_crl_number(previous) or 0) + 1
    crl = build_crl(authority, entries, number, now)
    _write_atomically(paths.crl, crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return crl


def issued_entries(directory: Path | str) -> list[IssuedEntry]:
    """Every certificate the CA recorded, oldest expiry first, with revocation status."""
    paths = PkiPaths(Path(directory))
    ca = load_ca_certificate(paths.ca_certificate)
    revoked = {entry.serial_number for entry in read_crl(paths.crl, ca)}
    entries: list[IssuedEntry] = []
    for path in sorted(paths.issued.glob("*.pem")):
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
            alt_names = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except (OSError, ValueError, x509.ExtensionNotFound):
            continue
        urns = [
            uri
            for uri in alt_names.get_values_for_type(x509.UniformResourceIdentifier)
            if uri.startswith(URN_PREFIX)
        ]
        entries.append(
            IssuedEntry(
                serial=certificate.serial_number,
                subject=certificate.subject.rfc4514_string(),
                urn=urns[0] if urns else None,
                not_after=certificate.not_valid_after_utc,
                revoked=certificate.serial_number in revoked,
            )
        )
    entries.sort(key=lambda entry: (entry.not_after, entry.serial))
    return entries
