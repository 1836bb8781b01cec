"""``interbank bench iso``: the ISO 20022 gateway end to end, beside pyiso20022.

Measured, never asserted. One process, one core: single-transaction pacs.008 messages
are validated (schemas on when the XSD folder is found), mapped, settled through the
durable node and answered with a pacs.002, submitted in groups of ``GROUP_MESSAGES``
(each message still one journal entry's worth; a group shares the entry and its fsync);
then 1,000-transaction messages, one per call. The baseline parses the same messages
with the pyiso20022 bindings (xsdata), which is what a Python user would otherwise
reach for: parse only, no validation, no settlement. Medians of ``RUNS`` runs.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interbank.engine.commands import AccountKind, Issue, OpenAccount, RegisterParticipant, Role

GROUP_MESSAGES = 1_000
BATCH_TRANSACTIONS = 1_000
RUNS = 3
_BANKS = ("YRCBCNSH", "PDBKCNGZ", "SLKRCNBJ", "JDSTCNSZ", "GRWLCNTJ", "LTBKCNSH")
_CENTRAL = "JDRBCNBJ"


def _schemas_dir() -> Path | None:
    configured = os.environ.get("INTERBANK_ISO20022_SCHEMAS")
    if configured:
        return Path(configured)
    shared = Path(__file__).resolve().parents[2] / ".." / "shared" / "iso20022" / "xsd" / "iso"
    return shared if shared.is_dir() else None


def _messages(count: int, per_message: int, rng: random.Random, prefix: str) -> list[bytes]:
    from interbank.iso20022 import build

    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = []
    for n in range(count):
        sender = rng.choice(_BANKS)
        payments = []
        for k in range(per_message):
            receiver = rng.choice([b for b in _BANKS if b != sender])
            payments.append(
                build.Payment(
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    f"E2E{n}-{k}",
                    f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
                    "CNY",
                    sender,
                    receiver,
                    instruction_id=f"I{n}-{k}",
                    debtor_name="Zhang Wei",
                    creditor_name="Li Na",
                )
            )
        result.append(
            build.credit_transfer(
                sender=sender, message_id=f"{prefix}{n}", created=created, payments=payments
            )
        )
    return result


def _network(gateway: Any) -> None:
    commands: list[Any] = [
        RegisterParticipant(1, _CENTRAL, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
        OpenAccount(2, 100, _CENTRAL, "CNY", AccountKind.ISSUANCE),
    ]
    for i, bic in enumerate(_BANKS):
        commands.append(RegisterParticipant(10 + i, bic, f"Bank {bic}", Role.DIRECT))
        commands.append(OpenAccount(30 + i, 200 + i, bic, "CNY"))
    gateway.node.submit(commands)
    gateway.node.submit([Issue(50 + i, 200 + i, 10**15) for i in range(len(_BANKS))])


def _median_rate(runs: list[tuple[int, float]]) -> float:
    return statistics.median(count / seconds for count, seconds in runs)


def measure(
    *, quick: bool = False, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    from interbank.iso20022 import IsoSettings
    from interbank.iso20022.gateway import Gateway

    rng = random.Random(20)
    singles = 2_000 if quick else 20_000
    batches = 2 if quick else 6
    schemas = _schemas_dir()
    settings = IsoSettings(schemas_dir=schemas)
    figures: dict[str, Any] = {"schemas": schemas is not None, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="interbank-bench-iso-") as folder:
        gateway = Gateway.open(str(Path(folder) / "bench.db"), settings, create=True)
        try:
            _network(gateway)
            gateway.receive_many(_messages(50, 1, rng, "W"))  # compile kernels, load schemas
            runs: list[tuple[int, float]] = []
            for run in range(RUNS):
                messages = _messages(singles, 1, rng, f"R{run}-")
                progress(f"iso: {singles} single-transaction pacs.008, run {run + 1}/{RUNS}")
                started = time.perf_counter()
                for at in range(0, len(messages), GROUP_MESSAGES):
                    replies = gateway.receive_many(messages[at : at + GROUP_MESSAGES])
                    assert all(r.kind == "pacs.002" for r in replies)
                runs.append((len(messages), time.perf_counter() - started))
            figures["iso_tx_per_s"] = round(_median_rate(runs))
            statuses = [r.status for r in replies]
            figures["last_group_settled_share"] = round(statuses.count("ACSC") / len(statuses), 3)
            batch_runs: list[tuple[int, float]] = []
            for run in range(RUNS):
                messages = _messages(batches, BATCH_TRANSACTIONS, rng, f"B{run}-")
                progress(
                    f"iso: {batches} pacs.008 of {BATCH_TRANSACTIONS} transactions, run {run + 1}/{RUNS}"  # noqa: E501
                )
                started = time.perf_counter()
                for message in messages:
                    gateway.receive(message)
                batch_runs.append((batches * BATCH_TRANSACTIONS, time.perf_counter() - started))
            figures["iso_tx_per_s_batch"] = round(_median_rate(batch_runs))
        finally:
            gateway.close()
    baseline = _pyiso20022_rate(_messages(2_000 if quick else 5_000, 1, rng, "P"), progress)
    figures["pyiso20022_parse_per_s"] = None if baseline is None else round(baseline)
    figures["iso_vs_pyiso20022"] = (
        None if baseline is None else round(figures["iso_tx_per_s"] / baseline, 1)
    )
    return figures


def _pyiso20022_rate(messages: list[bytes], progress: Callable[[str], None]) -> float | None:
    """Messages/s parsed by pyiso20022's bindings (header and document), median of runs."""
    try:
        from lxml import etree
        from pyiso20022.head.head_001_001_02 import AppHdr
        from pyiso20022.pacs.pacs_008_001_08 import Document
        from xsdata.formats.dataclass.parsers import XmlParser
    except ImportError:
        return None
    # Split each envelope into its two parts first (not timed): the bindings read only
    # a bare AppHdr or Document.
    parts = []
    for data in messages:
        root = etree.fromstring(data)
        parts.append((etree.tostring(root[0]), etree.tostring(root[1])))
    parser = XmlParser()
    runs: list[tuple[int, float]] = []
    for run in range(RUNS):
        progress(f"iso: pyiso20022 baseline, run {run + 1}/{RUNS}")
        started = time.perf_counter()
        for header, document in parts:
            parser.from_bytes(header, AppHdr)
            parser.from_bytes(document, Document)
        runs.append((len(parts), time.perf_counter() - started))
    return _median_rate(runs)


def render_table(figures: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="interbank bench iso (medians)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    return table
