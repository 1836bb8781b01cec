"""The gateway: ISO 20022 messages in, engine commands through the node, answers out.

For a group of messages (``receive_many``; ``receive`` is a group of one):

1. validate each (``Validator``: limits, well-formed, header, schema, structure, rules);
2. apply the rules that need state: duplicate message ids per sender (DU01), a
   settlement account per agent and currency (AC01), the original of a return or a
   cancellation (by UETR, in the views);
3. archive every message's bytes durably in the view store, before anything reaches
   the journal (a crash after this loses nothing; a re-send of the same bytes is
   recognised and answered from the engine's idempotency window);
4. submit the commands: each message's transactions go in one journal entry together
   with a RecordMessage carrying the message's SHA-256 (so the hash chain vouches for
   the archived bytes); several messages may share one entry (cut only between
   messages);
5. answer: pacs.002 (ACSC settled, PDNG queued with why, RJCT with the reason) for
   payments and returns, camt.029 for cancellations, admi.002 for what cannot be read.

UETRs are the payments' command ids, so tracking by UETR is tracking by id. Payments
in message versions without a UETR get a UUID derived from the sender and its ids
(``payment_ids``). Returns, cancellations and message records get ids derived from the
sender and their references (a re-send maps to the same id and is idempotent).

The gateway is where ISO 20022 meets the node: unlike the rest of this package it
imports ``interbank.node`` (lazily), ``interbank.views`` and ``interbank.view_feed``.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from lxml import etree

from interbank.engine import Batch, CommandFormatError, ResultCode
from interbank.engine.commands import CancelPayment, Command, Payment, Priority, RecordMessage
from interbank.iso20022 import build, rules
from interbank.iso20022.catalog import OUTBOUND
from interbank.iso20022.model import (
    CancellationMessage,
    CreditTransferMessage,
    InboundMessage,
    ResolutionMessage,
    ReturnMessage,
)
from interbank.iso20022.payment_ids import carries_uetr, legacy_uetr
from interbank.iso20022.reasons import Rejection
from interbank.iso20022.settings import IsoSettings
from interbank.iso20022.validate import Validator, Verdict
from interbank.views import ArchivedMessage, PaymentRecord, ViewStore, uetr_of

_NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Reply:
    """The network's answer to one received message."""

    kind: str  # pacs.002, admi.002, camt.029, or "routed" (a camt.029 passed on)
    status: str  # ACSC, PDNG, RJCT, PART (pacs.002); the rejection code (admi.002); ...
    xml: bytes
    reasons: tuple[Rejection, ...] = ()
    sha256: str = ""


@dataclass(slots=True)
class _Tx:
    """One transaction's way through the gateway."""

    uetr: str | None  # as received, or derived (payment_ids) for versions without one
    end_to_end_id: str | None
    instruction_id: str | None = None
    transaction_id: str | None = None
    command: Command | None = None
    rejection: Rejection | None = None
    row: int = -1  # its row in the submitted commands
    cancellation_id: str | None = None
    forwarded_to: str | None = None
    uetr_derived: bool = False  # never written as OrgnlUETR (the schemas want a v4 UUID)


@dataclass(frozen=True, slots=True)
class _Results:
    """The engine's answers by row of the submitted commands (columns, no objects)."""

    codes: list[int]
    replayed: list[int]
    stamps_ns: list[int]  # the stamp of the journal entry each row went into
    refused: dict[int, Rejection]  # rows refused before the journal (cannot happen)


@dataclass(slots=True)
class _Plan:
    data: bytes
    sha256: str
    verdict: Verdict
    sender: str | None = None
    message_id: str = ""
    group_rejection: Rejection | None = None
    transactions: list[_Tx] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """Read, from a known sender, and not refused as a whole: the message is acted on
        (and its hash journaled), whatever becomes of each transaction."""
        verdict = self.verdict
        return (
            self.sender is not None
            and self.group_rejection is None
            and verdict.message is not None
            and "rules" in verdict.checks
        )


def _derived_id(*parts: str) -> int:
    """A 128-bit command id from text parts: a re-send gets the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:16], "big") or 1


def message_record_id(sha256: str) -> int:
    """The id of the RecordMessage of the message with this SHA-256: the same bytes
    re-sent give the same id, which the engine answers as a replay."""
    return _derived_id("message", sha256)


def _uuid_int(text: str) -> int:
    """A UUID's 128-bit value; its text was checked against the UUID pattern already
    (uuid.UUID() would parse it again, at three times the cost)."""
    return int(text.replace("-", ""), 16)


def _entries(message: InboundMessage, sender: str | None) -> list[_Tx]:
    """One entry per transaction, named by the UETR it is about. Versions without the
    UETR element name a payment by the id derived from the sender and its PmtId."""
    derive = sender is not None and not carries_uetr(message.definition)
    entries: list[_Tx] = []
    if isinstance(message, CreditTransferMessage):
        for tx in message.transactions:
            entry = _Tx(tx.uetr, tx.end_to_end_id, tx.instruction_id, tx.transaction_id)
            if derive and tx.uetr is None and tx.transaction_id is not None:
                assert sender is not None
                entry.uetr = legacy_uetr(
                    sender, tx.instruction_id, tx.end_to_end_id, tx.transaction_id
                )
                entry.uetr_derived = True
            entries.append(entry)
    elif isinstance(message, ReturnMessage):
        for rtr in message.transactions:
            entries.append(
                _Tx(
                    rtr.original_uetr,
                    rtr.original_end_to_end_id,
                    rtr.original_instruction_id,
                    rtr.original_transaction_id,
                )
            )
    elif isinstance(message, CancellationMessage):
        for cxl in message.transactions:
            entry = _Tx(
                cxl.original_uetr, cxl.original_end_to_end_id, cancellation_id=cxl.cancellation_id
            )
            e2e, original_tx = cxl.original_end_to_end_id, cxl.original_transaction_id
            if derive and cxl.original_uetr is None and e2e and original_tx:
                assert sender is not None
                entry.uetr = legacy_uetr(sender, cxl.original_instruction_id, e2e, original_tx)
                entry.uetr_derived = True
            entries.append(entry)
    else:
        entries.extend(_Tx(r.original_uetr, r.original_end_to_end_id) for r in message.transactions)
    return entries


class Gateway:
    """ISO 20022 in front of a node and its view store. One writer thread at a time."""

    def __init__(
        self,
        node: object,
        views: ViewStore,
        settings: IsoSettings,
        validator: Validator | None = None,
        db: str | None = None,
    ) -> None:
        from interbank.node import Node

        assert isinstance(node, Node)
        self.node = node
        self.views = views
        self.settings = settings
        self.validator = validator or Validator(settings)
        self.db = db  # the journal, for replaying it into views that fell behind
        self._sequence = 0
        self._stamp_cached = (-1, "")
        if settings.transactions_per_message_max + 1 > node.settings.batch_size_max:
            # A message and its RecordMessage must fit one journal entry.
            raise ValueError(
                f"transactions_per_message_max ({settings.transactions_per_message_max}) "
                f"must be below the node's batch_size_max ({node.settings.batch_size_max})"
            )

    @staticmethod
    def open(db: str, settings: IsoSettings | None = None, *, create: bool = False) -> Gateway:
        """Open the network at ``db`` with its view store, caught up with the journal."""
        from interbank.node import Node
        from interbank.view_feed import catch_up

        settings = settings or IsoSettings.from_environment()
        holder: list[Gateway] = []

        def on_applied(seq: int, batch: Batch, result: object, events: list[object]) -> None:
            gateway = holder[0]
            gateway.views.apply(seq, batch, result, events, gateway.node.engine)  # type: ignore[arg-type]

        # The node first: a missing or locked network must not leave a view store behind.
        node = Node.open(db, create=create, on_applied=on_applied)  # type: ignore[arg-type]
        views: ViewStore | None = None
        try:
            views = ViewStore.beside(db)
            catch_up(views, db)
            gateway = Gateway(node, views, settings, db=db)
        except BaseException:
            node.close()
            if views is not None:
                views.close()
            raise
        holder.append(gateway)
        return gateway

    def close(self) -> None:
        try:
            self.node.close()
        finally:
            self.views.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- receiving ------------------------------------------------------------------

    def receive(self, data: bytes, *, today: dt.date | None = None) -> Reply:
        return self.receive_many([data], today=today)[0]

    def receive_many(
        self, messages: Sequence[bytes], *, today: dt.date | None = None
    ) -> list[Reply]:
        """Answer each message; every transaction settles, queues or is rejected on its own."""
        if self.views.stale and self.db is not None:
            # A projection update was lost (the node recovered on its own, or a hook
            # failed): the state rules read the projections, so bring them level first.
            from interbank.view_feed import catch_up

            catch_up(self.views, self.db)
        with _collection_deferred():
            now_ns = time.time_ns()
            today = today or dt.datetime.fromtimestamp(now_ns / 1e9, dt.UTC).date()
            plans = [self._plan(bytes(data), today) for data in messages]
            self._state_rules(plans)
            self._archive(plans, now_ns)
            results = self._submit(plans)
            answered_ns = time.time_ns()
            # One creation time for every answer of the group: they are built together.
            created = build.iso_datetime(answered_ns)
            return [self._answer(plan, results, created, answered_ns) for plan in plans]

    def _plan(self, data: bytes, today: dt.date) -> _Plan:
        verdict = self.validator.check(data, usage_rules=True, today=today)
        plan = _Plan(data, hashlib.sha256(data).hexdigest(), verdict)
        message, header = verdict.message, verdict.header
        if header is not None and header.from_bic is not None:
            plan.sender = rules.canonical_bic(header.from_bic)
        if message is None or "rules" not in verdict.checks:
            return plan  # admi.002
        if isinstance(message, CreditTransferMessage | ReturnMessage):
            plan.message_id = message.message_id
        else:
            plan.message_id = message.assignment_id
        if verdict.rejections:
            plan.group_rejection = verdict.rejections[0]
        plan.transactions = _entries(message, plan.sender)
        for index, entry in enumerate(plan.transactions):
            entry.rejection = verdict.transaction_rejections.get(index)
        return plan

    # --- rules that need state --------------------------------------------------------

    def _state_rules(self, plans: list[_Plan]) -> None:
        keys = [(p.sender, p.message_id) for p in plans if p.sender and p.message_id]
        owners = self.views.message_id_owners(keys)  # type: ignore[arg-type]
        engine = self.node.engine
        for plan in plans:
            message = plan.verdict.message
            if message is None or plan.group_rejection is not None or plan.sender is None:
                continue
            key = (plan.sender, plan.message_id)
            owner = owners.get(key)
            if owner is not None and owner != plan.sha256:
                plan.group_rejection = Rejection(
                    "DU01",
                    f"{plan.sender} already sent another message with id {plan.message_id}",
                    "GrpHdr/MsgId",
                )
                continue
            owners[key] = plan.sha256  # a second message with this id in the same group
            if isinstance(message, CreditTransferMessage):
                self._map_payments(plan, message, engine)
            elif isinstance(message, ReturnMessage):
                self._map_returns(plan, message, engine)
            elif isinstance(message, CancellationMessage):
                self._map_cancellations(plan, message, engine)
            else:
                self._route_resolutions(plan, message)

    def _accounts(
        self, engine: object, debit_bic: str, credit_bic: str, currency: str, roles: tuple[str, str]
    ) -> tuple[int, int] | Rejection:
        debit = engine.settlement_account(debit_bic, currency)  # type: ignore[attr-defined]
        if debit is None:
            return Rejection(
                "AC01", f"the {roles[0]} {debit_bic} has no {currency} settlement account here"
            )
        credit = engine.settlement_account(credit_bic, currency)  # type: ignore[attr-defined]
        if credit is None:
            return Rejection(
                "AC01", f"the {roles[1]} {credit_bic} has no {currency} settlement account here"
            )
        return int(debit), int(credit)

    def _map_payments(self, plan: _Plan, message: CreditTransferMessage, engine: object) -> None:
        roles = (
            ("debtor agent", "creditor agent")
            if message.definition.name == "pacs.008"
            else ("debtor", "creditor")
        )
        for entry, tx in zip(plan.transactions, message.transactions, strict=True):
            if entry.rejection is not None:
                continue
            assert entry.uetr and tx.debit_party and tx.credit_party
            accounts = self._accounts(
                engine, tx.debit_party, tx.credit_party, tx.amount.currency, roles
            )
            if isinstance(accounts, Rejection):
                entry.rejection = Rejection(accounts.code, accounts.text, tx.location)
                continue
            minor, _ = rules.amount_minor(tx.amount)
            window: tuple[int, int] | Rejection = (0, 0)
            if tx.settlement_date or tx.from_time or tx.till_time:
                window = _window_ns(tx.settlement_date, tx.from_time, tx.till_time)
            if isinstance(window, Rejection):
                entry.rejection = window
                continue
            entry.command = Payment(
                id=_uuid_int(entry.uetr),
                debit_account_id=accounts[0],
                credit_account_id=accounts[1],
                amount_minor=minor,
                priority=Priority.HIGH if tx.priority == "HIGH" else Priority.NORMAL,
                from_ns=window[0],
                till_ns=window[1],
            )

    def _map_returns(self, plan: _Plan, message: ReturnMessage, engine: object) -> None:
        assert plan.sender is not None
        for entry, tx in zip(plan.transactions, message.transactions, strict=True):
            if entry.rejection is not None:
                continue
            assert tx.original_uetr is not None
            original = self._original(tx.original_uetr)
            minor, _ = rules.amount_minor(tx.amount)
            refused: Rejection | None = None
            if original is None:
                refused = Rejection("AG13", f"no payment with UETR {tx.original_uetr} here")
            elif not self._settled(original.payment_id):
                refused = Rejection("AG13", "the original payment has not settled")
            elif original.credit_bic != plan.sender:
                refused = Rejection("AG13", "only the original's creditor agent returns it")
            elif original.currency != tx.amount.currency:
                refused = Rejection("AM03", f"the original was in {original.currency}")
            elif original.amount_minor is not None and minor > original.amount_minor:
                refused = Rejection("AM09", "the return is larger than the original payment")
            if refused is not None:
                entry.rejection = Rejection(refused.code, refused.text, tx.location)
                continue
            assert original is not None and original.debit_bic and original.currency
            accounts = self._accounts(
                engine,
                plan.sender,
                original.debit_bic,
                original.currency,
                ("returning agent", "original debtor agent"),
            )
            if isinstance(accounts, Rejection):
                entry.rejection = accounts
                continue
            reference = tx.return_id or tx.original_end_to_end_id or plan.message_id
            entry.command = Payment(
                id=_derived_id("return", plan.sender, tx.original_uetr, reference),
                debit_account_id=accounts[0],
                credit_account_id=accounts[1],
                amount_minor=minor,
            )

    def _map_cancellations(self, plan: _Plan, message: CancellationMessage, engine: object) -> None:
        assert plan.sender is not None
        for entry, tx in zip(plan.transactions, message.transactions, strict=True):
            if entry.rejection is not None:
                continue
            assert entry.uetr is not None
            original = self._original(entry.uetr)
            if original is None:
                entry.rejection = Rejection("NOOR", "the network never received this payment")
                continue
            if original.debit_bic != plan.sender:
                entry.rejection = Rejection(
                    "AGNT", "only the original's debtor agent may ask to cancel it"
                )
                continue
            if engine.waiting(original.payment_id) is not None:  # type: ignore[attr-defined]
                reference = tx.cancellation_id or plan.message_id
                entry.command = CancelPayment(
                    id=_derived_id("cancel", plan.sender, entry.uetr, reference),
                    payment_id=original.payment_id,
                    by_bic=plan.sender,
                )
            elif self._settled(original.payment_id):
                entry.forwarded_to = original.credit_bic
            else:
                entry.rejection = Rejection(
                    "NARR", "the payment is neither waiting nor settled: nothing to cancel"
                )

    def _route_resolutions(self, plan: _Plan, message: ResolutionMessage) -> None:
        for entry in plan.transactions:
            if entry.rejection is not None or entry.uetr is None:
                continue
            original = self._original(entry.uetr)
            if original is None:
                entry.rejection = Rejection("NOOR", "the network never received this payment")
            elif original.credit_bic != plan.sender:
                entry.rejection = Rejection(
                    "AGNT", "only the original's creditor agent answers for it"
                )
            else:
                entry.forwarded_to = original.debit_bic

    def _original(self, uetr: str) -> PaymentRecord | None:
        for record in self.views.payments_of_uetr(uetr):
            if record.kind == "payment":
                return record
        return None

    def _settled(self, payment_id: int) -> bool:
        return any(o.event == "settled" for o in self.views.outcomes(payment_id))

    # --- archive, submit, answer ----------------------------------------------------

    def _archive(self, plans: list[_Plan], now_ns: int) -> None:
        messages: list[ArchivedMessage] = []
        ids: list[tuple[str, str, str]] = []
        payments: list[PaymentRecord] = []
        history: list[tuple[str, int, str, str | None, str | None]] = []
        outbox: list[tuple[str, str, str, str | None, int]] = []
        forwarded: list[ArchivedMessage] = []
        for plan in plans:
            verdict = plan.verdict
            rejection = verdict.rejections[0] if verdict.rejections else plan.group_rejection
            definition = None if verdict.document_def is None else verdict.document_def.identifier
            receiver = verdict.header.to_bic if verdict.header is not None else None
            messages.append(
                ArchivedMessage(
                    plan.sha256,
                    now_ns,
                    "in",
                    plan.sender,
                    receiver,
                    definition,
                    plan.message_id or None,
                    rejection.code if rejection else "ACCEPTED",
                    rejection.text[:500] if rejection else None,
                    plan.data,
                )
            )
            if plan.sender and plan.message_id and plan.group_rejection is None:
                ids.append((plan.sender, plan.message_id, plan.sha256))
            message = verdict.message
            for entry, tx in zip(
                plan.transactions, message.transactions if message else (), strict=False
            ):
                command = entry.command
                # A payment's "received" step is read from its PaymentRecord (track), so
                # the archive writes one row per payment, not two.
                if entry.uetr is not None and not isinstance(command, Payment):
                    event = "received" if entry.rejection is None else "refused"
                    detail = f"{definition} {plan.message_id} from {plan.sender}"
                    if entry.rejection is not None:
                        detail += f": {entry.rejection.code} {entry.rejection.text}"
                    history.append((entry.uetr, now_ns, event, detail[:500], plan.sha256))
                if isinstance(command, Payment) and entry.uetr is not None:
                    kind = "payment" if isinstance(message, CreditTransferMessage) else "return"
                    debit, credit = self._parties(message, tx, plan.sender)
                    payments.append(
                        PaymentRecord(
                            command.id,
                            entry.uetr,
                            kind,
                            debit,
                            credit,
                            tx.amount.currency,
                            command.amount_minor,
                            entry.end_to_end_id,
                            entry.instruction_id,
                            entry.transaction_id,
                            plan.message_id,
                            plan.sha256,
                            now_ns,
                        )
                    )
                if entry.forwarded_to is not None and verdict.envelope is not None:
                    copy = self._forward(plan, entry.forwarded_to, now_ns)
                    forwarded.append(copy)
                    outbox.append(
                        (entry.forwarded_to, copy.msg_def or "", copy.sha256, entry.uetr, now_ns)
                    )
                    history.append(
                        (
                            entry.uetr or "",
                            now_ns,
                            "forwarded",
                            f"{definition} to {entry.forwarded_to}",
                            copy.sha256,
                        )
                    )
        self.views.archive(messages + forwarded, ids, payments, history, outbox)

    @staticmethod
    def _parties(message: object, tx: object, sender: str | None) -> tuple[str | None, str | None]:
        if isinstance(message, CreditTransferMessage):
            return (
                rules.canonical_bic(tx.debit_party) if tx.debit_party else None,  # type: ignore[attr-defined]
                rules.canonical_bic(tx.credit_party) if tx.credit_party else None,
            )  # type: ignore[attr-defined]
        instructed = tx.instructed_agent  # type: ignore[attr-defined]
        return sender, rules.canonical_bic(instructed) if instructed else None

    def _forward(self, plan: _Plan, to_bic: str, now_ns: int) -> ArchivedMessage:
        """The received document under a new header from the network to ``to_bic``."""
        verdict = plan.verdict
        assert verdict.envelope is not None and verdict.envelope.document is not None
        assert verdict.document_def is not None
        definition = verdict.document_def.identifier
        self._sequence += 1
        message_id = f"F{now_ns:019d}{self._sequence % 10**6:06d}"
        document = etree.tostring(verdict.envelope.document, encoding="unicode")
        data = build.envelope(
            build.header(
                self.settings.network_bic,
                to_bic,
                message_id,
                definition,
                build.iso_datetime(now_ns),
            ),
            document,
        )
        return ArchivedMessage(
            hashlib.sha256(data).hexdigest(),
            now_ns,
            "out",
            self.settings.network_bic,
            to_bic,
            definition,
            message_id,
            "ROUTED",
            None,
            data,
        )

    def _submit(self, plans: list[_Plan]) -> _Results:
        """Submit every accepted message's RecordMessage and commands, a whole message per
        entry (several messages may share one); the engine's answers by row."""
        commands: list[Command] = []
        chunks: list[tuple[int, int]] = []
        start = 0
        size_max = self.node.settings.batch_size_max
        for plan in plans:
            if not plan.accepted:
                continue
            assert plan.sender is not None
            mine = [e for e in plan.transactions if e.command is not None]
            if len(commands) - start + len(mine) + 1 > size_max:
                chunks.append((start, len(commands)))
                start = len(commands)
            # The message's hash goes into the same entry as its transactions, so the
            # chain vouches for exactly the bytes archived for them.
            commands.append(RecordMessage(message_record_id(plan.sha256), plan.sender, plan.sha256))
            for entry in mine:
                entry.row = len(commands)
                commands.append(entry.command)  # type: ignore[arg-type]
        chunks.append((start, len(commands)))
        codes: list[int] = []
        replayed: list[int] = []
        stamps_ns: list[int] = []
        refused: dict[int, Rejection] = {}
        for a, b in chunks:
            if b == a:
                continue
            try:
                batch = Batch.of(commands[a:b])
            except CommandFormatError as error:
                # Cannot happen for what the rules let through; answer it rather than fail.
                refused.update(
                    {row: Rejection(error.reason_code, error.text) for row in range(a, b)}
                )
                codes.extend([0] * (b - a))
                replayed.extend([0] * (b - a))
                stamps_ns.extend([0] * (b - a))
                continue
            result = self.node.submit_batch(batch)
            codes.extend(result.codes.tolist())
            replayed.extend(result.replayed.tolist())
            stamps_ns.extend([result.timestamp_ns] * (b - a))
        return _Results(codes, replayed, stamps_ns, refused)

    def _next_id(self, prefix: str, timestamp_ns: int) -> str:
        self._sequence += 1
        return f"{prefix}{timestamp_ns:019d}{self._sequence % 10**6:06d}"

    def _answer(self, plan: _Plan, results: _Results, created: str, now_ns: int) -> Reply:
        verdict = plan.verdict
        network = self.settings.network_bic
        message = verdict.message
        if message is None or "rules" not in verdict.checks:
            rejection = (
                verdict.rejections[0]
                if verdict.rejections
                else Rejection("FF01", "not a message the network takes")
            )
            reference = plan.message_id or (
                verdict.header.business_message_id if verdict.header else plan.sha256[:35]
            )
            xml = build.admi002(
                network_bic=network,
                to_bic=plan.sender,
                message_id=self._next_id("A", now_ns),
                created=created,
                reference=reference,
                reason=rejection.code,
                text=rejection.text,
                location=rejection.location,
            )
            return Reply("admi.002", rejection.code, xml, tuple(verdict.rejections), plan.sha256)
        if isinstance(message, CancellationMessage | ResolutionMessage):
            return self._answer_case(plan, message, results, created, now_ns)
        definition = message.definition.identifier
        to_bic = plan.sender or network
        if plan.group_rejection is not None:
            xml = build.pacs002(
                network_bic=network,
                to_bic=to_bic,
                message_id=self._next_id("S", now_ns),
                created=created,
                original_message_id=plan.message_id,
                original_definition=definition,
                transactions=(),
                group_status="RJCT",
                group_reason=plan.group_rejection.code,
                group_text=plan.group_rejection.text,
            )
            return Reply("pacs.002", "RJCT", xml, (plan.group_rejection,), plan.sha256)
        statuses = [self._status(entry, results) for entry in plan.transactions]
        states = {s.status for s in statuses}
        group = states.pop() if len(states) == 1 else "PART"
        xml = build.pacs002(
            network_bic=network,
            to_bic=to_bic,
            message_id=self._next_id("S", now_ns),
            created=created,
            original_message_id=plan.message_id,
            original_definition=definition,
            transactions=statuses,
            group_status=group,
        )
        reasons = tuple(
            Rejection(s.reason, s.text or "") for s in statuses if s.status == "RJCT" and s.reason
        )
        return Reply("pacs.002", group, xml, reasons, plan.sha256)

    def _status(self, entry: _Tx, results: _Results) -> build.TransactionStatus:
        uetr = None if entry.uetr_derived else entry.uetr

        def status(
            code: str,
            reason: str | None = None,
            text: str | None = None,
            accepted: str | None = None,
        ) -> build.TransactionStatus:
            return build.TransactionStatus(
                code,
                uetr,
                entry.end_to_end_id,
                entry.instruction_id,
                entry.transaction_id,
                reason,
                text,
                accepted,
            )

        if entry.rejection is not None:
            return status("RJCT", entry.rejection.code, entry.rejection.text)
        row = entry.row
        refused = results.refused.get(row)
        if refused is not None:
            return status("RJCT", refused.code, refused.text)
        code = results.codes[row]
        payment_id = entry.command.id  # type: ignore[union-attr]
        if results.replayed[row]:
            # A re-send: answer with the payment's state now, not its first answer.
            latest = self.views.outcomes(payment_id)
            if latest:
                last = latest[-1]
                if last.event == "settled":
                    return status("ACSC", accepted=build.iso_datetime(last.at_ns))
                if last.event == "queued":
                    return status("PDNG", last.reason or "NARR", last.detail)
                return status("RJCT", last.reason or "NARR", last.detail)
        if code == ResultCode.OK:
            # Accepted (settled) when its journal entry was stamped.
            return status("ACSC", accepted=self._stamp_text(results.stamps_ns[row]))
        if code == ResultCode.QUEUED:
            view = self.node.engine.waiting(payment_id)
            if view is None:  # settled or left the queue since: say what happened
                latest = self.views.outcomes(payment_id)
                if latest and latest[-1].event == "settled":
                    return status("ACSC", accepted=build.iso_datetime(latest[-1].at_ns))
                return status("PDNG", "NARR", "accepted and waiting in the sender's queue")
            return status("PDNG", view.reason or "NARR", view.text)
        result_code = ResultCode(code)
        return status("RJCT", result_code.reason or "NARR", result_code.text)

    def _stamp_text(self, timestamp_ns: int) -> str:
        """``build.iso_datetime`` of an entry's stamp, remembered: every row of an entry
        shares it, and strftime costs more than the rest of a status."""
        if timestamp_ns != self._stamp_cached[0]:
            self._stamp_cached = (timestamp_ns, build.iso_datetime(timestamp_ns))
        return self._stamp_cached[1]

    def _answer_case(
        self,
        plan: _Plan,
        message: CancellationMessage | ResolutionMessage,
        results: _Results,
        created: str,
        now_ns: int,
    ) -> Reply:
        network = self.settings.network_bic
        to_bic = plan.sender or network
        if plan.group_rejection is not None:
            rejection = plan.group_rejection
            xml = build.admi002(
                network_bic=network,
                to_bic=plan.sender,
                message_id=self._next_id("A", now_ns),
                created=created,
                reference=plan.message_id,
                reason=rejection.code,
                text=rejection.text,
                location=rejection.location,
            )
            return Reply("admi.002", rejection.code, xml, (rejection,), plan.sha256)
        if isinstance(message, ResolutionMessage):
            refused = [e.rejection for e in plan.transactions if e.rejection is not None]
            if refused:
                xml = build.admi002(
                    network_bic=network,
                    to_bic=plan.sender,
                    message_id=self._next_id("A", now_ns),
                    created=created,
                    reference=plan.message_id,
                    reason=refused[0].code,
                    text=refused[0].text,
                )
                return Reply("admi.002", refused[0].code, xml, tuple(refused), plan.sha256)
            return Reply("routed", "ACCP", b"", (), plan.sha256)
        statuses: list[build.CancellationStatus] = []
        for entry, tx in zip(plan.transactions, message.transactions, strict=True):
            reason: str | None = None
            text: str | None = None
            if entry.rejection is not None:
                state, reason, text = "RJCR", entry.rejection.code, entry.rejection.text
            elif entry.forwarded_to is not None:
                state, reason = "PDCR", None
                text = f"forwarded to the creditor agent {entry.forwarded_to}"
            else:
                refused = results.refused.get(entry.row)
                code = results.codes[entry.row]
                if refused is None and code == ResultCode.OK:
                    state = "ACCR"
                else:
                    state = "RJCR"
                    reason = "NARR"
                    text = refused.text if refused is not None else ResultCode(code).text
            statuses.append(
                build.CancellationStatus(
                    state,
                    None if entry.uetr_derived else entry.uetr,
                    entry.end_to_end_id,
                    entry.cancellation_id,
                    tx.original_message_id,
                    tx.original_message_name,
                    reason,
                    text,
                )
            )
        states = {s.status for s in statuses}
        confirmation = "CNCL" if states == {"ACCR"} else ("PDCR" if "PDCR" in states else "RJCR")
        xml = build.camt029(
            sender_bic=network,
            to_bic=to_bic,
            message_id=self._next_id("R", now_ns),
            created=created,
            case_id=message.case_id,
            case_creator=plan.sender,
            confirmation=confirmation,
            transactions=statuses,
        )
        reasons = tuple(Rejection(s.reason, s.text or "") for s in statuses if s.reason)
        return Reply("camt.029", confirmation, xml, reasons, plan.sha256)


@contextmanager
def _collection_deferred() -> Iterator[None]:
    """Hold the cyclic garbage collector back until a group of messages is answered.

    A group keeps some thirty objects per message alive from validation to answer, so
    a thousand messages set off many young collections and a full one every group or
    two, each walking every live object in the process: 7-10% of the gateway's CPU
    (measured with bench iso). Everything the group allocates is freed by reference
    counting when it ends, so nothing piles up; the collector resumes right after (and
    is left off if it was off).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _window_ns(
    date_text: str | None, from_text: str | None, till_text: str | None
) -> tuple[int, int] | Rejection:
    """(from_ns, till_ns) of a settlement date and time request (0: none)."""
    try:
        day = dt.date.fromisoformat(date_text) if date_text else None
        base = day or dt.datetime.now(dt.UTC).date()
        from_ns = _at_ns(base, from_text) if from_text else 0
        if day is not None and from_ns == 0:
            midnight = dt.datetime.combine(day, dt.time(0), dt.UTC)
            from_ns = int(midnight.timestamp()) * 1_000_000_000
            if from_ns <= time.time_ns():
                from_ns = 0  # today: no reason to wait
        till_ns = _at_ns(base, till_text) if till_text else 0
    except ValueError as error:
        return Rejection("DT01", f"not a settlement time: {error}")
    if till_ns and from_ns and till_ns < from_ns:
        return Rejection("DT01", "the latest settlement time is before the earliest")
    return from_ns, till_ns


def _at_ns(day: dt.date, text: str) -> int:
    moment = dt.time.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    combined = dt.datetime.combine(day, moment)
    return int(combined.timestamp() * 1_000_000) * 1000


__all__ = ["OUTBOUND", "Gateway", "Reply", "uetr_of"]
