"""Generated command streams: a small fixed network and random traffic over it.

The network is small on purpose (3 central banks, 4 direct banks, about a dozen
accounts), so random commands collide: the same accounts, holds and ids come up again
and again, and every rejection path gets hit. The generator is written against
``Choices`` so the same code serves hypothesis (which shrinks a failure down to a few
commands) and a seeded ``random.Random`` (for streams far longer than hypothesis can
draw).

A stream is a list of batches, each (timestamp_ns, commands). Batch boundaries may cut
a linked chain (its first part then answers LINKED_CHAIN_OPEN), unless asked not to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from interbank.engine import (
    AccountKind,
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
    Role,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    VoidHold,
)

T = TypeVar("T")
INT64_MAX = 2**63 - 1
ACCOUNT_ID_MAX = 2**63 - 1
COMMAND_ID_MAX = 2**128 - 1

# --- the fixed network ------------------------------------------------------------------

# (bic, name, currency it issues, issuance account id or None: BHD's central bank opens
# its issuance account only if the stream says so, until then BHD has no issuer)
CENTRAL_BANKS: tuple[tuple[str, str, str, int | None], ...] = (
    ("ECBFDEFF", "European Central Bank", "EUR", 1),
    ("BOJPJPJT", "Bank of Japan", "JPY", 2),
    ("CBBHBHBM", "Central Bank of Bahrain", "BHD", None),
)
DIRECT_BANKS: tuple[tuple[str, str], ...] = (
    ("BNPAFRPP", "BNP Paribas"),
    ("CHASUS33", "JPMorgan Chase"),
    ("HSBCHKHH", "HSBC Hong Kong"),
    ("DEUTDEFF500", "Deutsche Bank Branch 500"),
)
# (account id, owner, currency, credit line)
SETTLEMENT_ACCOUNTS: tuple[tuple[int, str, str, int], ...] = (
    (10, "BNPAFRPP", "EUR", 500),
    (11, "CHASUS33", "EUR", 0),
    (12, "HSBCHKHH", "EUR", 200),
    (13, "DEUTDEFF500", "EUR", 0),
    (14, "BNPAFRPP", "JPY", 0),
    (15, "CHASUS33", "JPY", 1_000),
    (16, "HSBCHKHH", "BHD", 300),
    (17, "DEUTDEFF500", "BHD", 0),
    (18, "ECBFDEFF", "EUR", 0),
)
OPENING_ISSUES: tuple[tuple[int, int], ...] = (
    (10, 5_000),
    (11, 5_000),
    (12, 5_000),
    (13, 5_000),
    (14, 100_000),
    (15, 100_000),
)

SETTLEMENT_IDS = tuple(account[0] for account in SETTLEMENT_ACCOUNTS)
CURRENCY_GROUPS = tuple(
    tuple(account[0] for account in SETTLEMENT_ACCOUNTS if account[2] == code)
    for code in ("EUR", "JPY", "BHD")
)
# Ids the stream may open later (3: BHD's issuance account), and one that never exists.
LATER_ACCOUNT_IDS = (3, 20, 21, ACCOUNT_ID_MAX)
UNKNOWN_ACCOUNT_ID = 99
MONEY_ACCOUNT_IDS = (1, 2, *SETTLEMENT_IDS, *LATER_ACCOUNT_IDS, UNKNOWN_ACCOUNT_ID)

KNOWN_BICS = tuple(bank[0] for bank in CENTRAL_BANKS) + tuple(bank[0] for bank in DIRECT_BANKS)
NEW_BICS = ("BARCGB22", "PBOCCNBJ", "CITIUS33")
# Wrong country code, wrong length, lower case.
INVALID_BICS = ("DEUTXXFF", "DEUTDEFF50", "deutdeff")
ALL_BICS = KNOWN_BICS + NEW_BICS + INVALID_BICS
CURRENCIES = ("EUR", "JPY", "BHD", "CNY", "USD")
BAD_CURRENCIES = ("XAU", "ABC", "eur")

SETUP_TIMESTAMP_NS = 1
FIRST_STREAM_ID = 1_000


def setup_commands() -> list[Command]:
    """Register the network, open its accounts and issue opening balances (ids 1..)."""
    commands: list[Command] = []
    for bic, name, code, _ in CENTRAL_BANKS:
        commands.append(RegisterParticipant(len(commands) + 1, bic, name, Role.CENTRAL_BANK, code))
    for bic, name in DIRECT_BANKS:
        commands.append(RegisterParticipant(len(commands) + 1, bic, name, Role.DIRECT))
    for bic, _, code, issuance_id in CENTRAL_BANKS:
        if issuance_id is not None:
            commands.append(
                OpenAccount(len(commands) + 1, issuance_id, bic, code, AccountKind.ISSUANCE)
            )
    for account_id, bic, code, line in SETTLEMENT_ACCOUNTS:
        commands.append(
            OpenAccount(len(commands) + 1, account_id, bic, code, credit_line_minor=line)
        )
    for account_id, amount in OPENING_ISSUES:
        commands.append(Issue(len(commands) + 1, account_id, amount))
    assert len(commands) < FIRST_STREAM_ID
    return commands


def stream_settings(*, tight_limits: bool, window: int = 4_096) -> EngineSettings:
    """Small money limits so over-limit and balance-limit paths are reachable.

    With ``tight_limits`` the participant, account and hold limits sit just above what
    the setup uses, so LIMIT_REACHED comes up too.
    """
    common: dict[str, Any] = {
        "idempotency_window_commands": window,
        "batch_commands_max": 64,
        "amount_minor_max": 1_000_000,
        "balance_minor_abs_max": 1_200_000,
    }
    if tight_limits:
        return EngineSettings(participants_max=9, accounts_max=13, holds_max=6, **common)
    return EngineSettings(**common)


# --- sources of choices -------------------------------------------------------------------


class Choices(Protocol):
    def integer(self, low: int, high: int) -> int: ...


class RandomChoices:
    """Choices from a seeded ``random.Random``: long streams, reproducible by seed."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)


class DrawChoices:
    """Choices drawn by hypothesis, so a failing stream shrinks.

    Hypothesis shrinks integers toward ``low``: so ``pick`` shrinks to the first option
    and ``chance`` to False, which keeps shrunk streams plain.
    """

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        value: int = self._draw(st.integers(low, high))
        return value


def pick(choices: Choices, options: Sequence[T]) -> T:
    return options[choices.integer(0, len(options) - 1)]


def chance(choices: Choices, percent: int) -> bool:
    return choices.integer(0, 99) >= 100 - percent


# --- the generator ------------------------------------------------------------------------


@dataclass
class Stream:
    settings: EngineSettings
    batches: list[tuple[int, list[Command]]] = field(default_factory=list)
    # The writer that wrote it, to write more commands that refer to the same holds and
    # ids (None for streams built by hand).
    writer: StreamWriter | None = None

    def commands(self) -> list[Command]:
        return [command for _, batch in self.batches for command in batch]


class StreamWriter:
    """Writes random commands over the fixed network, remembering what it sent.

    ``hold_resend_horizon``: when set, a re-send that involves a hold (the old or the new
    content is a Hold) only reuses ids first sent within that many commands, so streams
    longer than the idempotency window keep most re-sends answerable from the window.

    ``odd_enums``: also send roles and account kinds that are not enum values; the batch
    boundary refuses those with FF01 (``Batch.of`` raises), so only tests of that
    boundary turn it on.
    """

    def __init__(
        self,
        choices: Choices,
        settings: EngineSettings,
        *,
        hold_resend_horizon: int | None = None,
        odd_enums: bool = False,
    ) -> None:
        self.choices = choices
        self.settings = settings
        self.hold_resend_horizon = hold_resend_horizon
        self.odd_enums = odd_enums
        self.sent: list[Command] = []
        self.first_sent_at: dict[int, int] = {}
        self.hold_ids: list[int] = []
        self._chain_hold_ids: list[int] = []
        self._next_id = FIRST_STREAM_ID

    # --- fields ---

    def _fresh_id(self) -> int:
        self._next_id += 1
        # Some ids use the high 64 bits, so both halves of the 128-bit id are exercised,
        # and some sit just under 2**128, where both halves have their top bit set (the
        # kernel keeps them in uint64 arrays; a signed slip would show there).
        band = self.choices.integer(0, 99)
        if band < 15:
            return (self._next_id << 70) | self._next_id
        if band < 25:
            return COMMAND_ID_MAX - self._next_id
        return self._next_id

    def _amount(self, careful: bool = False) -> int:
        """Mostly amounts that can settle; a careful one always is positive and small."""
        c = self.choices
        band = c.integer(0, 99)
        limit = self.settings.amount_minor_max
        if careful or band < 60:
            return c.integer(1, 800)
        if band < 68:
            return c.integer(801, 6_000)
        if band < 74:
            return 0
        if band < 80:
            return -c.integer(1, 1_000)
        if band < 88:
            return limit + c.integer(1, 1_000)
        return limit - c.integer(0, 1_000)

    def _account_id(self) -> int:
        if chance(self.choices, 80):
            return pick(self.choices, SETTLEMENT_IDS)
        return pick(self.choices, MONEY_ACCOUNT_IDS)

    def _account_pair(self, careful: bool = False) -> tuple[int, int]:
        """Debit and credit: most often two settlement accounts of one currency."""
        if careful:
            funded = pick(self.choices, CURRENCY_GROUPS[:2])  # EUR and JPY have money
            debit = pick(self.choices, funded)
            return debit, pick(self.choices, [other for other in funded if other != debit])
        debit = self._account_id()
        group: tuple[int, ...] | None = next((ids for ids in CURRENCY_GROUPS if debit in ids), None)
        if group is not None and chance(self.choices, 75):
            others = [account_id for account_id in group if account_id != debit]
            return debit, pick(self.choices, others)
        return debit, self._account_id()

    def _timeout_ns(self) -> int:
        # Mostly holds that expire, so money held and never posted comes back.
        band = self.choices.integer(0, 99)
        if band < 20:
            return 0
        if band < 85:
            return self.choices.integer(1, 400)
        if band < 90:
            return -self.choices.integer(1, 10)
        if band < 95:
            return INT64_MAX
        return 10**6

    def _hold_reference(self, careful: bool = False) -> int:
        if careful and self._chain_hold_ids:
            # Place, then post or void in the same chain: the two-phase pattern.
            return pick(self.choices, self._chain_hold_ids)
        if self.hold_ids and chance(self.choices, 90):
            # Recent holds are the ones most likely still pending.
            if chance(self.choices, 60):
                return pick(self.choices, self.hold_ids[-4:])
            return pick(self.choices, self.hold_ids)
        return self._fresh_id()

    # --- commands ---

    def money_command(self, command_id: int, linked: bool, careful: bool = False) -> Command:
        c = self.choices
        kind = c.integer(0, 99)
        if careful and 62 <= kind < 84 and not self._chain_hold_ids:
            kind = 50  # nothing of this chain to post or void yet: place a hold instead
        if kind < 45:
            debit, credit = self._account_pair(careful)
            return Transfer(command_id, debit, credit, self._amount(careful), linked)
        if kind < 62:
            debit, credit = self._account_pair(careful)
            timeout_ns = self._timeout_ns()
            if careful:
                timeout_ns = max(timeout_ns, 0) % 1_000
            return Hold(command_id, debit, credit, self._amount(careful), timeout_ns, linked)
        if kind < 76:
            amount = None if chance(c, 50) else self._amount(careful) // 4
            return PostHold(command_id, self._hold_reference(careful), amount, linked)
        if kind < 84:
            return VoidHold(command_id, self._hold_reference(careful), linked)
        if kind < 93:
            return Issue(command_id, self._account_id(), self._amount(careful), linked)
        return Redeem(command_id, self._account_id(), self._amount(careful), linked)

    def admin_command(self, command_id: int) -> Command:
        c = self.choices
        # Reactivations outnumber suspensions, so participants are not suspended for good.
        kind = pick(c, (0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 5, 5, 5))
        if kind == 0:
            role_options: list[Any] = [Role.DIRECT, Role.CENTRAL_BANK]
            if self.odd_enums:
                role_options.append("banana")
            currency = pick(c, (None, None, "CNY", "EUR", "USD", "XAU", "ABC"))
            name = pick(c, ("Barclays", "Citibank", "", "x" * 141, "Bad\nname"))
            bic = pick(c, ALL_BICS)
            return RegisterParticipant(command_id, bic, name, pick(c, role_options), currency)
        if kind == 1:
            account_id = pick(c, (*LATER_ACCOUNT_IDS, *LATER_ACCOUNT_IDS, 10, 0, -1, 2**63))
            kind_options: list[Any] = [AccountKind.SETTLEMENT, AccountKind.ISSUANCE]
            if self.odd_enums:
                kind_options.append("savings")
            band = c.integer(0, 99)
            if band < 60:
                line = 0
            elif band < 85:
                line = c.integer(1, 2_000)
            else:
                line = pick(c, (-5, self.settings.balance_minor_abs_max + 1))
            code = pick(c, CURRENCIES + CURRENCIES + BAD_CURRENCIES)
            return OpenAccount(
                command_id, account_id, pick(c, ALL_BICS), code, pick(c, kind_options), line
            )
        if kind == 2:
            return CloseAccount(command_id, pick(c, (*MONEY_ACCOUNT_IDS, 0)))
        if kind == 3:
            band = c.integer(0, 99)
            if band < 50:
                line = c.integer(0, 2_000)
            elif band < 80:
                line = c.integer(0, 50)
            else:
                line = pick(c, (-1, self.settings.balance_minor_abs_max + 1))
            return SetCreditLine(command_id, self._account_id(), line)
        bic = pick(c, KNOWN_BICS) if chance(c, 75) else pick(c, ALL_BICS)
        if kind == 4:
            return SuspendParticipant(command_id, bic)
        return ReactivateParticipant(command_id, bic)

    def _may_reuse(self, old: Command, new_is_hold: bool) -> bool:
        if self.hold_resend_horizon is None:
            return True
        if not (isinstance(old, Hold) or new_is_hold):
            return True
        return self.first_sent_at[old.id] >= len(self.sent) - self.hold_resend_horizon

    def resent(self, linked: bool | None) -> Command | None:
        """An earlier command again: as it was (a retry) or with other content (a reuse).

        ``linked`` None means any command (also administrative); otherwise a money
        command with that linked flag, so it can sit inside a chain.
        """
        if not self.sent:
            return None
        c = self.choices
        old = self.sent[c.integer(0, len(self.sent) - 1)]
        same = chance(c, 60)
        if same:
            if linked is not None and getattr(old, "linked", None) != linked:
                return None
            return old if self._may_reuse(old, False) else None
        if linked is None and chance(c, 30):
            new = self.admin_command(old.id)
        else:
            new = self.money_command(old.id, bool(linked))
        if new == old or not self._may_reuse(old, isinstance(new, Hold)):
            return None
        return new

    def _record(self, command: Command) -> Command:
        self.first_sent_at.setdefault(command.id, len(self.sent))
        self.sent.append(command)
        if isinstance(command, Hold):
            self.hold_ids.append(command.id)
        return command

    def unit(self) -> list[Command]:
        """One command, or a linked chain of 2 to 5."""
        c = self.choices
        if not chance(c, 25):
            command: Command | None = None
            if chance(c, 12):
                command = self.resent(None)
            if command is None:
                if chance(c, 15):
                    command = self.admin_command(self._fresh_id())
                else:
                    command = self.money_command(self._fresh_id(), False)
            self._chain_hold_ids = []
            return [self._record(command)]
        return self.chain()

    def chain(self, length: int | None = None, *, admin_may_cut: bool = True) -> list[Command]:
        """A linked chain of ``length`` commands (2 to 5 when not given).

        Now and then the last member keeps the linked flag (the chain is left open), and
        with ``admin_may_cut`` an administrative command may land inside it.
        """
        c = self.choices
        if length is None:
            length = c.integer(2, 5)
        leave_open = chance(c, 8)
        chain: list[Command] = []
        self._chain_hold_ids = []
        for position in range(length):
            linked = position < length - 1 or leave_open
            member: Command | None = None
            if chance(c, 10):
                member = self.resent(linked)
            if member is None and admin_may_cut and chance(c, 4):
                # Cuts the chain: an administrative command cannot be linked.
                member = self.admin_command(self._fresh_id())
            if member is None:
                # Mostly plausible members, so that some chains settle as a whole.
                member = self.money_command(self._fresh_id(), linked, careful=chance(c, 90))
            chain.append(self._record(member))
            if isinstance(member, Hold):
                self._chain_hold_ids.append(member.id)
        return chain

    def units(self, commands_min: int) -> list[list[Command]]:
        units: list[list[Command]] = []
        count = 0
        while count < commands_min:
            units.append(self.unit())
            count += len(units[-1])
        return units


def cut_into_batches(
    choices: Choices,
    units: list[list[Command]],
    *,
    batch_rows_max: int,
    keep_chains_whole: bool,
    first_timestamp_ns: int,
) -> list[tuple[int, list[Command]]]:
    """Cut units into batches of at most ``batch_rows_max`` rows, with rising stamps.

    With ``keep_chains_whole`` a batch ends only between units; otherwise anywhere.
    Now and then a batch is empty: it only moves time on (and expires holds).
    """
    rows: list[Command] = [command for unit in units for command in unit]
    unit_ends = set()
    position = 0
    for unit in units:
        position += len(unit)
        unit_ends.add(position)
    batches: list[tuple[int, list[Command]]] = []
    timestamp_ns = first_timestamp_ns
    start = 0
    while start < len(rows):
        band = choices.integer(0, 99)
        if band < 40:
            step = 0
        elif band < 90:
            step = choices.integer(1, 100)
        else:
            step = choices.integer(101, 1_000)
        timestamp_ns += step
        if chance(choices, 3):
            batches.append((timestamp_ns, []))
            continue
        stop = min(len(rows), start + choices.integer(1, batch_rows_max))
        # Most batches end between units, so most chains arrive whole.
        if keep_chains_whole or chance(choices, 80):
            while stop not in unit_ends:
                stop += 1
        batches.append((timestamp_ns, rows[start:stop]))
        start = stop
    return batches


def write_stream(
    choices: Choices,
    settings: EngineSettings,
    commands_min: int,
    *,
    batch_rows_max: int = 12,
    keep_chains_whole: bool = False,
    hold_resend_horizon: int | None = None,
    odd_enums: bool = False,
) -> Stream:
    """The setup batch, then random traffic of at least ``commands_min`` commands."""
    writer = StreamWriter(
        choices, settings, hold_resend_horizon=hold_resend_horizon, odd_enums=odd_enums
    )
    units = writer.units(commands_min)
    stream = Stream(settings, [(SETUP_TIMESTAMP_NS, setup_commands())], writer)
    stream.batches.extend(
        cut_into_batches(
            choices,
            units,
            batch_rows_max=batch_rows_max,
            keep_chains_whole=keep_chains_whole,
            first_timestamp_ns=SETUP_TIMESTAMP_NS,
        )
    )
    for _, batch in stream.batches:
        assert len(batch) <= settings.batch_commands_max
    return stream


@st.composite
def random_streams(
    draw: st.DrawFn,
    *,
    commands_max: int = 50,
    window: int = 4_096,
    batch_commands_max: int = 64,
    keep_chains_whole: bool = False,
    hold_resend_horizon: int | None = None,
    odd_enums: bool = False,
) -> Stream:
    """A hypothesis strategy for streams: the setup batch, then 1 to ``commands_max``
    random commands (a little more when the last unit is a chain)."""
    settings = stream_settings(tight_limits=draw(st.booleans()), window=window)
    settings = replace(settings, batch_commands_max=batch_commands_max)
    commands_min = draw(st.integers(1, commands_max))
    return write_stream(
        DrawChoices(draw),
        settings,
        commands_min,
        batch_rows_max=min(12, batch_commands_max - 5),
        keep_chains_whole=keep_chains_whole,
        hold_resend_horizon=hold_resend_horizon,
        odd_enums=odd_enums,
    )
