"""Prometheus metrics of the service, in a registry of its own (no global state).

Counted per route template (``/v1/accounts/{account_id}``, never the concrete path, so
the label set stays bounded) and status; latency per route; refusals by status; and
gauges read at scrape time: the journal head, commands and messages in flight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from interbank.api.service import Service

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets in seconds: a durable answer takes one fsync (~1-5 ms) plus queueing.
_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "interbank_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "interbank_http_request_seconds",
            "Time from the request's arrival to its answer, by route template.",
            ("route",),
            buckets=_BUCKETS_S,
            registry=self.registry,
        )
        self.refusals = Counter(
            "interbank_http_refusals",
            "Requests refused before reaching the network, by HTTP status.",
            ("status",),
            registry=self.registry,
        )
        self.internal_errors = Counter(
            "interbank_http_internal_errors",
            "Requests that met an unexpected error (answered 503, logged with an incident id).",
            registry=self.registry,
        )
        head = Gauge(
            "interbank_journal_head_seq",
            "The last durable journal entry.",
            registry=self.registry,
        )
        head.set_function(lambda: service.node.head.seq)
        commands = Gauge(
            "interbank_http_commands_in_flight",
            "Commands accepted and not yet answered (bounded by inflight_commands_max).",
            registry=self.registry,
        )
        commands.set_function(lambda: service.commands.units_pending)
        messages = Gauge(
            "interbank_http_messages_in_flight",
            "ISO 20022 messages accepted and not yet answered.",
            registry=self.registry,
        )
        messages.set_function(lambda: service.messages.units_pending)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
