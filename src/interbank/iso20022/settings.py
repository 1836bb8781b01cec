"""Limits and switches of the ISO 20022 gateway. Every limit has its unit in its name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SCHEMAS_ENV = "INTERBANK_ISO20022_SCHEMAS"


@dataclass(frozen=True, slots=True)
class IsoSettings:
    """What the gateway accepts. Checked in this order: bytes, depth, transactions."""

    # One message, as received. 16 MiB holds a 8,190-transaction pacs.008 with room.
    message_bytes_max: int = 16 * 1024 * 1024
    # Element nesting. The deepest ISO 20022 path the network reads is ~12 levels; the
    # schemas go to ~20; anything past this is an attack on the parser, not a payment.
    depth_max: int = 48
    # Transactions in one message: all of them go to the journal as one entry with the
    # message's RecordMessage, so this stays below the node's batch_size_max (8190).
    transactions_per_message_max: int = 8189
    # Folder with the ISO 20022 XSDs (``pacs.008.001.08.xsd``, ...). None: the built-in
    # structural check only. The schemas are the operator's to supply (their licence).
    schemas_dir: Path | None = None
    # The network's own BIC: the sender of every outbound message. When set, inbound
    # headers must be addressed to it.
    network_bic: str = "IBNKCHZZ"
    require_header_to_network: bool = False
    # A settlement date may lie this many days ahead (the payment waits until then).
    settlement_date_days_ahead_max: int = 10

    def __post_init__(self) -> None:
        if not 1024 <= self.message_bytes_max <= 1 << 30:
            raise ValueError("message_bytes_max is between 1 KiB and 1 GiB")
        if not 8 <= self.depth_max <= 256:
            raise ValueError("depth_max is between 8 and 256")
        if not 1 <= self.transactions_per_message_max <= 1 << 20:
            raise ValueError("transactions_per_message_max is between 1 and 1048576")
        if self.settlement_date_days_ahead_max < 0:
            raise ValueError("settlement_date_days_ahead_max is at least 0")

    @staticmethod
    def from_environment(schemas_dir: str | Path | None = None) -> IsoSettings:
        """Settings with the schema folder from the argument, else the environment."""
        chosen = schemas_dir if schemas_dir is not None else os.environ.get(SCHEMAS_ENV)
        return IsoSettings(schemas_dir=Path(chosen) if chosen else None)
