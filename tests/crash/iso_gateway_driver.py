"""Crash harness for the ISO 20022 gateway: archive, then journal, then project.

Child (``python iso_gateway_driver.py --db PATH --kill-at STAGE:N``): opens the network
at PATH (creating and funding it on first start), then sends every message of the
fixed script (``script()``) in groups of ``GROUP_MESSAGES``, one ``receive_many`` per
group, and prints one line per answered message, flushed:

    ACK <sha256> <kind> <status>

With ``--kill-at archive:N`` it SIGKILLs itself right after the N-th group's bytes are
durably archived (before anything reaches the journal); with ``--kill-at projection:N``
right after the N-th journal entry is durable and applied, before the views project it
(and before any caller is answered). A child without ``--kill-at`` sends the whole
script and exits 0. Every run re-sends the script from the start, as a sender that got
no answer (or lost it) would.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interbank.engine.commands import AccountKind, Issue, OpenAccount, RegisterParticipant, Role
from interbank.iso20022 import IsoSettings, build
from interbank.iso20022.gateway import Gateway

CENTRAL, PAYER, PAYEE = "JDRBCNBJ", "YRCBCNSH", "PDBKCNGZ"
PAYER_ACCOUNT, PAYEE_ACCOUNT = 601, 701
GROUPS = 6
GROUP_MESSAGES = 4
CREATED = "2026-11-28T10:00:00Z"


def script() -> list[list[bytes]]:
    """The messages, in groups: single-payment pacs.008s from PAYER to PAYEE, each for
    (its number + 1) CNY, with fixed UETRs so every run sends the same bytes."""
    groups = []
    for g in range(GROUPS):
        group = []
        for m in range(GROUP_MESSAGES):
            n = g * GROUP_MESSAGES + m
            uetr = f"{n:08x}-0000-4000-8000-000000000000"
            payment = build.Payment(uetr, f"E2E-{n}", f"{n + 1}.00", "CNY", PAYER, PAYEE)
            group.append(
                build.credit_transfer(
                    sender=PAYER, message_id=f"CRASH-{n}", created=CREATED, payments=[payment]
                )
            )
        groups.append(group)
    return groups


def amount_minor(n: int) -> int:
    return (n + 1) * 100


def _open(db: str) -> Gateway:
    fresh = not Path(db).exists()
    gateway = Gateway.open(db, IsoSettings(), create=fresh)
    if fresh:
        gateway.node.submit(
            [
                RegisterParticipant(1, CENTRAL, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
                RegisterParticipant(2, PAYER, "Yellow River Bank", Role.DIRECT),
                RegisterParticipant(3, PAYEE, "Pearl Delta Bank", Role.DIRECT),
                OpenAccount(4, 151, CENTRAL, "CNY", AccountKind.ISSUANCE),
                OpenAccount(5, PAYER_ACCOUNT, PAYER, "CNY"),
                OpenAccount(6, PAYEE_ACCOUNT, PAYEE, "CNY"),
                Issue(7, PAYER_ACCOUNT, 10**9),
            ]
        )
    return gateway


def _arm(gateway: Gateway, stage: str, count: int) -> None:
    """SIGKILL this process at the ``count``-th archive or projection of this run."""
    views: Any = gateway.views
    calls = [0]
    if stage == "archive":
        archive = views.archive

        def archive_then_die(*args: Any, **kwargs: Any) -> None:
            archive(*args, **kwargs)
            calls[0] += 1
            if calls[0] == count:
                os.kill(os.getpid(), signal.SIGKILL)

        views.archive = archive_then_die
    elif stage == "projection":
        apply = views.apply

        def die_before_projection(*args: Any, **kwargs: Any) -> None:
            calls[0] += 1
            if calls[0] == count:
                os.kill(os.getpid(), signal.SIGKILL)
            apply(*args, **kwargs)

        views.apply = die_before_projection
    else:
        raise SystemExit(f"unknown stage {stage!r}")


def child(db: str, kill_at: str | None) -> None:
    gateway = _open(db)
    if kill_at:
        stage, _, count = kill_at.partition(":")
        _arm(gateway, stage, int(count))
    try:
        for group in script():
            for reply in gateway.receive_many(group):
                print(f"ACK {reply.sha256} {reply.kind} {reply.status}", flush=True)
    finally:
        gateway.close()


@dataclass(frozen=True, slots=True)
class Run:
    returncode: int
    acks: list[tuple[str, str, str]]  # (sha256, kind, status) in answer order
    stderr: str


def run_child(db: str, kill_at: str | None = None, timeout_s: float = 60.0) -> Run:
    """Run a child to its end (or its planned death); what it acknowledged."""
    command = [sys.executable, __file__, "--db", db]
    if kill_at:
        command += ["--kill-at", kill_at]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    acks = []
    for line in done.stdout.splitlines():
        word, sha, kind, status = line.split()
        assert word == "ACK", line
        acks.append((sha, kind, status))
    return Run(done.returncode, acks, done.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--kill-at", default=None)
    arguments = parser.parse_args()
    child(arguments.db, arguments.kill_at)
