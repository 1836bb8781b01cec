"""kernel.py restates the enums as plain ints (numba compiles ints, not enums).

Every such constant must equal its enum member, or the kernel would answer one code and
the API report another. The test also checks the reverse direction: every result code
the kernel can produce has its constant, and every money command kind has its K_ name.
"""

from __future__ import annotations

import pytest

import interbank.engine.batch as batch
import interbank.engine.kernel as kernel
import interbank.engine.ledger as ledger
from interbank.engine import Kind, ResultCode
from interbank.engine.commands import KERNEL_KIND_MAX

# The kernel's names for the kinds that differ from the enum's.
KERNEL_KIND_NAMES = {
    "K_TRANSFER": Kind.TRANSFER,
    "K_HOLD": Kind.HOLD,
    "K_POST": Kind.POST_HOLD,
    "K_VOID": Kind.VOID_HOLD,
    "K_ISSUE": Kind.ISSUE,
    "K_REDEEM": Kind.REDEEM,
}

# Codes only the Python paths produce (administrative commands in ledger.py, RTGS
# payments and queues in rtgs.py); the kernel has no need of them.
ADMIN_ONLY_CODES = {
    code for code in ResultCode if code >= 40 or ResultCode.QUEUED <= code < 40
} - {ResultCode.LIMIT_REACHED}


def _kernel_int_constants() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(kernel).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }


@pytest.mark.parametrize("code", list(ResultCode), ids=lambda code: code.name)
def test_kernel_result_code_constant_matches_the_enum(code: ResultCode) -> None:
    constants = _kernel_int_constants()
    if code in ADMIN_ONLY_CODES:
        assert code.name not in constants or constants[code.name] == code.value
        return
    assert constants.get(code.name) == code.value, code.name


def test_every_kernel_constant_named_like_a_result_code_matches_it() -> None:
    for name, value in _kernel_int_constants().items():
        if name in ResultCode.__members__:
            assert value == ResultCode[name].value, name


@pytest.mark.parametrize("name", sorted(KERNEL_KIND_NAMES))
def test_kernel_kind_constant_matches_the_enum(name: str) -> None:
    assert getattr(kernel, name) == KERNEL_KIND_NAMES[name].value


def test_every_kernel_kind_has_a_kernel_constant_and_no_other_does() -> None:
    money_kinds = {kind for kind in Kind if kind <= KERNEL_KIND_MAX}
    assert set(KERNEL_KIND_NAMES.values()) == money_kinds
    kernel_kinds = {name for name in _kernel_int_constants() if name.startswith("K_")}
    assert kernel_kinds == set(KERNEL_KIND_NAMES)


def test_flags_match_the_batch_format() -> None:
    # The batch writes the flags the kernel reads.
    assert kernel.FLAG_LINKED == batch.FLAG_LINKED
    assert kernel.FLAG_POST_FULL == batch.FLAG_POST_FULL
    assert kernel.FLAG_LINKED & kernel.FLAG_POST_FULL == 0


def test_hold_states_are_distinct_and_all_named_by_the_ledger() -> None:
    states = [
        kernel.HOLD_PENDING,
        kernel.HOLD_POSTED,
        kernel.HOLD_VOIDED,
        kernel.HOLD_EXPIRED_STATE,
    ]
    assert len(set(states)) == len(states) and 0 not in states  # 0 is an unused slot
    assert set(ledger._HOLD_STATES) == set(states)


def test_result_codes_fit_the_byte_the_kernel_stores_them_in() -> None:
    assert all(0 <= code.value <= 255 for code in ResultCode)
    assert all(0 <= kind.value <= 255 for kind in Kind)
