"""``interbank bench pvp``: cross-currency pairs settled PvP in the engine, beside transfers.

Measured, never asserted. One process, one engine per kind of work, pre-built columnar
batches, the collector off inside the timed loop (as ``interbank bench``'s engine
figure). The baseline is what the same engine does with the simplest money command:
``Engine.apply`` of plain same-currency Transfers, in the same run, so the ratio
``pvp_vs_single`` says what settling a payment versus payment costs beside settling
one transfer (target >= 0.4, issue 6).

Figures (medians of ``repetitions`` runs):

- ``pvp_pairs_per_s``: CrossPayment rows with a direct quote (two legs), best quote
  chosen by the engine from a small book (two providers, both directions), settled;
- ``pvp_via_pairs_per_s``: the same through a reference currency (no direct quote,
  three legs, two providers);
- ``pvp_pairs_per_s_book_256``: direct pairs with 256 quotes in the book (routing
  looks at every quote);
- ``transfers_per_s``: plain Transfers; ``pvp_vs_single`` = pvp_pairs_per_s / it.

``python -m interbank.benchmark_pvp --profile`` prints where the time of the direct
pairs goes (cProfile, by internal time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    Engine,
    EngineSettings,
    Issue,
    Kind,
    OpenAccount,
    RegisterParticipant,
    ResultCode,
    Role,
)
from interbank.engine.commands import PublishQuote

TARGET_PVP_VS_SINGLE = 0.4
_MASK64 = (1 << 64) - 1
_FAR_NS = 2**62
_STEP_NS = 1_000
# Currencies: A and B are paid between banks; R is the reference currency of the
# three-leg route (no A/B quote exists in the "via" engine).
_A, _B, _R = "RUB", "CNY", "USD"
_CENTRAL = {"RUB": "CBRFRUMM", "CNY": "PBOCCNBJ", "USD": "FRNYUS33", "JPY": "BOJPJPJT"}
_PROVIDERS = ("PROVSGSG", "PRVBAEAD")
_FUNDING_MINOR = 10**15  # deep enough that nothing in a run lacks cover


@dataclass(frozen=True, slots=True)
class PvpBenchConfig:
    banks: int = 64
    batch_rows: int = 4_096
    batches_per_rep: int = 4
    repetitions: int = 5
    warmup_batches: int = 1
    book_quotes_large: int = 256


QUICK = PvpBenchConfig(batch_rows=2_048, batches_per_rep=2, repetitions=3)


def _bank_bic(index: int) -> str:
    # Four letters from the index, then a real country code (SG) and a location code.
    letters = "".join(chr(ord("A") + (index // 26**k) % 26) for k in range(4))
    return f"{letters}SGSG"


def _bank_account(index: int, code: str) -> int:
    return 1_000 + 10 * index + (_A, _B, _R).index(code)


def _provider_account(index: int, code: str) -> int:
    return 100 + 10 * index + (_A, _B, _R, "JPY").index(code)


def _network(kind: str, book_quotes: int, banks: int) -> list[Command]:
    """Central banks, funded banks with A and B accounts, two providers and their quotes.

    ``kind``: "direct" (A/B quoted both ways), "via" (only A/R and R/B: three legs) or
    "transfers" (no quotes; the banks pay each other in A).
    """
    ids = iter(range(1, 10**9))
    commands: list[Command] = []
    for n, code in enumerate((_A, _B, _R, "JPY"), start=1):
        commands.append(
            RegisterParticipant(next(ids), _CENTRAL[code], code, Role.CENTRAL_BANK, code)
        )
        commands.append(OpenAccount(next(ids), n, _CENTRAL[code], code, AccountKind.ISSUANCE))
    for index in range(banks):
        bic = _bank_bic(index)
        commands.append(RegisterParticipant(next(ids), bic, bic, Role.DIRECT))
        for code in (_A, _B):
            account = _bank_account(index, code)
            commands.append(OpenAccount(next(ids), account, bic, code))
            commands.append(Issue(next(ids), account, _FUNDING_MINOR))
    for index, bic in enumerate(_PROVIDERS):
        commands.append(RegisterParticipant(next(ids), bic, bic, Role.DIRECT))
        for code in (_A, _B, _R, "JPY"):
            account = _provider_account(index, code)
            commands.append(OpenAccount(next(ids), account, bic, code))
            commands.append(Issue(next(ids), account, _FUNDING_MINOR))
    if kind == "transfers":
        return commands
    # The two providers' rates differ a little, so "best" is a real choice.
    pairs = [(_A, _B, "0.0721", "0.0722"), (_B, _A, "13.78", "13.79")]
    if kind == "via":
        pairs = [(_A, _R, "0.01", "0.0101"), (_R, _B, "7.18", "7.19")]
    for c_from, c_to, rate_1, rate_2 in pairs:
        for bic, rate in zip(_PROVIDERS, (rate_1, rate_2), strict=True):
            commands.append(PublishQuote(next(ids), bic, c_from, c_to, rate, 1, 10**12, _FAR_NS))
    # Quotes on a pair nobody pays in (JPY/USD) only lengthen the book routing reads.
    for n in range(book_quotes - len(pairs) * len(_PROVIDERS)):
        rate = f"0.0065{n:04d}"
        bic = _PROVIDERS[n % 2]
        commands.append(PublishQuote(next(ids), bic, "JPY", _R, rate, 1, 10**12, _FAR_NS))
    return commands


def _engine(kind: str, config: PvpBenchConfig, book_quotes: int = 4) -> Engine:
    engine = Engine(EngineSettings())
    results = engine.execute_many(_network(kind, book_quotes, config.banks), _STEP_NS)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    return engine


def _batches(kind: str, config: PvpBenchConfig, count: int, seed: int) -> list[Batch]:
    """``count`` batches of ``config.batch_rows`` rows, ids unique per seed."""
    rng = np.random.default_rng(seed)
    rows = config.batch_rows
    out = []
    for b in range(count):
        payer = rng.integers(0, config.banks, rows)
        payee = (payer + rng.integers(1, config.banks, rows)) % config.banks
        amount = rng.integers(100, 1_000_000, rows).astype(np.int64)
        ids = np.arange(rows, dtype=np.uint64) + np.uint64((seed * 1_000 + b) * rows + 1)
        debit = 1_000 + 10 * payer  # the payer's A account
        zeros = np.zeros(rows, dtype=np.uint64)
        if kind == "transfers":
            credit = 1_000 + 10 * payee
            out.append(Batch.of_transfers(zeros, ids, debit, credit, amount))
            continue
        credit = 1_000 + 10 * payee + 1  # the payee's B account
        out.append(
            Batch(
                kind=np.full(rows, Kind.CROSS_PAYMENT, dtype=np.uint8),
                flags=np.zeros(rows, dtype=np.uint8),
                id_hi=zeros,
                id_lo=ids,
                debit=debit.astype(np.int64),
                credit=credit.astype(np.int64),
                amount=amount,
                ref_hi=zeros.copy(),
                ref_lo=zeros.copy(),
                timeout_ns=np.zeros(rows, dtype=np.int64),
            )
        )
    return out


def _timed(engine: Engine, batches: Sequence[Batch], start_ns: int) -> tuple[float, int, int]:
    """Rows per second over ``batches``; the rows that settled; the next stamp."""
    settled = 0
    stamp = start_ns
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()  # a collection inside the timed loop measures the collector, not us
    try:
        started = time.perf_counter_ns()
        for batch in batches:
            result = engine.apply(batch, stamp)
            settled += int(np.count_nonzero(result.codes == ResultCode.OK))
            stamp += _STEP_NS
        duration_ns = time.perf_counter_ns() - started
    finally:
        if was_enabled:
            gc.enable()
    rows = sum(len(b) for b in batches)
    return rows * 1e9 / duration_ns, settled, stamp


def _rate(
    kind: str, config: PvpBenchConfig, progress: Callable[[str], None], book_quotes: int = 4
) -> tuple[float, float]:
    """Median rows/s and the settled share for one kind of work."""
    engine = _engine(kind, config, book_quotes)
    stamp = 2 * _STEP_NS
    _, _, stamp = _timed(engine, _batches(kind, config, config.warmup_batches, 999), stamp)
    samples: list[float] = []
    settled = rows = 0
    for rep in range(config.repetitions):
        batches = _batches(kind, config, config.batches_per_rep, rep + 1)
        rate, ok, stamp = _timed(engine, batches, stamp)
        samples.append(rate)
        settled += ok
        rows += sum(len(b) for b in batches)
        progress(f"pvp bench {kind} (book {book_quotes}) rep {rep + 1}: {rate:,.0f} rows/s")
    assert set(engine.totals_by_currency().values()) == {0}
    return statistics.median(samples), settled / rows


def measure(
    *, quick: bool = False, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    config = QUICK if quick else PvpBenchConfig()
    transfers, transfers_settled = _rate("transfers", config, progress)
    direct, direct_settled = _rate("direct", config, progress)
    via, via_settled = _rate("via", config, progress)
    large_book, _ = _rate("direct", config, progress, config.book_quotes_large)
    ratio = direct / transfers
    return {
        "pvp_pairs_per_s": round(direct),
        "pvp_vs_single": round(ratio, 4),
        "pvp_vs_single_target": TARGET_PVP_VS_SINGLE,
        "pvp_vs_single_met": ratio >= TARGET_PVP_VS_SINGLE,
        "transfers_per_s": round(transfers),
        "pvp_via_pairs_per_s": round(via),
        f"pvp_pairs_per_s_book_{config.book_quotes_large}": round(large_book),
        "pvp_settled_share": round(direct_settled, 4),
        "pvp_via_settled_share": round(via_settled, 4),
        "transfers_settled_share": round(transfers_settled, 4),
        "batch_rows": config.batch_rows,
        "repetitions": config.repetitions,
        "quick": quick,
    }


def render_table(figures: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="interbank bench pvp (medians)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        table.add_row(name, str(shown))
    return table


def profile(quick: bool = True, top: int = 25) -> str:
    """Where the time of direct pairs goes: cProfile of one engine.apply run, by tottime."""
    config = QUICK if quick else PvpBenchConfig()
    engine = _engine("direct", config)
    stamp = 2 * _STEP_NS
    _, _, stamp = _timed(engine, _batches("direct", config, 1, 999), stamp)  # warm up
    batches = _batches("direct", config, config.batches_per_rep, 7)
    profiler = cProfile.Profile()
    profiler.enable()
    for batch in batches:
        engine.apply(batch, stamp)
        stamp += _STEP_NS
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the direct pairs")
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(quick=args.quick))
        return 0
    import json

    print(json.dumps(measure(quick=args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
