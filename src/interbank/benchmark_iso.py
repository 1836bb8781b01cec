"""``interbank bench iso``: the ISO 20022 gateway end to end, beside pyiso20022.

Measured, never asserted. One process, one core: single-transaction pacs.008 messages
are validated (schemas on when the XSD folder is found), mapped, settled through the
durable node and answered with a pacs.002, submitted in groups of ``GROUP_MESSAGES``
(each message still one journal entry's worth; a group shares the entry and its fsync);
then 1,000-transaction messages, one per call. The baseline parses the same messages
with the pyiso20022 bindings (xsdata), which is what a Python user would otherwise
reach for: parse only, no validation, no settlement. Medians of ``RUNS`` runs.

Beside the end-to-end figures, the parts that bound them, on the same messages:
``lxml_parse_xsd_per_s`` (lxml parse + XSD validation of header and document, the floor
of any validating reader), ``iso_validate_per_s`` (the whole ``Validator.check`` with
usage rules) and ``node_message_per_s`` (what the node does per single-payment message
without the gateway: a Payment and the message's RecordMessage, journaled and applied in
groups of ``GROUP_MESSAGES``). ``iso_tx_per_cpu_s`` is ``iso_tx_per_s`` on the process's
CPU time: on a shared machine the wall-clock figure also measures the neighbours.
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

from interbank.engine.commands import (
    AccountKind,
    Issue,
    OpenAccount,
    Payment,
    RecordMessage,
    RegisterParticipant,
    Role,
)

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


def _timed(work: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``work``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


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
            cpu_runs: list[tuple[int, float]] = []
            replies: list[Any] = []
            for run in range(RUNS):
                messages = _messages(singles, 1, rng, f"R{run}-")
                progress(f"iso: {singles} single-transaction pacs.008, run {run + 1}/{RUNS}")

                def send(messages: list[bytes] = messages) -> None:
                    nonlocal replies
                    for at in range(0, len(messages), GROUP_MESSAGES):
                        replies = gateway.receive_many(messages[at : at + GROUP_MESSAGES])
                        assert all(r.kind == "pacs.002" for r in replies)

                wall, cpu = _timed(send)
                runs.append((len(messages), wall))
                cpu_runs.append((len(messages), cpu))
            figures["iso_tx_per_s"] = round(_median_rate(runs))
            figures["iso_tx_per_cpu_s"] = round(_median_rate(cpu_runs))
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
            progress("iso: the parts (lxml, validation, node) on the same messages")
            figures.update(_parts(gateway, _messages(2_000 if quick else 5_000, 1, rng, "Q")))
        finally:
            gateway.close()
    baseline = _pyiso20022_rate(_messages(2_000 if quick else 5_000, 1, rng, "P"), progress)
    if baseline is None:
        figures.update(pyiso20022_parse_per_s=None, iso_vs_pyiso20022=None)
        return figures
    wall_rate, cpu_rate = baseline
    figures["pyiso20022_parse_per_s"] = round(wall_rate)
    figures["iso_vs_pyiso20022"] = round(figures["iso_tx_per_s"] / wall_rate, 1)
    figures["pyiso20022_parse_per_cpu_s"] = round(cpu_rate)
    figures["iso_vs_pyiso20022_cpu"] = round(figures["iso_tx_per_cpu_s"] / cpu_rate, 1)
    return figures


def _parts(gateway: Any, messages: list[bytes]) -> dict[str, int]:
    """Rates of the parts that bound iso_tx_per_s, each a median of RUNS runs (CPU time:
    they use one core and wait for nothing but the node's fsync)."""
    from lxml import etree

    validator = gateway.validator
    parser = validator.reader._parser
    schemas = validator.schemas
    envelopes = [validator.reader.parse(m) for m in messages]
    lxml_runs: list[tuple[int, float]] = []
    validate_runs: list[tuple[int, float]] = []
    node_runs: list[tuple[int, float]] = []

    def parse_and_xsd() -> None:
        for data, envelope in zip(messages, envelopes, strict=True):
            etree.fromstring(data, parser)
            if schemas is not None:
                schemas.validate(envelope.header, envelope.header_def)
                schemas.validate(envelope.document, envelope.document_def)

    def validate() -> None:
        for data in messages:
            validator.check(data, usage_rules=True)

    node = gateway.node
    accounts = [node.engine.settlement_account(bic, "CNY") for bic in _BANKS]
    rng = random.Random(21)
    for _ in range(RUNS):
        lxml_runs.append((len(messages), _timed(parse_and_xsd)[1]))
        validate_runs.append((len(messages), _timed(validate)[1]))
        groups = []
        for at in range(0, len(messages), GROUP_MESSAGES):
            commands: list[Any] = []
            for _ in range(at, min(at + GROUP_MESSAGES, len(messages))):
                debit, credit = rng.sample(accounts, 2)
                sha = f"{rng.getrandbits(256):064x}"
                commands.append(RecordMessage(rng.getrandbits(127) + 1, _BANKS[0], sha))
                commands.append(
                    Payment(rng.getrandbits(127) + 1, debit, credit, rng.randint(1, 50_000))
                )
            groups.append(commands)

        def submit(groups: list[list[Any]] = groups) -> None:
            for commands in groups:
                node.submit(commands)

        node_runs.append((len(messages), _timed(submit)[1]))
    return {
        "lxml_parse_xsd_per_s": round(_median_rate(lxml_runs)),
        "iso_validate_per_s": round(_median_rate(validate_runs)),
        "node_message_per_s": round(_median_rate(node_runs)),
    }


def _pyiso20022_rate(
    messages: list[bytes], progress: Callable[[str], None]
) -> tuple[float, float] | None:
    """Messages/s parsed by pyiso20022's bindings (header and document), median of runs,
    on wall-clock and on CPU time."""
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
    cpu_runs: list[tuple[int, float]] = []

    def parse() -> None:
        for header, document in parts:
            parser.from_bytes(header, AppHdr)
            parser.from_bytes(document, Document)

    for run in range(RUNS):
        progress(f"iso: pyiso20022 baseline, run {run + 1}/{RUNS}")
        wall, cpu = _timed(parse)
        runs.append((len(parts), wall))
        cpu_runs.append((len(parts), cpu))
    return _median_rate(runs), _median_rate(cpu_runs)


def render_table(figures: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="interbank bench iso (medians)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    return table
