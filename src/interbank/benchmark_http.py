"""``interbank bench http``: the HTTP service end to end, with mutual TLS, on loopback.

Measured, never asserted. The run makes a PKI (CA, server certificate, one client
certificate per bank), a network of six funded banks, and starts ``interbank serve
--pki`` as a child process on a free loopback port. The load comes from a second child
process (``python -m interbank.benchmark_http``): asyncio over TLS with keep-alive
connections, one request in flight per connection (closed loop), each connection
holding one bank's certificate and debiting that bank's account. Requests are written
as raw HTTP/1.1 so that the generator spends its core on the wire, not in a client
library: the two processes share the machine's two cores, as they would on a small
node.

Phases, each bounded in time and in count:

- single: one ``POST /v1/transfers`` per request -> ``http_single_rps``, p50, p99;
- batch: ``POST /v1/batches`` of ``BATCH_TRANSFERS`` transfers -> ``http_batch_tps``;
- iso: one single-transaction pacs.008 per ``POST /v1/iso20022/messages`` ->
  ``http_iso_rps``, p99.

Every answer is checked (HTTP 200 and, for transfers, ACSC); failures are counted and
reported, never hidden. The baseline beside the figures is the same work without HTTP:
``durable_tps`` of ``interbank bench`` measures the node alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BANKS = ("YRCBCNSH", "PDBKCNGZ", "SLKRCNBJ", "JDSTCNSZ", "GRWLCNTJ", "LTBKCNSH")
CENTRAL = "JDRBCNBJ"
ACCOUNT_BASE = 200  # bank i holds account ACCOUNT_BASE + i
BATCH_TRANSFERS = 4_096
SINGLE_CONNECTIONS = 32
BATCH_CONNECTIONS = 4
ISO_CONNECTIONS = 32
# Each phase stops at its time or its request count, whichever comes first.
PHASE_S = {"full": 10.0, "quick": 3.0}
WARM_S = 1.5
ISO_MESSAGES_MAX = {"full": 40_000, "quick": 8_000}
STARTUP_S_MAX = 90
LOAD_S_MAX = 300


# --- the network and the server -----------------------------------------------------------


def _network(db: str) -> None:
    from interbank.engine.commands import (
        AccountKind,
        Issue,
        OpenAccount,
        RegisterParticipant,
        Role,
    )
    from interbank.node import Node

    commands: list[Any] = [
        RegisterParticipant(1, CENTRAL, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
        OpenAccount(2, 100, CENTRAL, "CNY", AccountKind.ISSUANCE),
    ]
    for i, bic in enumerate(BANKS):
        commands.append(RegisterParticipant(10 + i, bic, f"Bank {bic}", Role.DIRECT))
        commands.append(OpenAccount(30 + i, ACCOUNT_BASE + i, bic, "CNY"))
    with Node.open(db, create=True) as node:
        node.submit(commands)
        node.submit([Issue(50 + i, ACCOUNT_BASE + i, 10**16) for i in range(len(BANKS))])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_S_MAX
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("interbank serve exited before listening") from None
            if time.monotonic() > deadline:
                raise RuntimeError("interbank serve did not listen in time") from None
            time.sleep(0.1)


def measure(
    *, quick: bool = False, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    from interbank.api import pki

    mode = "quick" if quick else "full"
    with tempfile.TemporaryDirectory(prefix="interbank-bench-http-") as folder:
        root = Path(folder)
        directory = root / "pki"
        progress("http: PKI and network")
        pki.init_directory(directory)
        clients = []
        for bic in BANKS:
            issued = pki.issue(directory, pki.ClientProfile(bic, pki.ClientRole.PARTICIPANT))
            clients.append({"bic": bic, "cert": str(issued.certificate_path),
                            "key": str(issued.key_path)})  # fmt: skip
        db = str(root / "bench.db")
        _network(db)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "interbank.cli", "serve", "--db", db, "--pki", str(directory),
             "--port", str(port), "--limit", "participant_requests_per_s=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _wait_for_port(server, port)
            plan = {
                "port": port,
                "ca": str(pki.PkiPaths(directory).ca_certificate),
                "clients": clients,
                "phase_s": PHASE_S[mode],
                "iso_messages_max": ISO_MESSAGES_MAX[mode],
                "server_pid": server.pid,
            }
            progress(f"http: load for {PHASE_S[mode]:.0f} s per phase (single, batch, iso)")
            load = subprocess.run(
                [sys.executable, "-m", "interbank.benchmark_http"],
                input=json.dumps(plan), capture_output=True, text=True, timeout=LOAD_S_MAX,
            )  # fmt: skip
            if load.returncode != 0:
                raise RuntimeError(f"the load generator failed: {load.stderr[-2000:]}")
            figures: dict[str, Any] = json.loads(load.stdout.strip().splitlines()[-1])
        finally:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
        figures["quick"] = quick
        figures["cores"] = os.cpu_count()
        figures["load_average_1m"] = round(os.getloadavg()[0], 2)
        return figures


def render_table(figures: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="interbank bench http (mutual TLS, loopback, closed loop)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    targets = {"http_single_rps": ">= 5,000", "http_single_p99_ms": "<= 10",
               "http_batch_tps": ">= 200,000"}  # fmt: skip
    for name, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        table.add_row(name, shown, targets.get(name, ""))
    return table


# --- the load generator (a separate process) ------------------------------------------------


class _Connection:
    """One keep-alive TLS connection; one request in flight at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + body)
        line = await self.reader.readuntil(b"\r\n")
        status = int(line.split(b" ", 2)[1])
        length = 0
        while True:
            header = await self.reader.readuntil(b"\r\n")
            if header == b"\r\n":
                break
            name, _, value = header.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


def _head(path: str, length: int, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def _connect(plan: dict[str, Any], client: dict[str, str]) -> _Connection:
    context = ssl.create_default_context(cafile=plan["ca"])
    context.load_cert_chain(client["cert"], client["key"])
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", plan["port"], ssl=context, server_hostname="127.0.0.1",
        limit=1 << 24,
    )  # fmt: skip
    return _Connection(reader, writer)


class _Phase:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.latencies_s: list[float] = []
        self.items = 0
        self.failures = 0
        self.failure_sample: str | None = None
        self.started = 0.0
        self.stopped = 0.0

    def fail(self, status: int, body: bytes) -> None:
        self.failures += 1
        if self.failure_sample is None:
            self.failure_sample = f"{status} {body[:300]!r}"


async def _run_phase(
    connections: list[_Connection],
    next_request: Callable[[int], tuple[bytes, bytes, int] | None],
    check: Callable[[int, bytes], bool],
    seconds: float,
) -> _Phase:
    phase = _Phase(seconds)
    deadline = time.perf_counter() + seconds

    async def drive(index: int, connection: _Connection) -> None:
        while time.perf_counter() < deadline:
            request = next_request(index)
            if request is None:
                return
            head, body, items = request
            sent = time.perf_counter()
            status, answer = await connection.request(head, body)
            phase.latencies_s.append(time.perf_counter() - sent)
            if check(status, answer):
                phase.items += items
            else:
                phase.fail(status, answer)

    phase.started = time.perf_counter()
    await asyncio.gather(*(drive(i, c) for i, c in enumerate(connections)))
    phase.stopped = time.perf_counter()
    return phase


def _cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used so far; None off Linux."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile_ms(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 3)


async def _load(plan: dict[str, Any]) -> dict[str, Any]:
    from interbank.iso20022 import build

    clients = plan["clients"]
    banks = len(clients)
    counter = [uuid.uuid4().int >> 80]  # distinct ids per run, well inside 2**53

    def transfer_body(bank: int) -> bytes:
        counter[0] += 1
        credit = ACCOUNT_BASE + (bank + 1 + counter[0] % (banks - 1)) % banks
        return (
            b'{"id": %d, "debit_account_id": %d, "credit_account_id": %d, "amount_minor": %d}'
            % (counter[0], ACCOUNT_BASE + bank, credit, 1 + counter[0] % 997)
        )

    def single(index: int) -> tuple[bytes, bytes, int]:
        body = transfer_body(index % banks)
        return _head("/v1/transfers", len(body), "application/json"), body, 1

    def single_ok(status: int, body: bytes) -> bool:
        return status == 200 and b'"ACSC"' in body

    def batch(index: int) -> tuple[bytes, bytes, int]:
        bank = index % banks
        items = b", ".join(
            b'{"type": "transfer", ' + transfer_body(bank)[1:] for _ in range(BATCH_TRANSFERS)
        )
        body = b'{"commands": [' + items + b"]}"
        return _head("/v1/batches", len(body), "application/json"), body, BATCH_TRANSFERS

    def batch_ok(status: int, body: bytes) -> bool:
        return status == 200 and body.count(b'"ACSC"') == BATCH_TRANSFERS

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    iso_pool: list[list[bytes]] = [[] for _ in range(banks)]
    per_bank = plan["iso_messages_max"] // banks
    for bank, client in enumerate(clients):
        sender = client["bic"]
        receiver = clients[(bank + 1) % banks]["bic"]
        for n in range(per_bank):
            payment = build.Payment(str(uuid.uuid4()), f"E{n}", "1.00", "CNY", sender, receiver,
                                    instruction_id=f"I{n}")  # fmt: skip
            iso_pool[bank].append(build.credit_transfer(
                sender=sender, message_id=f"H{uuid.uuid4().hex[:20]}", created=created,
                payments=[payment]))  # fmt: skip

    def iso(index: int) -> tuple[bytes, bytes, int] | None:
        pool = iso_pool[index % banks]
        if not pool:
            return None
        body = pool.pop()
        return _head("/v1/iso20022/messages", len(body), "application/xml"), body, 1

    def iso_ok(status: int, body: bytes) -> bool:
        return status == 200 and b"<TxSts>ACSC</TxSts>" in body

    async def open_all(count: int) -> list[_Connection]:
        return list(await asyncio.gather(*(_connect(plan, clients[i % banks])
                                           for i in range(count))))  # fmt: skip

    figures: dict[str, Any] = {}
    seconds = float(plan["phase_s"])
    server_pid = plan.get("server_pid")

    async def timed(name: str, *args: Any) -> _Phase:
        """Run a phase; note the CPU the server and this generator spent per request,
        which says which side bounds the figure."""
        server_before, load_before = _cpu_s(server_pid), time.process_time()
        phase = await _run_phase(*args)
        server_after, load_after = _cpu_s(server_pid), time.process_time()
        requests = max(1, len(phase.latencies_s))
        if server_before is not None and server_after is not None:
            figures[f"{name}_server_cpu_us_per_request"] = round(
                (server_after - server_before) / requests * 1e6
            )
        figures[f"{name}_load_cpu_us_per_request"] = round(
            (load_after - load_before) / requests * 1e6
        )
        return phase

    singles = await open_all(SINGLE_CONNECTIONS)
    await _run_phase(singles, single, single_ok, WARM_S)  # compile, cache accounts, warm TLS
    phase = await timed("http_single", singles, single, single_ok, seconds)
    elapsed = phase.stopped - phase.started
    figures["http_single_rps"] = round(len(phase.latencies_s) / elapsed)
    figures["http_single_p50_ms"] = _percentile_ms(phase.latencies_s, 0.50)
    figures["http_single_p99_ms"] = _percentile_ms(phase.latencies_s, 0.99)
    figures["http_single_failures"] = phase.failures
    figures["http_single_connections"] = SINGLE_CONNECTIONS
    batches = singles[:BATCH_CONNECTIONS]
    phase = await timed("http_batch", batches, batch, batch_ok, seconds)
    elapsed = phase.stopped - phase.started
    figures["http_batch_tps"] = round(phase.items / elapsed)
    figures["http_batch_p50_ms"] = _percentile_ms(phase.latencies_s, 0.50)
    figures["http_batch_failures"] = phase.failures
    figures["http_batch_transfers_per_request"] = BATCH_TRANSFERS
    isos = singles[:ISO_CONNECTIONS]
    phase = await timed("http_iso", isos, iso, iso_ok, seconds)
    elapsed = phase.stopped - phase.started
    figures["http_iso_rps"] = round(len(phase.latencies_s) / elapsed)
    figures["http_iso_p50_ms"] = _percentile_ms(phase.latencies_s, 0.50)
    figures["http_iso_p99_ms"] = _percentile_ms(phase.latencies_s, 0.99)
    figures["http_iso_failures"] = phase.failures
    samples = [p for p in (phase.failure_sample,) if p]
    if samples:
        figures["failure_sample"] = samples[0]
    for connection in singles:
        connection.writer.close()
    figures["load_cpu_s"] = round(time.process_time(), 2)
    return figures


def _main() -> None:
    plan = json.loads(sys.stdin.read())
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    figures = runner(_load(plan))
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    _main()
