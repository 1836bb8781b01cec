"""The service's hold on the network: node, gateway, views, and what it remembers.

One ``Service`` per process. It owns the two group workers (JSON commands to the node,
ISO 20022 messages to the gateway), the account directory that authorisation reads,
the per-participant request rates, the maker-checker store and the metrics.

Reads of engine state go through ``node.quiesced()`` (no batch is applied while they
read, and what they see is durable), on worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from interbank.api.approvals import ApprovalStore
from interbank.api.committer import GroupWorker
from interbank.api.errors import ApiError
from interbank.api.identity import Identity, IdentitySource
from interbank.api.metrics import ServiceMetrics
from interbank.api.settings import ServiceSettings
from interbank.engine import Batch, CommandFormatError, Engine, Result, ResultCode
from interbank.engine.commands import Command, Role
from interbank.iso20022.extract import read_header
from interbank.iso20022.gateway import Gateway, Reply
from interbank.iso20022.reader import Reader
from interbank.iso20022.reasons import MessageRejected
from interbank.iso20022.rules import canonical_bic
from interbank.views import PaymentRecord, uetr_of

T = TypeVar("T")

access_log = logging.getLogger("interbank.api.access")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What authorisation needs of an account; none of it ever changes once opened."""

    account_id: int
    bic: str
    currency: str
    kind: str


@dataclass(frozen=True, slots=True)
class ParticipantInfo:
    bic: str
    role: Role
    currency: str | None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One HTTP request's commands (kept together: one journal entry, chains unbroken)
    and the payment records to archive before they reach the journal."""

    commands: tuple[Command, ...]
    records: tuple[PaymentRecord, ...] = ()
    # Plain transfers already in columns (the batch route's fast path); then
    # ``commands`` is empty and the rows are the batch's.
    batch: Batch | None = None

    @property
    def rows(self) -> int:
        return len(self.commands) if self.batch is None else len(self.batch)


@dataclass(frozen=True, slots=True)
class Committed:
    """A request's results in columns (a Result object per row costs more than the rest
    of a transfer's answer); ``results`` builds the objects for the few who want them."""

    commands: tuple[Command, ...]
    codes: list[int]
    replayed: list[int]
    timestamp_ns: int

    @property
    def results(self) -> list[Result]:
        return [
            Result(command.id, ResultCode(code), bool(again))
            for command, code, again in zip(self.commands, self.codes, self.replayed, strict=True)
        ]


class RateLimiter:
    """A token bucket per BIC: ``per_s`` requests a second on average, ``burst`` at once.

    Touched only on the event loop thread (no lock); time from the monotonic clock.
    """

    def __init__(self, per_s: int, burst: int) -> None:
        self._per_s = float(per_s)
        self._burst = float(burst)
        self._buckets: dict[str, list[float]] = {}

    def allow(self, bic: str) -> bool:
        if self._per_s <= 0:
            return True
        now = time.monotonic()
        bucket = self._buckets.get(bic)
        if bucket is None:
            bucket = self._buckets[bic] = [self._burst, now]
        tokens = min(self._burst, bucket[0] + (now - bucket[1]) * self._per_s)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True


class Service:
    def __init__(
        self,
        gateway: Gateway,
        settings: ServiceSettings,
        identities: IdentitySource,
        approvals: ApprovalStore,
    ) -> None:
        self.gateway = gateway
        self.node = gateway.node
        self.views = gateway.views
        self.settings = settings
        self.identities = identities
        self.approvals = approvals
        self.started_ns = time.time_ns()
        self.rates = RateLimiter(
            settings.participant_requests_per_s, settings.participant_burst_requests
        )
        self._accounts: dict[int, AccountInfo] = {}
        self._participants: dict[str, ParticipantInfo] = {}
        # Engine reads that must not run on the loop: quiesced, short, a few at a time.
        self._reads = ThreadPoolExecutor(4, thread_name_prefix="interbank-api-read")
        # One decision at a time per process: two approvals of one proposal must not
        # both submit its command.
        self.decisions = asyncio.Lock()
        self.commands: GroupWorker[CommandRequest, Committed | ApiError] = GroupWorker(
            "committer",
            self._commit,
            settings.inflight_commands_max,
            min(self.node.settings.batch_size_max, settings.inflight_commands_max),
            settings.committer_threads,
        )
        # The ISO worker runs on one thread (the gateway takes one writer at a time),
        # so this reader (not shareable between threads) is its own.
        self._reader = Reader(gateway.settings)
        self.messages: GroupWorker[tuple[bytes, str], Reply | ApiError] = GroupWorker(
            "iso",
            self._receive,
            settings.inflight_messages_max,
            min(settings.iso_group_messages_max, settings.inflight_messages_max),
        )
        self.metrics = ServiceMetrics(self)
        self._closed = False
        self._close_lock = threading.Lock()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.commands.stop()
            self.messages.stop()
            self._reads.shutdown(wait=True)
        finally:
            try:
                self.gateway.close()
            finally:
                self.approvals.close()

    # --- reading engine state -----------------------------------------------------------

    def read_now(self, read: Callable[[Engine], T]) -> T:
        """Run ``read`` on the engine with no batch being applied (call off the loop)."""
        with self.node.quiesced() as engine:
            return read(engine)

    async def read(self, read: Callable[[Engine], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reads, self.read_now, read)

    def account_cached(self, account_id: int) -> AccountInfo | None:
        return self._accounts.get(account_id)

    def remember_account(self, engine: Engine, account_id: int) -> AccountInfo | None:
        view = engine.account(account_id)
        if view is None:
            return None
        info = AccountInfo(view.account_id, view.bic, view.currency, view.kind.value)
        self._accounts[account_id] = info
        return info

    async def account(self, account_id: int) -> AccountInfo | None:
        known = self._accounts.get(account_id)
        if known is not None:
            return known
        return await self.read(lambda engine: self.remember_account(engine, account_id))

    def participant_now(self, engine: Engine, bic: str) -> ParticipantInfo | None:
        known = self._participants.get(bic)
        if known is not None:
            return known
        for view in engine.participants():
            if view.bic == bic:
                info = ParticipantInfo(view.bic, view.role, view.currency)
                self._participants[bic] = info  # role and currency never change
                return info
        return None

    async def participant(self, bic: str) -> ParticipantInfo | None:
        known = self._participants.get(bic)
        if known is not None:
            return known
        return await self.read(lambda engine: self.participant_now(engine, bic))

    # --- submitting -------------------------------------------------------------------

    async def submit(self, request: CommandRequest) -> Committed:
        """The request's results, once durable; ApiError when refused as a whole."""
        answer = await self.commands.submit(request, request.rows)
        if isinstance(answer, ApiError):
            raise answer
        return answer

    def _commit(self, requests: list[CommandRequest]) -> list[Committed | ApiError]:
        """Runs on a committer thread: one batch for the whole group."""
        records = [record for request in requests for record in request.records]
        if records:
            # Before the journal, as the gateway archives a message before its commands:
            # a payment the network acknowledged always has its record.
            self.views.archive([], payments=records)
        try:
            result = self.node.submit_batch(_group_batch(requests))
        except CommandFormatError as error:
            if len(requests) == 1:
                return [ApiError(422, error.reason_code, error.text)]
            # One request's bad command must not refuse the others of the group.
            return [answer for request in requests for answer in self._commit([request])]
        codes: list[int] = result.codes.tolist()
        replayed: list[int] = result.replayed.tolist()
        answers: list[Committed | ApiError] = []
        offset = 0
        for request in requests:
            end = offset + request.rows
            answers.append(
                Committed(
                    request.commands, codes[offset:end], replayed[offset:end], result.timestamp_ns
                )
            )
            offset = end
        return answers

    def _receive(self, messages: list[tuple[bytes, str]]) -> Sequence[Reply | ApiError]:
        """Runs on the ISO thread: the gateway answers a group of messages together.

        A message says who sends it (AppHdr/Fr) and the gateway believes it, so the
        sender is checked against the caller first: a message from another BIC is
        refused here and never reaches the gateway. A message whose header cannot be
        read goes on: the gateway reads it with the same reader and refuses it whole
        (admi.002), so nothing of it is journaled.
        """
        answers: list[Reply | ApiError | None] = [None] * len(messages)
        passed: list[int] = []
        for index, (data, bic) in enumerate(messages):
            sender = self._header_sender(data)
            if sender is not None and sender != bic:
                answers[index] = ApiError(
                    403, "AG01", f"the message's sender (AppHdr/Fr) {sender} is not you ({bic})"
                )
            else:
                passed.append(index)
        if passed:
            replies = self.gateway.receive_many([messages[index][0] for index in passed])
            for index, reply in zip(passed, replies, strict=True):
                answers[index] = reply
        return [answer for answer in answers if answer is not None]

    def _header_sender(self, data: bytes) -> str | None:
        try:
            envelope = self._reader.parse(data)
            if envelope.header is None or envelope.header_def is None:
                return None
            header = read_header(envelope.header, envelope.header_def)
        except MessageRejected:
            return None
        return None if header.from_bic is None else canonical_bic(header.from_bic)

    # --- payments sent as JSON --------------------------------------------------------

    def payment_record(
        self,
        payment_id: int,
        debit: AccountInfo,
        credit: AccountInfo | None,
        amount_minor: int,
        body_sha256: str,
    ) -> PaymentRecord:
        """The archive record of an RTGS payment sent as JSON, so that tracking by UETR,
        camt.054 and ISO 20022 returns and cancellations find it like any other."""
        return PaymentRecord(
            payment_id=payment_id,
            uetr=uetr_of(payment_id),
            kind="payment",
            debit_bic=debit.bic,
            credit_bic=credit.bic if credit is not None else None,
            currency=debit.currency,
            amount_minor=amount_minor,
            end_to_end_id=None,
            instruction_id=None,
            transaction_id=None,
            msg_id="json",
            sha256=body_sha256,
            received_ns=time.time_ns(),
        )


def _group_batch(requests: list[CommandRequest]) -> Batch:
    """The group's rows in order: typed commands through ``Batch.of``, columnar requests
    as they are (CommandFormatError names a row of its own run of typed commands)."""
    parts: list[Batch] = []
    pending: list[Command] = []
    for request in requests:
        if request.batch is None:
            pending.extend(request.commands)
            continue
        if pending:
            parts.append(Batch.of(pending))
            pending = []
        parts.append(request.batch)
    if pending or not parts:
        parts.append(Batch.of(pending))
    return Batch.concat(parts)


def refusal(identity: Identity | None, route: str, status: int, text: str) -> None:
    """Log one refused request: who, where, why (the test of every refusal reads it)."""
    who = "anonymous" if identity is None else f"{identity.bic}/{identity.role.value}"
    holder = "" if identity is None else f" holder={identity.holder!r}"
    access_log.warning("refused %d %s %s%s: %s", status, route, who, holder, text)


def body_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
