"""A reference model of the engine's rules in plain Python, for differential testing.

It is written from the rules (docs/engine.md, and the check order of kernel.py and
ledger.py) as the most obvious code possible: dicts of small records, ints, a copy of
the money state to roll a linked chain back. No numpy, no kernel, no hash tables of its
own. Where the engine and this model disagree on any result code, replay flag, balance,
hold or participant, one of them is wrong, and the model is short enough to read.

The model deliberately reuses nothing from ``interbank.engine`` but the command and code
types and ``EngineSettings`` (the language both speak, and the limits both obey).
Currency and BIC validity are decided from small explicit tables, so a generated stream
that strays outside them fails loudly instead of silently agreeing with the engine.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from interbank.engine import (
    AccountKind,
    AdminCommand,
    CloseAccount,
    Command,
    EngineSettings,
    Hold,
    Issue,
    OpenAccount,
    PostHold,
    ReactivateParticipant,
    Redeem,
    RegisterParticipant,
    ResultCode,
    Role,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    VoidHold,
)

INT64_MAX = 2**63 - 1
ACCOUNT_ID_MAX = 2**63 - 1
NAME_LENGTH_MAX = 140

# ISO 4217 codes the generated streams use, with whether the network settles them
# (XAU has no minor unit, so it is refused like a code that does not exist).
CURRENCY_SETTLED: dict[str, bool] = {
    "EUR": True,
    "JPY": True,
    "BHD": True,
    "CNY": True,
    "USD": True,
    "XAU": False,
    "ABC": False,
    "eur": False,
}

# ISO 3166 country codes of the BICs the streams use. A BIC is 4 alphanumerics (party
# prefix), a country code, 2 alphanumerics (location) and optionally 3 (branch).
COUNTRY_CODES = frozenset({"DE", "FR", "US", "HK", "JP", "BH", "CN", "GB"})
_BIC_SHAPE = re.compile(r"[A-Z0-9]{4}([A-Z]{2})[A-Z0-9]{2}(?:[A-Z0-9]{3})?")

ADMIN_COMMANDS = (
    RegisterParticipant,
    OpenAccount,
    CloseAccount,
    SetCreditLine,
    SuspendParticipant,
    ReactivateParticipant,
)


class UnmodelledScenario(Exception):
    """The stream reached a case the model refuses to guess at (see the message)."""


@dataclass
class ModelParticipant:
    bic: str
    name: str
    role: Role
    currency: str | None
    suspended: bool = False


@dataclass
class ModelAccount:
    account_id: int
    bic: str
    currency: str
    issuance: bool
    floor_minor: int
    balance_minor: int = 0
    held_minor: int = 0
    closed: bool = False


@dataclass(frozen=True)
class ModelHold:
    # Frozen and replaced on every change, so a shallow copy of the holds dict is a
    # complete snapshot for rolling a chain back.
    hold_id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    expires_at_ns: int
    state: str  # "pending", "posted", "voided", "expired"
    posted_minor: int = 0


@dataclass
class Remembered:
    """One entry of the idempotency window: the command as first seen and its answer."""

    command: Command
    code: ResultCode


@dataclass
class _ChainMember:
    code: ResultCode
    replayed: bool
    own_record: Remembered | None  # this row's new window entry, if it made one
    replayed_record: Remembered | None  # the entry a re-sent row answered from


Answer = tuple[ResultCode, bool]  # (code, replayed)
_MoneyState = tuple[dict[int, tuple[int, int]], dict[int, ModelHold]]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ReferenceModel:
    """The engine's rules, one command at a time."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.timestamp_ns = 0
        self.commands_applied = 0
        # Dicts keep insertion order: participants in registration order, holds in
        # placement order, the window oldest first.
        self.participants: dict[str, ModelParticipant] = {}
        self.accounts: dict[int, ModelAccount] = {}
        self.holds: dict[int, ModelHold] = {}
        self.window: OrderedDict[int, Remembered] = OrderedDict()

    # --- batches --------------------------------------------------------------------

    def apply(self, commands: Sequence[Command], timestamp_ns: int) -> list[Answer]:
        if timestamp_ns < self.timestamp_ns:
            raise AssertionError("batches are applied in time order")
        if len(commands) > self.settings.batch_commands_max:
            raise ValueError("batch over batch_commands_max")
        self.timestamp_ns = timestamp_ns
        self._expire_holds(timestamp_ns)
        answers: list[Answer] = []
        # Administrative commands cannot be linked, so they cut the batch into runs of
        # money commands; a chain cannot continue across one.
        money_run: list[Command] = []
        for command in commands:
            if isinstance(command, ADMIN_COMMANDS):
                answers.extend(self._apply_money_run(money_run))
                money_run = []
                answers.append(self._apply_single(command))
            else:
                money_run.append(command)
        answers.extend(self._apply_money_run(money_run))
        self.commands_applied += len(commands)
        return answers

    def _expire_holds(self, timestamp_ns: int) -> None:
        for hold_id, hold in list(self.holds.items()):
            if hold.state == "pending" and 0 < hold.expires_at_ns <= timestamp_ns:
                self.accounts[hold.debit_account_id].held_minor -= hold.amount_minor
                self.holds[hold_id] = replace(hold, state="expired")

    def _apply_money_run(self, commands: list[Command]) -> list[Answer]:
        answers: list[Answer] = []
        start = 0
        while start < len(commands):
            end = start
            while end < len(commands) - 1 and _linked(commands[end]):
                end += 1
            unit = commands[start : end + 1]
            if len(unit) == 1 and not _linked(unit[0]):
                answers.append(self._apply_single(unit[0]))
            else:
                answers.extend(self._apply_chain(unit, left_open=_linked(unit[-1])))
            start = end + 1
        return answers

    # --- idempotency --------------------------------------------------------------------

    def _recall(self, command: Command) -> tuple[ResultCode, bool, Remembered | None] | None:
        """The answer for an id the window remembers, or None for a new id."""
        record = self.window.get(command.id)
        if record is None:
            return None
        if record.command == command:
            return record.code, True, record
        return ResultCode.ID_REUSED, False, None

    def _remember(self, command: Command, code: ResultCode) -> Remembered:
        record = Remembered(command, code)
        assert command.id not in self.window
        self.window[command.id] = record
        while len(self.window) > self.settings.idempotency_window_commands:
            self.window.popitem(last=False)
        return record

    def _apply_single(self, command: Command) -> Answer:
        recalled = self._recall(command)
        if recalled is not None:
            return recalled[0], recalled[1]
        code = self._settle(command)
        self._remember(command, code)
        return code, False

    # --- linked chains ------------------------------------------------------------------

    def _apply_chain(self, chain: list[Command], left_open: bool) -> list[Answer]:
        saved = self._money_state()
        failed = False
        members: list[_ChainMember] = []
        for position, command in enumerate(chain):
            open_end = left_open and position == len(chain) - 1
            recalled = self._recall(command)
            if recalled is not None:
                code, replayed, record = recalled
                member = _ChainMember(code, replayed, None, record)
            else:
                if failed:
                    code = ResultCode.LINKED_EVENT_FAILED
                elif open_end:
                    code = ResultCode.LINKED_CHAIN_OPEN
                else:
                    code = self._settle(command)
                member = _ChainMember(code, False, self._remember(command, code), None)
            # Any member answering other than OK fails the chain, a re-sent member whose
            # first answer was a failure included; so does an open end.
            if (code != ResultCode.OK or open_end) and not failed:
                failed = True
                self._restore_money_state(saved)
                for earlier in members:
                    if earlier.code == ResultCode.OK and not earlier.replayed:
                        assert earlier.own_record is not None
                        earlier.code = ResultCode.LINKED_EVENT_FAILED
                        earlier.own_record.code = ResultCode.LINKED_EVENT_FAILED
            members.append(member)
        # A re-sent member answers its first result as it stands once the chain is over:
        # if it was first sent earlier in this same chain, the chain may have failed since.
        for member in members:
            record = member.replayed_record
            if record is not None and self.window.get(record.command.id) is record:
                member.code = record.code
        return [(member.code, member.replayed) for member in members]

    def _money_state(self) -> _MoneyState:
        balances = {
            account_id: (account.balance_minor, account.held_minor)
            for account_id, account in self.accounts.items()
        }
        return balances, dict(self.holds)

    def _restore_money_state(self, saved: _MoneyState) -> None:
        balances, holds = saved
        for account_id, (balance_minor, held_minor) in balances.items():
            self.accounts[account_id].balance_minor = balance_minor
            self.accounts[account_id].held_minor = held_minor
        self.holds = holds

    # --- money commands -----------------------------------------------------------------

    def _settle(self, command: Command) -> ResultCode:
        """Check one command against the state and apply it when it passes."""
        if isinstance(command, ADMIN_COMMANDS):
            return self._settle_admin(command)
        if isinstance(command, Transfer | Hold):
            return self._transfer_or_hold(command)
        if isinstance(command, PostHold):
            return self._post_hold(command)
        if isinstance(command, VoidHold):
            return self._void_hold(command)
        if isinstance(command, Issue | Redeem):
            return self._issue_or_redeem(command)
        return ResultCode.KIND_UNKNOWN

    def _amount_problem(self, amount_minor: int) -> ResultCode | None:
        if amount_minor == 0:
            return ResultCode.AMOUNT_ZERO
        if amount_minor < 0:
            return ResultCode.AMOUNT_NEGATIVE
        if amount_minor > self.settings.amount_minor_max:
            return ResultCode.AMOUNT_OVER_LIMIT
        return None

    def _suspended(self, account: ModelAccount) -> bool:
        return self.participants[account.bic].suspended

    def _over_balance_limit(self, account: ModelAccount, credit_minor: int) -> bool:
        return account.balance_minor + credit_minor > self.settings.balance_minor_abs_max

    def _transfer_or_hold(self, command: Transfer | Hold) -> ResultCode:
        amount = command.amount_minor
        problem = self._amount_problem(amount)
        if problem is not None:
            return problem
        # A timeout must be non-negative and its expiry time must fit in 64 bits.
        if isinstance(command, Hold) and not (
            0 <= command.timeout_ns <= INT64_MAX - self.timestamp_ns
        ):
            return ResultCode.TIMEOUT_INVALID
        debit = self.accounts.get(command.debit_account_id)
        credit = self.accounts.get(command.credit_account_id)
        if debit is None:
            return ResultCode.DEBIT_ACCOUNT_NOT_FOUND
        if credit is None:
            return ResultCode.CREDIT_ACCOUNT_NOT_FOUND
        if debit is credit:
            return ResultCode.ACCOUNTS_MUST_DIFFER
        if debit.closed:
            return ResultCode.DEBIT_ACCOUNT_CLOSED
        if credit.closed:
            return ResultCode.CREDIT_ACCOUNT_CLOSED
        if debit.issuance or credit.issuance:
            return ResultCode.ISSUANCE_ACCOUNT_FORBIDDEN
        if debit.currency != credit.currency:
            return ResultCode.CURRENCY_MISMATCH
        if self._suspended(debit):
            return ResultCode.DEBIT_PARTICIPANT_SUSPENDED
        if self._suspended(credit):
            return ResultCode.CREDIT_PARTICIPANT_SUSPENDED
        if self._over_balance_limit(credit, amount):
            return ResultCode.BALANCE_LIMIT
        if debit.balance_minor - debit.held_minor - amount < debit.floor_minor:
            return ResultCode.INSUFFICIENT_FUNDS
        if isinstance(command, Hold) and len(self.holds) >= self.settings.holds_max:
            return ResultCode.LIMIT_REACHED
        if isinstance(command, Hold) and command.id in self.holds:
            # Hold ids outlive the idempotency window: placing one again is a reuse.
            return ResultCode.ID_REUSED
        if isinstance(command, Transfer):
            debit.balance_minor -= amount
            credit.balance_minor += amount
            return ResultCode.OK
        debit.held_minor += amount
        expires_at_ns = self.timestamp_ns + command.timeout_ns if command.timeout_ns > 0 else 0
        self.holds[command.id] = ModelHold(
            hold_id=command.id,
            debit_account_id=debit.account_id,
            credit_account_id=credit.account_id,
            amount_minor=amount,
            expires_at_ns=expires_at_ns,
            state="pending",
        )
        return ResultCode.OK

    def _pending_hold(self, hold_id: int) -> ModelHold | ResultCode:
        hold = self.holds.get(hold_id)
        if hold is None:
            return ResultCode.HOLD_NOT_FOUND
        if hold.state == "posted":
            return ResultCode.HOLD_ALREADY_POSTED
        if hold.state == "voided":
            return ResultCode.HOLD_ALREADY_VOIDED
        if hold.state == "expired":
            return ResultCode.HOLD_EXPIRED
        return hold

    def _post_hold(self, command: PostHold) -> ResultCode:
        hold = self._pending_hold(command.hold_id)
        if isinstance(hold, ResultCode):
            return hold
        amount = hold.amount_minor if command.amount_minor is None else command.amount_minor
        if amount == 0:
            return ResultCode.AMOUNT_ZERO
        if amount < 0:
            return ResultCode.AMOUNT_NEGATIVE
        if amount > hold.amount_minor:
            return ResultCode.POST_EXCEEDS_HOLD
        debit = self.accounts[hold.debit_account_id]
        credit = self.accounts[hold.credit_account_id]
        if credit.closed:
            return ResultCode.CREDIT_ACCOUNT_CLOSED
        if self._suspended(debit):
            return ResultCode.DEBIT_PARTICIPANT_SUSPENDED
        if self._suspended(credit):
            return ResultCode.CREDIT_PARTICIPANT_SUSPENDED
        if self._over_balance_limit(credit, amount):
            return ResultCode.BALANCE_LIMIT
        # The whole hold is released; only the posted part moves.
        debit.held_minor -= hold.amount_minor
        debit.balance_minor -= amount
        credit.balance_minor += amount
        self.holds[hold.hold_id] = replace(hold, state="posted", posted_minor=amount)
        return ResultCode.OK

    def _void_hold(self, command: VoidHold) -> ResultCode:
        hold = self._pending_hold(command.hold_id)
        if isinstance(hold, ResultCode):
            return hold
        self.accounts[hold.debit_account_id].held_minor -= hold.amount_minor
        self.holds[hold.hold_id] = replace(hold, state="voided")
        return ResultCode.OK

    def _issuance_account(self, currency: str) -> ModelAccount | None:
        for account in self.accounts.values():
            if account.issuance and account.currency == currency and not account.closed:
                return account
        return None

    def _issue_or_redeem(self, command: Issue | Redeem) -> ResultCode:
        issuing = isinstance(command, Issue)
        amount = command.amount_minor
        problem = self._amount_problem(amount)
        if problem is not None:
            return problem
        own = self.accounts.get(command.account_id)
        if own is None:
            return (
                ResultCode.CREDIT_ACCOUNT_NOT_FOUND
                if issuing
                else ResultCode.DEBIT_ACCOUNT_NOT_FOUND
            )
        if own.closed:
            return ResultCode.CREDIT_ACCOUNT_CLOSED if issuing else ResultCode.DEBIT_ACCOUNT_CLOSED
        if own.issuance:
            return ResultCode.ISSUANCE_ACCOUNT_FORBIDDEN
        issuer = self._issuance_account(own.currency)
        if issuer is None or issuer.closed:
            return ResultCode.NO_ISSUER
        debit, credit = (issuer, own) if issuing else (own, issuer)
        if self._suspended(debit):
            return ResultCode.DEBIT_PARTICIPANT_SUSPENDED
        if self._suspended(credit):
            return ResultCode.CREDIT_PARTICIPANT_SUSPENDED
        if self._over_balance_limit(credit, amount):
            return ResultCode.BALANCE_LIMIT
        # The issuance account has no floor, only the engine-wide balance limit.
        if issuing and issuer.balance_minor - amount < -self.settings.balance_minor_abs_max:
            return ResultCode.BALANCE_LIMIT
        # Redeem withdraws own funds only: the credit line does not count.
        if not issuing and own.balance_minor - own.held_minor - amount < 0:
            return ResultCode.INSUFFICIENT_FUNDS
        debit.balance_minor -= amount
        credit.balance_minor += amount
        return ResultCode.OK

    # --- administrative commands --------------------------------------------------------

    def _settle_admin(self, command: AdminCommand) -> ResultCode:
        if isinstance(command, RegisterParticipant):
            return self._register(command)
        if isinstance(command, OpenAccount):
            return self._open_account(command)
        if isinstance(command, CloseAccount):
            return self._close_account(command)
        if isinstance(command, SetCreditLine):
            return self._set_credit_line(command)
        return self._suspend_or_reactivate(command)

    @staticmethod
    def _bic_valid(bic: object) -> bool:
        if not isinstance(bic, str):
            return False
        shape = _BIC_SHAPE.fullmatch(bic)
        return shape is not None and shape.group(1) in COUNTRY_CODES

    @staticmethod
    def _currency_settled(code: object) -> bool:
        if not isinstance(code, str) or code not in CURRENCY_SETTLED:
            raise UnmodelledScenario(f"currency {code!r} is not in the model's table")
        return CURRENCY_SETTLED[code]

    def _register(self, command: RegisterParticipant) -> ResultCode:
        if not self._bic_valid(command.bic):
            return ResultCode.BIC_INVALID
        bic = canonical_bic(command.bic)
        if bic in self.participants:
            return ResultCode.PARTICIPANT_EXISTS
        name = command.name
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_LENGTH_MAX:
            return ResultCode.NAME_INVALID
        if not name.isprintable():
            return ResultCode.NAME_INVALID
        if command.role not in (Role.CENTRAL_BANK.value, Role.DIRECT.value):
            return ResultCode.ROLE_INVALID
        role = Role(command.role)
        if role == Role.CENTRAL_BANK:
            if command.currency is None:
                return ResultCode.ROLE_INVALID
            if not self._currency_settled(command.currency):
                return ResultCode.CURRENCY_UNKNOWN
            for other in self.participants.values():
                if other.role == Role.CENTRAL_BANK and other.currency == command.currency:
                    return ResultCode.CENTRAL_BANK_EXISTS
        elif command.currency is not None:
            return ResultCode.ROLE_INVALID
        if len(self.participants) >= self.settings.participants_max:
            return ResultCode.LIMIT_REACHED
        self.participants[bic] = ModelParticipant(bic, name, role, command.currency)
        return ResultCode.OK

    def _open_account(self, command: OpenAccount) -> ResultCode:
        account_id = command.account_id
        if not _is_int(account_id) or not 1 <= account_id <= ACCOUNT_ID_MAX:
            return ResultCode.ACCOUNT_ID_INVALID
        if account_id in self.accounts:
            return ResultCode.ACCOUNT_EXISTS
        owner = self.participants.get(canonical_bic(command.bic))
        if owner is None:
            return ResultCode.PARTICIPANT_NOT_FOUND
        if not self._currency_settled(command.currency):
            return ResultCode.CURRENCY_UNKNOWN
        if command.kind not in (AccountKind.SETTLEMENT.value, AccountKind.ISSUANCE.value):
            return ResultCode.ROLE_INVALID
        if owner.suspended:
            return ResultCode.ACCOUNT_PARTICIPANT_SUSPENDED
        issuance = command.kind == AccountKind.ISSUANCE
        if issuance and not (
            owner.role == Role.CENTRAL_BANK and owner.currency == command.currency
        ):
            return ResultCode.ISSUANCE_NOT_ALLOWED
        line = command.credit_line_minor
        if not _is_int(line) or not 0 <= line <= self.settings.balance_minor_abs_max:
            return ResultCode.CREDIT_LINE_INVALID
        if issuance and line != 0:
            return ResultCode.CREDIT_LINE_INVALID
        if len(self.accounts) >= self.settings.accounts_max:
            return ResultCode.LIMIT_REACHED
        # One open account per owner, currency and kind; a closed one frees its place.
        bic = canonical_bic(command.bic)
        for other in self.accounts.values():
            if not other.closed and (other.bic, other.currency, other.issuance) == (
                bic,
                command.currency,
                issuance,
            ):
                return ResultCode.ACCOUNT_EXISTS_FOR_CURRENCY
        floor_minor = -self.settings.balance_minor_abs_max if issuance else -line
        self.accounts[account_id] = ModelAccount(
            account_id, bic, command.currency, issuance, floor_minor
        )
        return ResultCode.OK

    def _account_by_id(self, account_id: object) -> ModelAccount | None:
        # A bool is an int to Python but not an account id.
        if not isinstance(account_id, int) or isinstance(account_id, bool):
            return None
        return self.accounts.get(account_id)

    def _close_account(self, command: CloseAccount) -> ResultCode:
        account = self._account_by_id(command.account_id)
        if account is None:
            return ResultCode.ACCOUNT_NOT_FOUND
        if account.closed:
            return ResultCode.ACCOUNT_ALREADY_CLOSED
        if account.balance_minor != 0 or account.held_minor != 0:
            return ResultCode.ACCOUNT_NOT_EMPTY
        account.closed = True
        return ResultCode.OK

    def _set_credit_line(self, command: SetCreditLine) -> ResultCode:
        account = self._account_by_id(command.account_id)
        if account is None:
            return ResultCode.ACCOUNT_NOT_FOUND
        if account.closed:
            return ResultCode.ACCOUNT_ALREADY_CLOSED
        line = command.credit_line_minor
        if account.issuance or not _is_int(line):
            return ResultCode.CREDIT_LINE_INVALID
        if not 0 <= line <= self.settings.balance_minor_abs_max:
            return ResultCode.CREDIT_LINE_INVALID
        if account.balance_minor - account.held_minor < -line:
            return ResultCode.CREDIT_LINE_BELOW_USAGE
        account.floor_minor = -line
        return ResultCode.OK

    def _suspend_or_reactivate(
        self, command: SuspendParticipant | ReactivateParticipant
    ) -> ResultCode:
        participant = self.participants.get(canonical_bic(command.bic))
        if participant is None:
            return ResultCode.PARTICIPANT_NOT_FOUND
        suspend = isinstance(command, SuspendParticipant)
        if participant.suspended and suspend:
            return ResultCode.PARTICIPANT_ALREADY_SUSPENDED
        if not participant.suspended and not suspend:
            return ResultCode.PARTICIPANT_NOT_SUSPENDED
        participant.suspended = suspend
        return ResultCode.OK


def canonical_bic(bic: str) -> str:
    """ISO 9362: a BIC11 with branch "XXX" names the same party as its BIC8."""
    return bic[:8] if len(bic) == 11 and bic.endswith("XXX") else bic


def _linked(command: Command) -> bool:
    return getattr(command, "linked", False) is True
