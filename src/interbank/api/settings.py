"""Limits and switches of the HTTP service. Every limit has its unit in its name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Loopback hosts: the only ones the development mode binds to.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class SettingsError(ValueError):
    """A configuration the service refuses to start with; the text says why."""


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """What the service accepts, and how much of it at once."""

    # A JSON request body. A batch of 4,096 transfers written out in full is ~1 MiB.
    json_body_bytes_max: int = 2 * 1024 * 1024
    # An ISO 20022 body: the gateway's own limit (16 MiB) is the upper bound; this one
    # is checked before a byte is parsed.
    xml_body_bytes_max: int = 16 * 1024 * 1024
    # Commands in one batch request. They go to the journal together, so this stays
    # below the node's batch_size_max (8190): a request's linked chain is never cut.
    batch_commands_max: int = 4_096
    # Commands accepted but not yet answered, over all callers. Past it a caller gets
    # 429 with Retry-After instead of waiting in an unbounded queue.
    inflight_commands_max: int = 65_536
    # ISO 20022 messages accepted but not yet answered.
    inflight_messages_max: int = 8_192
    # Messages handed to the gateway in one call (one archive write, one journal entry
    # per message group): bigger groups amortise the fsyncs, smaller ones answer sooner.
    iso_group_messages_max: int = 512
    # Requests per second one participant (one BIC) may make, on average, and the burst
    # it may make at once. 0 disables the limit.
    participant_requests_per_s: int = 20_000
    participant_burst_requests: int = 40_000
    # What 429 and 503 answers tell callers to wait before trying again.
    retry_after_s: int = 1
    # Items in one page of history, queue or proposal listings.
    page_items_max: int = 1_000
    # The time span one history request may read (the view store reads a span whole).
    history_span_ns_max: int = 86_400 * 1_000_000_000
    # Threads that hand command groups to the node: two let one group be appended while
    # the next one forms, so a commit never waits for the previous caller's wake-up.
    committer_threads: int = 2
    # A verified client certificate is checked again (dates, chain) this often on a
    # long-lived connection; revocation is checked on every request.
    identity_recheck_s: int = 60

    def __post_init__(self) -> None:
        if not 1024 <= self.json_body_bytes_max <= 1 << 30:
            raise SettingsError("json_body_bytes_max is between 1 KiB and 1 GiB")
        if not 1024 <= self.xml_body_bytes_max <= 1 << 30:
            raise SettingsError("xml_body_bytes_max is between 1 KiB and 1 GiB")
        if not 1 <= self.batch_commands_max <= 8_190:
            raise SettingsError("batch_commands_max is between 1 and 8190 (one journal entry)")
        if self.inflight_commands_max < self.batch_commands_max:
            raise SettingsError("inflight_commands_max must hold at least one full batch")
        if self.inflight_messages_max < 1 or self.iso_group_messages_max < 1:
            raise SettingsError("inflight_messages_max and iso_group_messages_max are >= 1")
        if self.participant_requests_per_s < 0 or self.participant_burst_requests < 0:
            raise SettingsError("participant rate limits are >= 0 (0: no limit)")
        if self.participant_requests_per_s and self.participant_burst_requests < 1:
            raise SettingsError("participant_burst_requests must be >= 1 when rates are limited")
        if not 1 <= self.retry_after_s <= 3_600:
            raise SettingsError("retry_after_s is between 1 and 3600")
        if not 1 <= self.page_items_max <= 100_000:
            raise SettingsError("page_items_max is between 1 and 100000")
        if self.history_span_ns_max < 1:
            raise SettingsError("history_span_ns_max is at least 1")
        if not 1 <= self.committer_threads <= 8:
            raise SettingsError("committer_threads is between 1 and 8")
        if self.identity_recheck_s < 1:
            raise SettingsError("identity_recheck_s is at least 1")


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Production: mutual TLS with the network's PKI directory (``interbank pki init``)."""

    pki_directory: Path


@dataclass(frozen=True, slots=True)
class DevTokens:
    """Development only: plain bearer tokens, each naming an identity. Never with TLS
    settings, a PostgreSQL journal or a non-loopback address (``check_mode``)."""

    tokens_file: Path


def check_mode(
    tls: TlsSettings | None, dev: DevTokens | None, db: str, host: str, production: bool
) -> None:
    """Refuse a configuration that mixes development tokens with production.

    Production is any of: TLS settings given, a PostgreSQL journal, a non-loopback
    bind address, or ``production`` (INTERBANK_ENV=production). Development tokens are
    refused in every one of them; without tokens, TLS is required.
    """
    if tls is None and dev is None:
        raise SettingsError(
            "give --pki DIR (mutual TLS) or, for development on loopback only, --dev-tokens FILE"
        )
    if dev is None:
        return
    reasons = []
    if tls is not None:
        reasons.append("TLS settings are given")
    if db.startswith(("postgresql://", "postgres://")):
        reasons.append("the journal is a PostgreSQL server")
    if host not in LOOPBACK_HOSTS:
        reasons.append(f"the address {host} is not loopback")
    if production:
        reasons.append("INTERBANK_ENV is production")
    if reasons:
        raise SettingsError(
            "development tokens are refused in a production configuration: " + "; ".join(reasons)
        )
