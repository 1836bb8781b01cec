"""The transfer kernel: money commands applied to columnar state in one compiled loop.

Everything here is plain integer code over numpy arrays, compiled by numba so that a
batch of thousands of transfers runs without touching the Python interpreter per row.
It reads no clock, no randomness and no environment: the same arrays in give the same
arrays out. The Python side (``ledger.py``) owns the arrays, grows them between
batches, and is the only caller.

Arithmetic note: numba turns a mix of int64 and uint64 into float64. Every hash and
fingerprint below therefore works on uint64 values only, with uint64 constants.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

# Result codes (mirrors codes.ResultCode; checked by a test).
OK = 0
ID_REUSED = 1
AMOUNT_ZERO = 2
AMOUNT_NEGATIVE = 3
AMOUNT_OVER_LIMIT = 4
DEBIT_ACCOUNT_NOT_FOUND = 5
CREDIT_ACCOUNT_NOT_FOUND = 6
DEBIT_ACCOUNT_CLOSED = 7
CREDIT_ACCOUNT_CLOSED = 8
ACCOUNTS_MUST_DIFFER = 9
CURRENCY_MISMATCH = 10
DEBIT_PARTICIPANT_SUSPENDED = 11
CREDIT_PARTICIPANT_SUSPENDED = 12
INSUFFICIENT_FUNDS = 13
ISSUANCE_ACCOUNT_FORBIDDEN = 14
NO_ISSUER = 15
HOLD_NOT_FOUND = 16
HOLD_ALREADY_POSTED = 17
HOLD_ALREADY_VOIDED = 18
HOLD_EXPIRED = 19
POST_EXCEEDS_HOLD = 20
LINKED_EVENT_FAILED = 21
LINKED_CHAIN_OPEN = 22
BALANCE_LIMIT = 23
TIMEOUT_INVALID = 24
KIND_UNKNOWN = 25
LIMIT_REACHED = 56

# Command kinds (mirrors commands.Kind).
K_TRANSFER = 1
K_HOLD = 2
K_POST = 3
K_VOID = 4
K_ISSUE = 5
K_REDEEM = 6

FLAG_LINKED = 1
FLAG_POST_FULL = 2

# Account flags.
ACC_CLOSED = 1
ACC_ISSUANCE = 2

# Hold states.
HOLD_PENDING = 1
HOLD_POSTED = 2
HOLD_VOIDED = 3
HOLD_EXPIRED_STATE = 4

# Undo log entry types (used only inside a linked chain).
U_BALANCE = 1
U_HELD = 2
U_HOLD_CREATED = 3
U_HOLD_STATE = 4

# meta array slots (int64): idempotency ring cursor and fill, hold count.
META_RING_NEXT = 0
META_RING_COUNT = 1
META_HOLDS = 2
META_SIZE = 3

_INT64_MAX = 9223372036854775807
_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    # splitmix64's finaliser: a fixed, well-spread 64-bit permutation.
    x = (x ^ (x >> uint64(30))) * _MIX1
    x = (x ^ (x >> uint64(27))) * _MIX2
    return x ^ (x >> uint64(31))


@njit(cache=True, inline="always")
def key_hash(hi: np.uint64, lo: np.uint64) -> np.uint64:
    return _mix(uint64(hi) * _GOLDEN ^ _mix(uint64(lo)))


@njit(cache=True)
def fingerprint(
    kind: int, flags: int, debit: int, credit: int, amount: int,
    ref_hi: np.uint64, ref_lo: np.uint64, timeout_ns: int,
) -> np.uint64:
    """A 64-bit digest of a money command's content, to tell a re-send from a reuse."""
    h = _mix(uint64(kind) * _GOLDEN ^ uint64(flags))
    h = _mix(h ^ uint64(debit))
    h = _mix(h ^ uint64(credit))
    h = _mix(h ^ uint64(amount))
    h = _mix(h ^ uint64(ref_hi))
    h = _mix(h ^ uint64(ref_lo))
    return _mix(h ^ uint64(timeout_ns))


# --- open-addressing tables keyed by 128-bit ids ---------------------------------------
# Linear probing over a power-of-two capacity; value 0 marks an empty slot, so a stored
# value is (index + 1). Deletion shifts later entries back (no tombstones), which keeps
# probe sequences short however long the engine runs.


@njit(cache=True)
def table_find(keys_hi, keys_lo, vals, hi, lo):  # type: ignore[no-untyped-def]
    mask = len(vals) - 1
    pos = np.int64(key_hash(hi, lo) & uint64(mask))
    while vals[pos] != 0:
        if keys_hi[pos] == hi and keys_lo[pos] == lo:
            return pos
        pos = (pos + 1) & mask
    return -1


@njit(cache=True)
def table_insert(keys_hi, keys_lo, vals, hi, lo, value):  # type: ignore[no-untyped-def]
    mask = len(vals) - 1
    pos = np.int64(key_hash(hi, lo) & uint64(mask))
    while vals[pos] != 0:
        pos = (pos + 1) & mask
    keys_hi[pos] = hi
    keys_lo[pos] = lo
    vals[pos] = value


@njit(cache=True)
def table_delete(keys_hi, keys_lo, vals, pos):  # type: ignore[no-untyped-def]
    mask = len(vals) - 1
    vals[pos] = 0
    nxt = (pos + 1) & mask
    while vals[nxt] != 0:
        home = np.int64(key_hash(keys_hi[nxt], keys_lo[nxt]) & uint64(mask))
        # Move the entry back into the hole when its home does not lie in (hole, nxt].
        movable = (home <= pos or home > nxt) if nxt > pos else (nxt < home <= pos)
        if movable:
            keys_hi[pos] = keys_hi[nxt]
            keys_lo[pos] = keys_lo[nxt]
            vals[pos] = vals[nxt]
            vals[nxt] = 0
            pos = nxt
        nxt = (nxt + 1) & mask


@njit(cache=True)
def idem_record(  # type: ignore[no-untyped-def]
    idem_hi, idem_lo, idem_val, ring_hi, ring_lo, ring_fp, ring_code, meta, hi, lo, fp, code
):
    """Remember a command id with its fingerprint and result; forget the oldest if full."""
    window = len(ring_hi)
    at = meta[META_RING_NEXT]
    if meta[META_RING_COUNT] == window:
        old = table_find(idem_hi, idem_lo, idem_val, ring_hi[at], ring_lo[at])
        if old >= 0 and idem_val[old] == at + 1:
            table_delete(idem_hi, idem_lo, idem_val, old)
    else:
        meta[META_RING_COUNT] += 1
    ring_hi[at] = hi
    ring_lo[at] = lo
    ring_fp[at] = fp
    ring_code[at] = code
    table_insert(idem_hi, idem_lo, idem_val, hi, lo, at + 1)
    meta[META_RING_NEXT] = (at + 1) % window
    return at


@njit(cache=True)
def holds_taken(kind, id_hi, id_lo, start, stop, keys_hi, keys_lo, vals, out):  # type: ignore[no-untyped-def]
    """Mark the hold rows whose id an existing hold already has."""
    for i in range(start, stop):
        if kind[i] == K_HOLD:
            out[i] = table_find(keys_hi, keys_lo, vals, id_hi[i], id_lo[i]) >= 0


@njit(cache=True)
def idem_rebuild(  # type: ignore[no-untyped-def]
    idem_hi, idem_lo, idem_val, ring_hi, ring_lo, ring_fp, ring_code, meta,
    from_hi, from_lo, from_fp, from_code,
):
    """Refill an empty idempotency window with ids in arrival order (snapshot restore)."""
    for at in range(len(from_hi)):
        idem_record(idem_hi, idem_lo, idem_val, ring_hi, ring_lo, ring_fp, ring_code, meta,
                    from_hi[at], from_lo[at], from_fp[at], from_code[at])


@njit(cache=True)
def table_fill(keys_hi, keys_lo, vals, ids_hi, ids_lo, count):  # type: ignore[no-untyped-def]
    """Insert ids[0:count] into an empty table, each with value index + 1."""
    for index in range(count):
        table_insert(keys_hi, keys_lo, vals, ids_hi[index], ids_lo[index], index + 1)


@njit(cache=True)
def account_slot(sorted_ids, sorted_slots, account_id):  # type: ignore[no-untyped-def]
    n = len(sorted_ids)
    if n == 0:
        return -1
    i = np.searchsorted(sorted_ids, account_id)
    if i < n and sorted_ids[i] == account_id:
        return sorted_slots[i]
    return -1


# nogil: the node hashes and fsyncs the previous entry on another thread meanwhile; the
# engine itself stays single-writer (only the node's writer calls it).
@njit(cache=True, nogil=True)
def apply_money(  # type: ignore[no-untyped-def]
    start, stop, now_ns,
    kind, flags, id_hi, id_lo, debit, credit, amount, ref_hi, ref_lo, timeout_ns,
    sorted_ids, sorted_slots,
    acc_id, acc_balance, acc_held, acc_floor, acc_currency, acc_flags, acc_participant,
    part_suspended, issuer_slot,
    idem_hi, idem_lo, idem_val, ring_hi, ring_lo, ring_fp, ring_code,
    hold_keys_hi, hold_keys_lo, hold_vals,
    hold_id_hi, hold_id_lo, hold_debit, hold_credit, hold_amount, hold_expires_ns,
    hold_state, hold_posted,
    meta, amount_max, balance_abs_max, holds_max,
    out_code, out_replayed, row_ring,
    undo_type, undo_a, undo_b, undo_c, hold_id_taken,
):
    """Apply rows [start, stop) of a batch of money commands, in order.

    Writes one result code per row into ``out_code`` (and 1 into ``out_replayed`` for a
    re-sent command). A chain of rows with the linked flag settles all or none: effects
    inside a chain go to an undo log that is rolled back when any member fails.
    Returns the number of rows that settled.
    """
    settled = 0
    chain_start = -1
    chain_failed = False
    undo_n = 0
    for i in range(start, stop):
        linked = (flags[i] & FLAG_LINKED) != 0
        if chain_start < 0 and linked:
            chain_start = i
            chain_failed = False
            undo_n = 0
        in_chain = chain_start >= 0
        # A chain whose last row still carries the linked flag was never closed.
        open_end = linked and i == stop - 1
        hi = id_hi[i]
        lo = id_lo[i]
        k = kind[i]
        fp = fingerprint(k, flags[i], debit[i], credit[i], amount[i], ref_hi[i], ref_lo[i],
                         timeout_ns[i])
        row_ring[i] = -1
        out_replayed[i] = 0
        code = OK
        seen = table_find(idem_hi, idem_lo, idem_val, hi, lo)
        if seen >= 0:
            at = idem_val[seen] - 1
            if ring_fp[at] == fp:
                code = ring_code[at]
                out_replayed[i] = 1
                row_ring[i] = at
            else:
                code = ID_REUSED
        elif in_chain and chain_failed:
            code = LINKED_EVENT_FAILED
        elif open_end:
            code = LINKED_CHAIN_OPEN
        else:
            # ---- evaluate the command against the state ------------------------------
            d = -1
            c = -1
            amt = amount[i]
            hold = -1
            if k == K_TRANSFER or k == K_HOLD:
                if amt == 0:
                    code = AMOUNT_ZERO
                elif amt < 0:
                    code = AMOUNT_NEGATIVE
                elif amt > amount_max:
                    code = AMOUNT_OVER_LIMIT
                elif (k == K_HOLD and timeout_ns[i] < 0) or (k == K_HOLD and timeout_ns[i] > 0 and timeout_ns[i] > 9223372036854775807 - now_ns):
                    code = TIMEOUT_INVALID
                else:
                    d = account_slot(sorted_ids, sorted_slots, debit[i])
                    c = account_slot(sorted_ids, sorted_slots, credit[i])
                    if d < 0:
                        code = DEBIT_ACCOUNT_NOT_FOUND
                    elif c < 0:
                        code = CREDIT_ACCOUNT_NOT_FOUND
                    elif d == c:
                        code = ACCOUNTS_MUST_DIFFER
                    elif acc_flags[d] & ACC_CLOSED:
                        code = DEBIT_ACCOUNT_CLOSED
                    elif acc_flags[c] & ACC_CLOSED:
                        code = CREDIT_ACCOUNT_CLOSED
                    elif (acc_flags[d] | acc_flags[c]) & ACC_ISSUANCE:
                        code = ISSUANCE_ACCOUNT_FORBIDDEN
                    elif acc_currency[d] != acc_currency[c]:
                        code = CURRENCY_MISMATCH
                    elif part_suspended[acc_participant[d]]:
                        code = DEBIT_PARTICIPANT_SUSPENDED
                    elif part_suspended[acc_participant[c]]:
                        code = CREDIT_PARTICIPANT_SUSPENDED
                    elif acc_balance[c] > balance_abs_max - amt:
                        code = BALANCE_LIMIT
                    elif acc_balance[d] - acc_held[d] - amt < acc_floor[d]:
                        code = INSUFFICIENT_FUNDS
                    elif k == K_HOLD and meta[META_HOLDS] >= holds_max:
                        code = LIMIT_REACHED
                    elif k == K_HOLD and hold_id_taken[i]:
                        # Hold ids live as long as the engine, beyond the idempotency window.
                        # (Looked up before the loop: a table probe here, even on a
                        # branch transfers never take, cost every transfer ~15%.)
                        code = ID_REUSED
            elif k == K_POST or k == K_VOID:
                found = table_find(hold_keys_hi, hold_keys_lo, hold_vals, ref_hi[i], ref_lo[i])
                if found < 0:
                    code = HOLD_NOT_FOUND
                else:
                    hold = hold_vals[found] - 1
                    state = hold_state[hold]
                    if state == HOLD_POSTED:
                        code = HOLD_ALREADY_POSTED
                    elif state == HOLD_VOIDED:
                        code = HOLD_ALREADY_VOIDED
                    elif state == HOLD_EXPIRED_STATE:
                        code = HOLD_EXPIRED
                    elif k == K_POST:
                        d = hold_debit[hold]
                        c = hold_credit[hold]
                        if flags[i] & FLAG_POST_FULL:
                            amt = hold_amount[hold]
                        if amt == 0:
                            code = AMOUNT_ZERO
                        elif amt < 0:
                            code = AMOUNT_NEGATIVE
                        elif amt > hold_amount[hold]:
                            code = POST_EXCEEDS_HOLD
                        elif acc_flags[c] & ACC_CLOSED:
                            code = CREDIT_ACCOUNT_CLOSED
                        elif part_suspended[acc_participant[d]]:
                            code = DEBIT_PARTICIPANT_SUSPENDED
                        elif part_suspended[acc_participant[c]]:
                            code = CREDIT_PARTICIPANT_SUSPENDED
                        elif acc_balance[c] > balance_abs_max - amt:
                            code = BALANCE_LIMIT
                    else:
                        d = hold_debit[hold]
            elif k == K_ISSUE or k == K_REDEEM:
                if amt == 0:
                    code = AMOUNT_ZERO
                elif amt < 0:
                    code = AMOUNT_NEGATIVE
                elif amt > amount_max:
                    code = AMOUNT_OVER_LIMIT
                else:
                    own_id = credit[i] if k == K_ISSUE else debit[i]
                    own = account_slot(sorted_ids, sorted_slots, own_id)
                    if own < 0:
                        code = CREDIT_ACCOUNT_NOT_FOUND if k == K_ISSUE else DEBIT_ACCOUNT_NOT_FOUND
                    elif acc_flags[own] & ACC_CLOSED:
                        code = CREDIT_ACCOUNT_CLOSED if k == K_ISSUE else DEBIT_ACCOUNT_CLOSED
                    elif acc_flags[own] & ACC_ISSUANCE:
                        code = ISSUANCE_ACCOUNT_FORBIDDEN
                    elif issuer_slot[acc_currency[own]] < 0:
                        code = NO_ISSUER
                    else:
                        issuer = issuer_slot[acc_currency[own]]
                        if k == K_ISSUE:
                            d = issuer
                            c = own
                        else:
                            d = own
                            c = issuer
                        if acc_flags[issuer] & ACC_CLOSED:
                            code = NO_ISSUER
                        elif part_suspended[acc_participant[d]]:
                            code = DEBIT_PARTICIPANT_SUSPENDED
                        elif part_suspended[acc_participant[c]]:
                            code = CREDIT_PARTICIPANT_SUSPENDED
                        elif acc_balance[c] > balance_abs_max - amt or (k == K_ISSUE and acc_balance[d] < amt - balance_abs_max):
                            code = BALANCE_LIMIT
                        elif k == K_REDEEM and acc_balance[d] - acc_held[d] - amt < 0:
                            # Redeem only own funds: intraday credit is not money to withdraw.
                            code = INSUFFICIENT_FUNDS
            else:
                code = KIND_UNKNOWN

            # ---- apply the effect ------------------------------------------------------
            if code == OK:
                if k == K_TRANSFER or k == K_POST or k == K_ISSUE or k == K_REDEEM:
                    if k == K_POST:
                        acc_held[d] -= hold_amount[hold]
                        if in_chain:
                            undo_type[undo_n] = U_HELD
                            undo_a[undo_n] = d
                            undo_b[undo_n] = -hold_amount[hold]
                            undo_n += 1
                            undo_type[undo_n] = U_HOLD_STATE
                            undo_a[undo_n] = hold
                            undo_b[undo_n] = hold_state[hold]
                            undo_c[undo_n] = hold_posted[hold]
                            undo_n += 1
                        hold_state[hold] = HOLD_POSTED
                        hold_posted[hold] = amt
                    acc_balance[d] -= amt
                    acc_balance[c] += amt
                    if in_chain:
                        undo_type[undo_n] = U_BALANCE
                        undo_a[undo_n] = d
                        undo_b[undo_n] = -amt
                        undo_n += 1
                        undo_type[undo_n] = U_BALANCE
                        undo_a[undo_n] = c
                        undo_b[undo_n] = amt
                        undo_n += 1
                elif k == K_HOLD:
                    acc_held[d] += amt
                    h = meta[META_HOLDS]
                    meta[META_HOLDS] = h + 1
                    hold_id_hi[h] = hi
                    hold_id_lo[h] = lo
                    hold_debit[h] = d
                    hold_credit[h] = c
                    hold_amount[h] = amt
                    hold_expires_ns[h] = now_ns + timeout_ns[i] if timeout_ns[i] > 0 else 0
                    hold_state[h] = HOLD_PENDING
                    hold_posted[h] = 0
                    table_insert(hold_keys_hi, hold_keys_lo, hold_vals, hi, lo, h + 1)
                    if in_chain:
                        undo_type[undo_n] = U_HELD
                        undo_a[undo_n] = d
                        undo_b[undo_n] = amt
                        undo_n += 1
                        undo_type[undo_n] = U_HOLD_CREATED
                        undo_a[undo_n] = h
                        undo_n += 1
                else:  # void
                    acc_held[d] -= hold_amount[hold]
                    if in_chain:
                        undo_type[undo_n] = U_HELD
                        undo_a[undo_n] = d
                        undo_b[undo_n] = -hold_amount[hold]
                        undo_n += 1
                        undo_type[undo_n] = U_HOLD_STATE
                        undo_a[undo_n] = hold
                        undo_b[undo_n] = hold_state[hold]
                        undo_c[undo_n] = hold_posted[hold]
                        undo_n += 1
                    hold_state[hold] = HOLD_VOIDED
                # Floors: every debit above was checked; assert it (TigerBeetle style).
                if d >= 0 and (acc_flags[d] & ACC_ISSUANCE) == 0:
                    assert acc_balance[d] - acc_held[d] >= acc_floor[d]
        out_code[i] = code
        if code != ID_REUSED and out_replayed[i] == 0:
            row_ring[i] = idem_record(idem_hi, idem_lo, idem_val, ring_hi, ring_lo, ring_fp,
                                      ring_code, meta, hi, lo, fp, code)
        if not in_chain:
            if code == OK and out_replayed[i] == 0:
                settled += 1
            continue
        if code != OK or open_end:
            if not chain_failed:
                chain_failed = True
                # Roll back every effect of the chain so far, newest first.
                for u in range(undo_n - 1, -1, -1):
                    t = undo_type[u]
                    if t == U_BALANCE:
                        acc_balance[undo_a[u]] -= undo_b[u]
                    elif t == U_HELD:
                        acc_held[undo_a[u]] -= undo_b[u]
                    elif t == U_HOLD_STATE:
                        hold_state[undo_a[u]] = undo_b[u]
                        hold_posted[undo_a[u]] = undo_c[u]
                    elif t == U_HOLD_CREATED:
                        h = undo_a[u]
                        slot = table_find(hold_keys_hi, hold_keys_lo, hold_vals,
                                          hold_id_hi[h], hold_id_lo[h])
                        table_delete(hold_keys_hi, hold_keys_lo, hold_vals, slot)
                        assert h == meta[META_HOLDS] - 1
                        meta[META_HOLDS] = h
                undo_n = 0
                # Earlier members that were applied now answer "linked event failed".
                for j in range(chain_start, i):
                    if out_code[j] == OK and out_replayed[j] == 0:
                        out_code[j] = LINKED_EVENT_FAILED
                        ring_code[row_ring[j]] = LINKED_EVENT_FAILED
        if not linked or open_end:
            # End of the chain: count what settled; a replay of a member recorded earlier
            # in this same chain answers that member's final code.
            for j in range(chain_start, i + 1):
                at = row_ring[j]
                if out_replayed[j] == 1 and ring_hi[at] == id_hi[j] and ring_lo[at] == id_lo[j]:
                    out_code[j] = ring_code[at]
                if not chain_failed and out_code[j] == OK and out_replayed[j] == 0:
                    settled += 1
            chain_start = -1
            chain_failed = False
            undo_n = 0
    return settled


@njit(cache=True, nogil=True)
def check_invariants(  # type: ignore[no-untyped-def]
    n_accounts, n_currencies, acc_balance, acc_held, acc_floor, acc_currency, acc_flags,
    balance_abs_max,
):
    """Return -1 when the invariants hold, else the first offending account slot.

    Double entry: per currency, balances sum to zero (wrapping int64 sums are exact
    here because the true total is zero and each balance is bounded). Floors: no
    settlement account's available balance is below its floor; holds are non-negative.
    Returns -2 - currency for a currency whose balances do not sum to zero.
    """
    sums = np.zeros(n_currencies, dtype=np.int64)
    for s in range(n_accounts):
        b = acc_balance[s]
        sums[acc_currency[s]] += b
        if acc_held[s] < 0 or b > balance_abs_max or b < -balance_abs_max:
            return s
        if (acc_flags[s] & ACC_ISSUANCE) == 0 and b - acc_held[s] < acc_floor[s]:
            return s
    for cur in range(n_currencies):
        if sums[cur] != 0:
            return -2 - cur
    return -1
