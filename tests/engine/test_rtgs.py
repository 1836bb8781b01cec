"""RTGS queues and liquidity saving on hand-derived examples (issue 3).

Every expected figure below is worked out by hand in the test's comments from the
rules in docs/rtgs.md, never by running the engine: balances, which payments settle
together and in which run, and the reason code of every refusal. Bad input is checked
for its reason and for having no effect at all (``Network.state``).

The network (rtgs_network.py): banks A..H with EUR accounts 100..107, the ECB's own
account 90 (the only sender of urgent payments), USD accounts for A and B.
"""

from __future__ import annotations

import pytest

from interbank.engine import Issue, ResultCode, SuspendParticipant, Transfer
from interbank.engine.commands import (
    CancelPayment,
    ChangePriority,
    DayClosed,
    EndOfDay,
    LsmRun,
    MovePayment,
    ResolveGridlock,
    SetBilateralLimit,
    SetMultilateralLimit,
    SetReservation,
    SettleSet,
    StartOfDay,
    TillWarning,
)

from .rtgs_network import (
    BICS,
    CENTRAL_BANK_ACCOUNT,
    EUR_ACCOUNTS,
    EUR_ISSUANCE_ACCOUNT,
    HIGH,
    NORMAL,
    URGENT,
    Network,
)

QUEUED = ResultCode.QUEUED
OK = ResultCode.OK


def only_run(net: Network) -> LsmRun:
    runs = net.runs()
    assert len(runs) == 1, runs
    return runs[0]


# --- gridlock resolution -------------------------------------------------------------------


def test_gridlock_cycle_settles_together() -> None:
    # A, B and C hold nothing; each owes the next 100. None can pay alone, and no pair
    # offsets (each bank's only payment goes to a third), so all three queue. Together
    # every position is -100 + 100 = 0 >= 0: the run settles the whole cycle at once.
    net = Network()
    ab, r1 = net.pay("A", "B", 100)
    bc, r2 = net.pay("B", "C", 100)
    assert (r1.code, r2.code) == (QUEUED, QUEUED)
    assert net.engine.waiting_count() == 2
    ca, r3 = net.pay("C", "A", 100)
    assert r3.code == QUEUED  # it waited, then the run after its batch settled it
    run = only_run(net)
    assert run.method == "fifo" and run.currency == "EUR"
    assert set(run.payment_ids) == {ab, bc, ca} and run.value_minor == 300
    assert {s.run_id for s in net.settled()} == {run.run_id} and run.run_id > 0
    assert net.balances(("A", "B", "C")) == {"A": 0, "B": 0, "C": 0}
    assert net.engine.waiting_count() == 0


def test_gridlock_short_by_one_settles_nothing_until_liquidity_arrives() -> None:
    # A->B 100, B->C 150, C->A 120 with A=30, B=49, C=0. Positions with everything in:
    # A 30-100+120=50, B 49-150+100=-1, C 0-120+150=30. B is short: its only payment
    # goes; then C receives nothing and is short 120: C->A goes; then A receives nothing
    # and is short 70: A->B goes. Nothing settles.
    net = Network({"A": 30, "B": 49})
    for sender, payee, amount in (("A", "B", 100), ("B", "C", 150), ("C", "A", 120)):
        assert net.pay(sender, payee, amount)[1].code == QUEUED
    assert net.engine.waiting_count() == 3
    # One more unit for B (liquidity added: a run follows): B 50-150+100=0, all settle.
    assert net.fund("B", 1).ok
    assert only_run(net).value_minor == 370
    assert net.balances(("A", "B", "C")) == {"A": 50, "B": 0, "C": 30}


# --- FIFO and priorities ---------------------------------------------------------------------


def test_high_payments_settle_in_fifo_order() -> None:
    # A=50. H1 A->B 80 cannot settle; H2 A->C 10 could, but high payments keep FIFO.
    net = Network({"A": 50})
    h1, r1 = net.pay("A", "B", 80, HIGH)
    h2, r2 = net.pay("A", "C", 10, HIGH)
    assert (r1.code, r2.code) == (QUEUED, QUEUED)
    view = net.engine.waiting(h2)
    assert view is not None
    assert (view.reason, view.blocking_payment_id, view.position) == ("NARR", h1, 2)
    # +30: A=80. Prefix [H1, H2] needs 90 > 80: drop H2; [H1] needs 80: settles alone.
    net.fund("A", 30)
    assert net.settled_ids() == {h1}
    assert net.balances(("A", "B", "C")) == {"A": 0, "B": 80, "C": 0}
    # +10: H2 settles.
    net.fund("A", 10)
    assert net.settled_ids() == {h2}
    assert net.balance("C") == 10


def test_high_payments_settle_together_when_the_prefix_fits() -> None:
    # A=50, H1 80 and H2 10 wait; +40 gives 90 = 80 + 10: both in one run.
    net = Network({"A": 50})
    h1, _ = net.pay("A", "B", 80, HIGH)
    h2, _ = net.pay("A", "C", 10, HIGH)
    net.fund("A", 40)
    assert set(only_run(net).payment_ids) == {h1, h2}
    assert net.balance("A") == 0


def test_urgent_before_high_of_the_same_sender() -> None:
    # The ECB (account 90, empty) sends U urgent 100 to A, then H high 10 to B.
    net = Network()
    u, r1 = net.pay("CB", "A", 100, URGENT)
    h, r2 = net.pay("CB", "B", 10, HIGH)
    assert (r1.code, r2.code) == (QUEUED, QUEUED)
    assert net.waiting_ids("CB") == [u, h]
    issue = Issue(net.next_id(), CENTRAL_BANK_ACCOUNT, 50)
    assert net.send_one(issue).ok
    # 50: U (100) cannot settle and H may not pass it.
    assert net.settled_ids() == set()
    assert net.send_one(Issue(net.next_id(), CENTRAL_BANK_ACCOUNT, 50)).ok
    # 100: [U, H] needs 110: H dropped, U settles; then 0 left.
    assert net.settled_ids() == {u}
    assert net.send_one(Issue(net.next_id(), CENTRAL_BANK_ACCOUNT, 10)).ok
    assert net.settled_ids() == {h}


def test_normal_payment_bypasses_a_normal_head() -> None:
    # A=50: N1 80 waits; N2 10 settles at once past it (FIFO-bypass), run 0 (entry).
    net = Network({"A": 50})
    n1, r1 = net.pay("A", "B", 80)
    n2, r2 = net.pay("A", "C", 10)
    assert (r1.code, r2.code) == (QUEUED, OK)
    assert [(s.payment_id, s.run_id) for s in net.settled()] == [(n2, 0)]
    assert net.balance("A") == 40
    assert net.waiting_ids("A") == [n1]


def test_normal_payment_never_passes_a_waiting_high_one() -> None:
    net = Network({"A": 50})
    h, _ = net.pay("A", "B", 80, HIGH)
    n, r = net.pay("A", "C", 10)
    assert r.code == QUEUED
    view = net.engine.waiting(n)
    assert view is not None and view.blocking_payment_id == h and view.reason == "NARR"
    assert net.balance("A") == 50


def test_run_re_adds_normal_payments_past_the_head_largest_first() -> None:
    # A=0 with normal N1 60, N2 50, N3 10, N4 35 to four payees, then +100.
    # FIFO step: the prefix [N1, N2, ...] needs 155; dropping from the tail leaves [N1]
    # (60). Re-add in queue order: N2 50 > 40 no, N3 10 yes, N4 35 > 30 no: 70.
    # Re-add largest first: N2 no, N4 35 yes (5 left), N3 no: 95. The better one wins.
    # No FIFO-bypass subset beats 95: 100 would need 60+40 or 50+50 or 50+10+40.
    net = Network()
    n1, _ = net.pay("A", "B", 60)
    n2, _ = net.pay("A", "C", 50)
    n3, _ = net.pay("A", "D", 10)
    n4, _ = net.pay("A", "E", 35)
    net.fund("A", 100)
    run = only_run(net)
    assert run.method == "bypass" and set(run.payment_ids) == {n1, n4}
    assert net.balance("A") == 5
    assert net.waiting_ids("A") == [n2, n3]


def test_run_does_not_re_add_normals_of_a_sender_with_a_dropped_high_payment() -> None:
    # A=0: H 100 high to B, then N 10 normal to C; +50. FIFO drops N then H; N may not
    # come back because H (urgent/high, same sender) still waits.
    net = Network()
    h, _ = net.pay("A", "B", 100, HIGH)
    n, _ = net.pay("A", "C", 10)
    net.fund("A", 50)
    assert net.runs() == []
    assert net.waiting_ids("A") == [h, n]


# --- urgent payments --------------------------------------------------------------------------


def test_urgent_payments_only_from_central_banks() -> None:
    net = Network({"A": 1_000})
    before = net.state()
    _, result = net.pay("A", "B", 10, URGENT)
    assert result.code == ResultCode.URGENT_NOT_ALLOWED and result.reason == "AG01"
    assert net.state() == before and net.events == []
    net.send_one(Issue(net.next_id(), CENTRAL_BANK_ACCOUNT, 100))
    cb_payment, result = net.pay("CB", "A", 100, URGENT)
    assert result.code == OK and net.settled_ids() == {cb_payment}


def test_change_to_urgent_is_refused_for_a_bank() -> None:
    net = Network()
    n, _ = net.pay("A", "B", 10)
    before = net.state()
    for by_bic in (BICS["A"], None):  # neither the sender nor the operator may do it
        result = net.send_one(ChangePriority(net.next_id(), n, URGENT, by_bic))
        assert result.code == ResultCode.URGENT_NOT_ALLOWED and result.reason == "AG01"
    assert net.state() == before


# --- timed payments ---------------------------------------------------------------------------


def test_from_time_holds_a_payment_until_it_comes() -> None:
    net = Network({"A": 100})
    from_ns = net.now_ns + 10_000
    p, result = net.pay("A", "B", 10, from_ns=from_ns)
    assert result.code == QUEUED  # funds are there, the time is not
    view = net.engine.waiting(p)
    assert view is not None and view.reason == "NARR" and "FROM" in view.text
    net.send(at_ns=from_ns - 1)
    assert net.engine.waiting(p) is not None and net.balance("A") == 100
    net.send(at_ns=from_ns)  # an empty batch: the clock alone starts the run
    settled = net.settled()
    assert [s.payment_id for s in settled] == [p] and settled[0].run_id > 0
    assert net.balances(("A", "B")) == {"A": 90, "B": 10}


def test_till_warns_once_then_rejects() -> None:
    # till_warning_ns = 1,000 in these settings.
    net = Network()
    till_ns = net.now_ns + 10_000
    p, result = net.pay("A", "B", 10, till_ns=till_ns)
    assert result.code == QUEUED
    net.send(at_ns=till_ns - 1_001)
    assert net.events == []
    net.send(at_ns=till_ns - 1_000)
    assert net.events == [TillWarning(p, till_ns, till_ns - 1_000)]
    net.send(at_ns=till_ns - 500)
    assert net.events == []  # warned once only
    net.send(at_ns=till_ns)
    assert net.rejected() == {p: ResultCode.TILL_PASSED}
    assert ResultCode.TILL_PASSED.reason == "TM01"
    assert net.engine.waiting(p) is None and net.balance("A") == 0


def test_payment_settles_before_its_till_when_liquidity_comes() -> None:
    net = Network()
    till_ns = net.now_ns + 10_000
    p, _ = net.pay("A", "B", 10, till_ns=till_ns)
    net.fund("A", 10)
    assert net.settled_ids() == {p}
    net.send(at_ns=till_ns)
    assert net.rejected() == {}


def test_till_already_passed_at_entry_is_rejected() -> None:
    net = Network({"A": 100})
    before = net.state()
    _, result = net.pay("A", "B", 10, till_ns=net.now_ns + 1)  # stamped one tick later
    assert result.code == ResultCode.TILL_PASSED and result.reason == "TM01"
    assert net.state() == before


def test_till_before_from_is_refused() -> None:
    net = Network({"A": 100})
    before = net.state()
    _, result = net.pay("A", "B", 10, from_ns=50_000, till_ns=40_000)
    assert result.code == ResultCode.TILL_BEFORE_FROM and result.reason == "DT01"
    assert net.state() == before


def test_payment_entering_inside_the_warning_window_is_warned_at_entry() -> None:
    net = Network()
    till_ns = net.now_ns + 1_500  # entry is one tick (1,000) later: 500 before TILL
    p, _ = net.pay("A", "B", 10, till_ns=till_ns)
    assert TillWarning(p, till_ns, net.now_ns) in net.events


# --- queue management ---------------------------------------------------------------------------


@pytest.mark.parametrize("by_bic", [BICS["A"], "BNPAFRPPXXX", None], ids=["sender", "bic11", "op"])
def test_cancel_by_sender_or_operator(by_bic: str | None) -> None:
    net = Network()
    p, _ = net.pay("A", "B", 10)
    result = net.send_one(CancelPayment(net.next_id(), p, by_bic))
    assert result.code == OK
    assert net.rejected() == {p: ResultCode.CANCELLED}
    assert ResultCode.CANCELLED.reason == "DS02"
    assert net.engine.waiting(p) is None and net.waiting_ids("A") == []


def test_change_priority_to_high_puts_it_ahead_of_normals() -> None:
    # A=0: N1 50, N2 60 (normal). With +60 and no change: [N1, N2] needs 110, N1 stays
    # (50), N2 cannot be re-added (10 left). With N2 made high it leads the queue:
    # [N2, N1] needs 110, drop N1, N2 (60) settles.
    net = Network()
    n1, _ = net.pay("A", "B", 50)
    n2, _ = net.pay("A", "C", 60)
    assert net.send_one(ChangePriority(net.next_id(), n2, HIGH, BICS["A"])).code == OK
    assert net.waiting_ids("A") == [n2, n1]
    net.fund("A", 60)
    assert net.settled_ids() == {n2}
    assert net.waiting_ids("A") == [n1]


def test_change_priority_back_to_normal_joins_the_back() -> None:
    net = Network()
    h, _ = net.pay("A", "B", 50, HIGH)
    n, _ = net.pay("A", "C", 60)
    assert net.send_one(ChangePriority(net.next_id(), h, NORMAL, None)).code == OK
    assert net.waiting_ids("A") == [n, h]


def test_move_payment_to_the_front_and_back_of_its_class() -> None:
    # A=0: H1 50, H2 60 (high, FIFO). Moving H2 to the front, then +60: H2 settles.
    net = Network()
    h1, _ = net.pay("A", "B", 50, HIGH)
    h2, _ = net.pay("A", "C", 60, HIGH)
    n, _ = net.pay("A", "D", 5)
    assert net.send_one(MovePayment(net.next_id(), h2, True, BICS["A"])).code == OK
    assert net.waiting_ids("A") == [h2, h1, n]  # within the high class only
    assert net.send_one(MovePayment(net.next_id(), h2, False, None)).code == OK
    assert net.waiting_ids("A") == [h1, h2, n]
    assert net.send_one(MovePayment(net.next_id(), h2, True, None)).code == OK
    net.fund("A", 60)
    # [H2, H1, N] needs 115 > 60: drop N, then H1; H2 settles; N may not pass H1.
    assert net.settled_ids() == {h2}
    assert net.waiting_ids("A") == [h1, n]


QUEUE_COMMANDS = ("cancel", "priority", "move")


def queue_command(
    net: Network, what: str, payment_id: int, by_bic: str | None
) -> CancelPayment | ChangePriority | MovePayment:
    if what == "cancel":
        return CancelPayment(net.next_id(), payment_id, by_bic)
    if what == "priority":
        return ChangePriority(net.next_id(), payment_id, HIGH, by_bic)
    return MovePayment(net.next_id(), payment_id, False, by_bic)


@pytest.mark.parametrize("what", QUEUE_COMMANDS)
@pytest.mark.parametrize("by", ["payee", "third bank", "unknown bic", "central bank"])
def test_queue_management_refused_for_others(what: str, by: str) -> None:
    net = Network()
    p, _ = net.pay("A", "B", 10)
    net.pay("A", "C", 20)
    by_bic = {"payee": BICS["B"], "third bank": BICS["C"], "unknown bic": "DEUTDEFF",
              "central bank": BICS["CB"]}[by]  # fmt: skip
    before = net.state()
    result = net.send_one(queue_command(net, what, p, by_bic))
    assert result.code == ResultCode.NOT_PAYMENT_SENDER and result.reason == "AG01"
    assert net.state() == before


@pytest.mark.parametrize("what", QUEUE_COMMANDS)
@pytest.mark.parametrize("case", ["unknown", "settled", "cancelled", "rejected at entry"])
def test_queue_management_of_a_payment_not_waiting(what: str, case: str) -> None:
    net = Network({"A": 100})
    if case == "unknown":
        payment_id = 987_654
    elif case == "settled":
        payment_id, result = net.pay("A", "B", 10)
        assert result.code == OK
    elif case == "cancelled":
        payment_id, _ = net.pay("A", "B", 500)
        net.send_one(CancelPayment(net.next_id(), payment_id, None))
    else:
        payment_id, result = net.pay("A", "B", 10, URGENT)
        assert result.code == ResultCode.URGENT_NOT_ALLOWED
    before = net.state()
    result = net.send_one(queue_command(net, what, payment_id, BICS["A"]))
    assert result.code == ResultCode.PAYMENT_NOT_QUEUED and result.reason == "NARR"
    assert net.state() == before


def test_cancelling_the_blocking_head_releases_the_payment_behind_it() -> None:
    # A=50: H1 100 waits, H2 10 waits behind it (FIFO). Cancel H1: H2 fits (10 <= 50).
    net = Network({"A": 50})
    h1, _ = net.pay("A", "B", 100, HIGH)
    h2, _ = net.pay("A", "C", 10, HIGH)
    assert net.send_one(CancelPayment(net.next_id(), h1, BICS["A"])).code == OK
    assert net.settled_ids() == {h2}  # actual: nothing settles; H2 says "next run"


def test_till_rejection_of_the_blocking_head_releases_the_payment_behind_it() -> None:
    net = Network({"A": 50})
    till_ns = net.now_ns + 10_000
    h1, _ = net.pay("A", "B", 100, HIGH, till_ns=till_ns)
    h2, _ = net.pay("A", "C", 10, HIGH)
    net.send(at_ns=till_ns)
    assert net.rejected() == {h1: ResultCode.TILL_PASSED}
    assert net.settled_ids() == {h2}  # actual: H2 waits for an unrelated event


# --- limits ---------------------------------------------------------------------------------------


def test_bilateral_limit_net_of_what_was_received() -> None:
    net = Network({"A": 1_000, "B": 50})
    assert net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["B"], "EUR", 100)).ok
    _, r1 = net.pay("A", "B", 80)  # position 80 <= 100
    p2, r2 = net.pay("A", "B", 30)  # 110 > 100: waits
    assert (r1.code, r2.code) == (OK, QUEUED)
    view = net.engine.waiting(p2)
    assert view is not None
    assert (view.reason, view.counterparty_bic) == ("AM14", BICS["B"])
    # High payments are outside the limit and do not move the position.
    _, r3 = net.pay("A", "B", 500, HIGH)
    assert r3.code == OK and net.engine.waiting(p2) is not None
    # B pays A 20: A's position 80 - 20 = 60, and 60 + 30 = 90 <= 100: P2 settles in
    # the run that follows B's settlement.
    b_to_a, r4 = net.pay("B", "A", 20)
    assert r4.code == OK
    assert [(s.payment_id, s.run_id > 0) for s in net.settled()] == [(b_to_a, False), (p2, True)]
    assert net.balance("A") == 1_000 - 80 - 500 + 20 - 30


def test_plain_transfers_do_not_count_in_limit_positions() -> None:
    net = Network({"A": 1_000, "B": 1_000})
    net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["B"], "EUR", 100))
    assert net.send_one(Transfer(net.next_id(), EUR_ACCOUNTS["A"], EUR_ACCOUNTS["B"], 500)).ok
    _, r1 = net.pay("A", "B", 100)  # the transfer is outside the queues: position 0 -> 100
    assert r1.code == OK
    assert net.send_one(Transfer(net.next_id(), EUR_ACCOUNTS["B"], EUR_ACCOUNTS["A"], 50)).ok
    _, r2 = net.pay("A", "B", 1)  # the transfer back does not lower the position either
    assert r2.code == QUEUED


def test_multilateral_limit_towards_everyone_without_a_bilateral_limit() -> None:
    net = Network({"A": 1_000, "C": 100})
    a, b, c = BICS["A"], BICS["B"], BICS["C"]
    assert net.send_one(SetMultilateralLimit(net.next_id(), a, "EUR", 100)).ok
    assert net.send_one(SetBilateralLimit(net.next_id(), a, b, "EUR", 300)).ok
    _, r1 = net.pay("A", "C", 70)  # multilateral 70
    p2, r2 = net.pay("A", "D", 40)  # 110 > 100: waits
    _, r3 = net.pay("A", "B", 200)  # B has its own limit (200 <= 300)
    assert (r1.code, r2.code, r3.code) == (OK, QUEUED, OK)
    view = net.engine.waiting(p2)
    assert view is not None and view.reason == "AM14" and "multilateral" in view.text
    assert net.send_one(SetMultilateralLimit(net.next_id(), c, "EUR", 0)).ok  # no-op for A
    # C pays A 20: A's multilateral position 70 - 20 = 50; 50 + 40 = 90 <= 100.
    _, r4 = net.pay("C", "A", 20)
    assert r4.code == OK and p2 in net.settled_ids()


def test_multilateral_position_in_a_set_counts_only_inflows_from_its_payees() -> None:
    # Zero balances, A multilateral limit 50, cycle A->C 100, C->D 100, D->A 100. On net
    # A pays 100 and receives 100, but within one set only an inflow from a bank A pays
    # in the same set offsets A's multilateral position: D is not one, so A's position
    # in the set is 100 > 50 and A->C drops; C, then D, are then short: nothing settles.
    net = Network()
    net.send_one(SetMultilateralLimit(net.next_id(), BICS["A"], "EUR", 50))
    ids = [net.pay(s, p, 100)[0] for s, p in (("A", "C"), ("C", "D"), ("D", "A"))]
    assert net.engine.waiting_count() == 3
    # A limit of 100 admits it; a limit change starts a run.
    net.send_one(SetMultilateralLimit(net.next_id(), BICS["A"], "EUR", 100))
    assert set(only_run(net).payment_ids) == set(ids)


def test_limit_change_starts_a_run() -> None:
    net = Network({"A": 1_000})
    net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["B"], "EUR", 10))
    p, r = net.pay("A", "B", 100)
    assert r.code == QUEUED
    net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["B"], "EUR", 0))  # removed
    assert net.settled_ids() == {p}


# --- reservations --------------------------------------------------------------------------------


def test_reservation_for_high_payments() -> None:
    # A=100, 60 reserved for high: normal payments may use 40.
    net = Network({"A": 100})
    assert net.send_one(SetReservation(net.next_id(), EUR_ACCOUNTS["A"], HIGH, 60)).ok
    n1, r1 = net.pay("A", "B", 50)  # 100 - 50 = 50 < 60: waits
    assert r1.code == QUEUED
    view = net.engine.waiting(n1)
    assert view is not None and view.reason == "AM04"
    _, r2 = net.pay("A", "C", 40)  # 100 - 40 = 60: settles past N1
    _, r3 = net.pay("A", "D", 60, HIGH)  # high may use the reserve: 60 - 60 = 0
    assert (r2.code, r3.code) == (OK, OK)
    net.fund("A", 50)  # 50 - 50 = 0 < 60: the reservation still stands
    assert net.settled_ids() == set()
    assert net.send_one(SetReservation(net.next_id(), EUR_ACCOUNTS["A"], HIGH, 0)).ok
    assert net.settled_ids() == {n1}  # a reservation change starts a run
    assert net.balance("A") == 0


def test_reservation_for_urgent_payments() -> None:
    # The ECB's account holds 100 with 70 reserved for urgent: high payments use 30.
    net = Network()
    net.send_one(Issue(net.next_id(), CENTRAL_BANK_ACCOUNT, 100))
    net.send_one(SetReservation(net.next_id(), CENTRAL_BANK_ACCOUNT, URGENT, 70))
    h, r1 = net.pay("CB", "A", 40, HIGH)  # 60 < 70: waits
    _, r2 = net.pay("CB", "B", 100, URGENT)  # urgent may use it all
    assert (r1.code, r2.code) == (QUEUED, OK)
    assert net.balance("CB") == 0 and net.waiting_ids("CB") == [h]


def test_reservations_add_up_for_normal_payments() -> None:
    # 30 for urgent and 40 for high on A=100: normal payments may use 30, high 70.
    net = Network({"A": 100})
    net.send_one(SetReservation(net.next_id(), EUR_ACCOUNTS["A"], URGENT, 30))
    net.send_one(SetReservation(net.next_id(), EUR_ACCOUNTS["A"], HIGH, 40))
    assert net.pay("A", "B", 31)[1].code == QUEUED
    assert net.pay("A", "B", 30)[1].code == OK  # 70 left
    assert net.pay("A", "C", 41, HIGH)[1].code == QUEUED  # 70 - 41 = 29 < 30
    assert net.send_one(SetReservation(net.next_id(), EUR_ACCOUNTS["A"], URGENT, 0)).ok
    # The high payment settles (70 - 41 = 29 >= 0); N1 would need 31 + 40 reserved.
    assert len(net.settled()) == 1 and net.balance("A") == 29


def test_plain_transfer_may_use_reserved_liquidity() -> None:
    net = Network({"A": 100})
    net.send_one(SetReservation(net.next_id(), EUR_ACCOUNTS["A"], HIGH, 100))
    assert net.send_one(Transfer(net.next_id(), EUR_ACCOUNTS["A"], EUR_ACCOUNTS["B"], 100)).ok


# --- entry disposition ----------------------------------------------------------------------------


def test_entry_offsetting_against_the_counterparty_queue() -> None:
    # Both empty. B->A 100 waits; A->B 100 arrives: alone A is short, with B's payment
    # both positions are 0: the two settle together, method "offset", at entry (OK).
    net = Network()
    b_to_a, _ = net.pay("B", "A", 100)
    a_to_b, result = net.pay("A", "B", 100)
    assert result.code == OK
    run = only_run(net)
    assert run.method == "offset" and set(run.payment_ids) == {a_to_b, b_to_a}
    assert net.balances(("A", "B")) == {"A": 0, "B": 0}


def test_entry_offsetting_takes_the_counterparty_queue_in_order() -> None:
    # B=10, A=0. B has high payments to A of 60 then 50. A->B 100 arrives.
    # With B's first: A -100+60 = -40: no. With both: A +10, B 10-110+100 = 0: yes.
    net = Network({"B": 10})
    b1, _ = net.pay("B", "A", 60, HIGH)
    b2, _ = net.pay("B", "A", 50, HIGH)
    a, result = net.pay("A", "B", 100)
    assert result.code == OK and set(only_run(net).payment_ids) == {a, b1, b2}
    assert net.balances(("A", "B")) == {"A": 10, "B": 0}


def test_entry_offsetting_skips_a_normal_payment_elsewhere_but_not_a_high_one() -> None:
    # B's queue: B->C 500 then B->A 100. If B->C is normal it may be passed: A->B 100
    # offsets with B->A. If it is high, B->A may not settle before it: A->B waits.
    for priority, expected in ((NORMAL, OK), (HIGH, QUEUED)):
        net = Network()
        net.pay("B", "C", 500, priority)
        net.pay("B", "A", 100)
        _, result = net.pay("A", "B", 100)
        assert result.code == expected, priority
    assert net.balances(("A", "B", "C")) == {"A": 0, "B": 0, "C": 0}


def test_entry_settles_at_once_when_cover_allows() -> None:
    net = Network({"A": 100})
    p, result = net.pay("A", "B", 100)
    assert result.code == OK
    assert [(s.payment_id, s.run_id) for s in net.settled()] == [(p, 0)]
    assert net.runs() == []  # run 0: settled alone, no liquidity-saving run


def test_full_queue_still_settles_a_payment_that_need_not_wait() -> None:
    from dataclasses import replace

    from .rtgs_network import SETTINGS

    net = Network({"A": 100}, settings=replace(SETTINGS, queue_payments_max=1))
    assert net.pay("B", "C", 10)[1].code == QUEUED  # the queue is now full
    assert net.pay("A", "B", 10)[1].code == OK  # actual: QUEUE_FULL


# --- end and start of day -------------------------------------------------------------------------


def test_end_of_day_rejects_what_waits_and_closes_the_day() -> None:
    net = Network({"A": 100, "B": 40}, usd_balances_minor={"A": 5})
    eur_waiting, _ = net.pay("A", "B", 500)
    high_waiting, _ = net.pay("B", "C", 300, HIGH)
    usd_waiting, _ = net.pay("A", "B", 50, currency="USD")
    assert net.send_one(EndOfDay(net.next_id(), "EUR")).ok
    assert net.rejected() == {eur_waiting: ResultCode.END_OF_DAY_REJECTED,
                              high_waiting: ResultCode.END_OF_DAY_REJECTED}  # fmt: skip
    assert ResultCode.END_OF_DAY_REJECTED.reason == "TM01"
    closed = [e for e in net.events if isinstance(e, DayClosed)]
    # Closing balances of every EUR account by id: issuance -140, ECB 0, A 100, B 40.
    expected = ((EUR_ISSUANCE_ACCOUNT, -140), (CENTRAL_BANK_ACCOUNT, 0), (100, 100), (101, 40),
                *((account, 0) for account in range(102, 108)))  # fmt: skip
    assert closed == [DayClosed("EUR", expected, net.now_ns)]
    assert net.engine.waiting(usd_waiting) is not None  # the USD day goes on
    # The closed day takes no payment; plain transfers are not RTGS payments.
    _, result = net.pay("A", "B", 10)
    assert result.code == ResultCode.DAY_CLOSED and result.reason == "TM01"
    assert net.send_one(Transfer(net.next_id(), EUR_ACCOUNTS["A"], EUR_ACCOUNTS["B"], 10)).ok
    assert net.send_one(StartOfDay(net.next_id(), "EUR")).ok
    assert net.pay("A", "B", 10)[1].code == OK


def test_start_of_day_resets_limit_positions() -> None:
    net = Network({"A": 1_000})
    net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["B"], "EUR", 100))
    assert net.pay("A", "B", 100)[1].code == OK
    late, r = net.pay("A", "B", 10)
    assert r.code == QUEUED
    net.send_one(EndOfDay(net.next_id(), "EUR"))
    assert net.rejected() == {late: ResultCode.END_OF_DAY_REJECTED}
    net.send_one(StartOfDay(net.next_id(), "EUR"))
    assert net.pay("A", "B", 100)[1].code == OK  # position 0 again
    assert net.pay("A", "B", 1)[1].code == QUEUED  # and 100 again


def test_start_of_day_runs_the_payments_its_reset_frees() -> None:
    net = Network({"A": 1_000})
    net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["B"], "EUR", 100))
    net.pay("A", "B", 100)
    late, _ = net.pay("A", "B", 10)
    net.send_one(StartOfDay(net.next_id(), "EUR"))
    assert net.settled_ids() == {late}  # actual: it waits, WaitView says "next run"


# --- SettleSet ------------------------------------------------------------------------------------


def three_normals_from(net: Network, from_ns: int) -> tuple[int, int, int]:
    """A's normal payments 60, 50, 50 to B, C, D, all eligible at ``from_ns``."""
    return (
        net.pay("A", "B", 60, from_ns=from_ns)[0],
        net.pay("A", "C", 50, from_ns=from_ns)[0],
        net.pay("A", "D", 50, from_ns=from_ns)[0],
    )


def test_settle_set_settles_a_set_the_run_would_not_find() -> None:
    # A=100; N1 60, N2 50, N3 50 become eligible at T. The engine's run would settle N1
    # (FIFO prefix 60; 40 left fits neither 50). {N2, N3} uses all 100. A SettleSet in
    # the batch stamped T comes before the run and gets it.
    net = Network({"A": 100})
    from_ns = net.now_ns + 10_000
    n1, n2, n3 = three_normals_from(net, from_ns)
    result = net.send(SettleSet(net.next_id(), "EUR", (n2, n3)), at_ns=from_ns)[0]
    assert result.code == OK
    run = only_run(net)
    assert run.method == "settle_set" and set(run.payment_ids) == {n2, n3}
    assert run.value_minor == 100 and net.waiting_ids("A") == [n1]


def test_without_settle_set_the_run_takes_the_fifo_head() -> None:
    net = Network({"A": 100})
    from_ns = net.now_ns + 10_000
    n1, n2, _ = three_normals_from(net, from_ns)
    net.send(at_ns=from_ns)
    assert net.settled_ids() == {n1} and net.balance("A") == 40
    before = net.state()
    result = net.send_one(SettleSet(net.next_id(), "EUR", (n2,)))  # 40 < 50
    assert result.code == ResultCode.SETTLE_SET_INFEASIBLE and result.reason == "AM04"
    assert net.state() == before


def test_settle_set_refuses_sets_that_break_order_or_name_the_wrong_payments() -> None:
    net = Network({"A": 50}, usd_balances_minor={})
    h1, _ = net.pay("A", "B", 80, HIGH)
    h2, _ = net.pay("A", "C", 10, HIGH)
    usd, _ = net.pay("A", "B", 5, currency="USD")
    later, _ = net.pay("A", "D", 1, from_ns=net.now_ns + 10**9)
    settled, _ = net.pay("A", "E", 1)
    unknown = 424_242
    before = net.state()
    invalid: dict[str, tuple[int, ...]] = {
        "empty": (),
        "repeated": (h1, h1),
        "unknown": (unknown,),
        "settled": (settled,),
        "other currency": (usd,),
        "before FROM": (later,),
        "passes an earlier high": (h2,),
    }
    for what, ids in invalid.items():
        result = net.send_one(SettleSet(net.next_id(), "EUR", ids))
        assert result.code == ResultCode.SETTLE_SET_INVALID, what
        assert result.reason == "FF01"
    result = net.send_one(SettleSet(net.next_id(), "EUR", (h1, h2)))  # 90 > 49
    assert result.code == ResultCode.SETTLE_SET_INFEASIBLE
    result = net.send_one(SettleSet(net.next_id(), "JPY", (h1,)))
    assert result.code == ResultCode.CURRENCY_NOT_HELD and result.reason == "AM03"
    assert net.state() == before


# --- why a payment waits --------------------------------------------------------------------------


def test_wait_views_say_why_and_where() -> None:
    net = Network({"A": 10})
    net.send_one(SetBilateralLimit(net.next_id(), BICS["A"], BICS["C"], "EUR", 5))
    net.send_one(SetMultilateralLimit(net.next_id(), BICS["A"], "EUR", 5))
    funds, _ = net.pay("A", "B", 100, HIGH)
    timed, _ = net.pay("A", "B", 1, HIGH, from_ns=net.now_ns + 10**9)
    behind, _ = net.pay("A", "B", 1, HIGH)
    queue = net.engine.queue(EUR_ACCOUNTS["A"])
    assert [(v.payment_id, v.position, v.reason) for v in queue] == [
        (funds, 1, "AM04"),
        (timed, 2, "NARR"),
        (behind, 3, "NARR"),
    ]
    assert queue[2].blocking_payment_id == funds and queue[1].blocking_payment_id is None
    # Normal payments behind the waiting high one name it; once it is gone, the limits.
    net.send_one(CancelPayment(net.next_id(), funds, None))
    net.send_one(CancelPayment(net.next_id(), behind, None))
    bilateral, _ = net.pay("A", "C", 6)
    multilateral, _ = net.pay("A", "D", 6)
    views = {v.payment_id: v for v in net.engine.queue(EUR_ACCOUNTS["A"])}
    assert (views[bilateral].reason, views[bilateral].counterparty_bic) == ("AM14", BICS["C"])
    assert views[multilateral].reason == "AM14" and views[multilateral].counterparty_bic is None
    # A suspended payee: AC06.
    to_e, _ = net.pay("A", "E", 1_000)
    net.send_one(SuspendParticipant(net.next_id(), BICS["E"]))
    view = net.engine.waiting(to_e)
    assert view is not None and view.reason == "AC06"
    assert net.engine.waiting(987_654) is None


def test_a_settled_payment_tells_its_run_and_its_companions() -> None:
    net = Network()
    ids = [net.pay(s, p, 10)[0] for s, p in (("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"))]
    run = only_run(net)
    assert {s.payment_id: s.run_id for s in net.settled()} == dict.fromkeys(ids, run.run_id)
    assert sorted(run.payment_ids) == sorted(ids)
    net.pay("A", "B", 10)
    net.pay("B", "A", 10)  # an offset: the next run number
    assert only_run(net).run_id == run.run_id + 1


def test_resolve_gridlock_on_demand() -> None:
    # A run on the timer command settles nothing new when nothing changed, and answers OK.
    net = Network()
    net.pay("A", "B", 10)
    assert net.send_one(ResolveGridlock(net.next_id(), "EUR")).code == OK
    assert net.runs() == []
    before = net.state()
    result = net.send_one(ResolveGridlock(net.next_id(), "JPY"))
    assert result.code == ResultCode.CURRENCY_NOT_HELD and net.state() == before


# --- bad input: reason code and no effect ---------------------------------------------------------


BAD_SETTINGS: dict[str, tuple[object, ResultCode, str]] = {
    "bilateral: unknown counterparty": (
        SetBilateralLimit(0, BICS["A"], "DEUTDEFF", "EUR", 100),
        ResultCode.PARTICIPANT_NOT_FOUND, "RC01"),
    "bilateral: unknown owner": (
        SetBilateralLimit(0, "DEUTDEFF", BICS["A"], "EUR", 100),
        ResultCode.PARTICIPANT_NOT_FOUND, "RC01"),
    "bilateral: itself": (
        SetBilateralLimit(0, BICS["A"], "BNPAFRPPXXX", "EUR", 100),
        ResultCode.LIMIT_INVALID, "AM12"),
    "bilateral: negative": (
        SetBilateralLimit(0, BICS["A"], BICS["B"], "EUR", -1), ResultCode.LIMIT_INVALID, "AM12"),
    "bilateral: currency not held": (
        SetBilateralLimit(0, BICS["A"], BICS["B"], "JPY", 100),
        ResultCode.CURRENCY_NOT_HELD, "AM03"),
    "multilateral: unknown owner": (
        SetMultilateralLimit(0, "DEUTDEFF", "EUR", 100), ResultCode.PARTICIPANT_NOT_FOUND,
        "RC01"),
    "multilateral: negative": (
        SetMultilateralLimit(0, BICS["A"], "EUR", -5), ResultCode.LIMIT_INVALID, "AM12"),
    "multilateral: not a currency": (
        SetMultilateralLimit(0, BICS["A"], "XYZ", 100), ResultCode.CURRENCY_UNKNOWN, "AM03"),
    "reservation: unknown account": (
        SetReservation(0, 999, HIGH, 10), ResultCode.ACCOUNT_NOT_FOUND, "AC01"),
    "reservation: normal priority": (
        SetReservation(0, 100, NORMAL, 10), ResultCode.RESERVATION_INVALID, "AM12"),
    "reservation: issuance account": (
        SetReservation(0, EUR_ISSUANCE_ACCOUNT, HIGH, 10), ResultCode.RESERVATION_INVALID,
        "AM12"),
    "reservation: negative": (
        SetReservation(0, 100, HIGH, -1), ResultCode.RESERVATION_INVALID, "AM12"),
    "end of day: currency not held": (
        EndOfDay(0, "JPY"), ResultCode.CURRENCY_NOT_HELD, "AM03"),
    "start of day: currency not held": (
        StartOfDay(0, "JPY"), ResultCode.CURRENCY_NOT_HELD, "AM03"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_bad_rtgs_settings_are_refused_without_effect(case: str) -> None:
    from dataclasses import replace

    template, code, reason = BAD_SETTINGS[case]
    net = Network({"A": 100})
    net.pay("A", "B", 500)  # something waiting, so a stray run would show
    before = net.state()
    command = replace(template, id=net.next_id())  # type: ignore[type-var]
    result = net.send_one(command)  # type: ignore[arg-type]
    assert (result.code, result.reason) == (code, reason)
    assert net.state() == before
    assert net.runs() == [] and net.settled() == []
