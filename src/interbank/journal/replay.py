"""Rebuilding engine state from the journal: recovery, replay and verification.

Recovery (what a node does when it opens) restores the newest snapshot that proves
itself (its bytes match their checksum and the restored engine's digest equals the
digest stored with it), falls back to an older one or to an empty engine otherwise,
and replays the entries after it, checking the hash chain as it goes. ``verify``
replays everything from the first entry and cross-checks the chain, the digests stored
with the snapshots and the digest recovery arrives at.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from interbank.engine import Engine, EngineSettings
from interbank.engine.batch import Batch
from interbank.journal.backend import (
    META_ENGINE_SETTINGS,
    ChainError,
    Entry,
    Head,
    JournalBackend,
    JournalFormatError,
    SnapshotInfo,
)
from interbank.journal.chain import check_link

# Settings that do not change what the engine computes, only how much it checks; a
# snapshot or a replay may differ from the journal's settings in these.
_SETTINGS_WITHOUT_EFFECT = frozenset({"check_invariants"})


def engine_settings_json(settings: EngineSettings) -> str:
    """The engine settings as stored in the journal's metadata."""
    return json.dumps(dataclasses.asdict(settings), sort_keys=True, separators=(",", ":"))


def engine_settings_of(metadata: Mapping[str, str], location: str) -> EngineSettings:
    """The settings the journal was written with: replay must use the same ones."""
    text = metadata.get(META_ENGINE_SETTINGS)
    if text is None:
        return EngineSettings()
    try:
        return EngineSettings(**json.loads(text))
    except (TypeError, ValueError) as error:
        raise JournalFormatError(
            f"{location}: the stored engine settings do not fit this version: {error}"
        ) from error


def settings_agree(a: EngineSettings, b: EngineSettings) -> bool:
    """True when two settings make the engine compute the same states."""
    fields_a = dataclasses.asdict(a)
    fields_b = dataclasses.asdict(b)
    for name in _SETTINGS_WITHOUT_EFFECT:
        fields_a.pop(name, None)
        fields_b.pop(name, None)
    return fields_a == fields_b


def apply_entry(engine: Engine, entry: Entry) -> int:
    """Apply one entry's batch (unpacked without copying its columns); rows applied."""
    batch = Batch.unpack(entry.payload)
    engine.apply(batch, entry.timestamp_ns)
    return len(batch)


@dataclass(frozen=True, slots=True)
class Recovery:
    """The state a node resumes from, and how it got there."""

    engine: Engine
    head: Head
    snapshot_seq: int  # 0: replayed from the first entry
    entries_replayed: int
    commands_replayed: int
    snapshots_skipped: tuple[str, ...]  # why each newer snapshot was not used


def recover(
    backend: JournalBackend, settings: EngineSettings, *, seq_last: int | None = None
) -> Recovery:
    """Rebuild the state after entry ``seq_last`` (default: the last entry).

    Raises ChainError when an entry after the chosen snapshot breaks the chain: a node
    must not resume on a journal that was damaged or altered.
    """
    seq_head = backend.head().seq if seq_last is None else seq_last
    engine, head, skipped = _newest_good_snapshot(backend, settings, seq_head)
    if seq_last is None:
        skipped.extend(
            f"snapshot at seq {info.seq}: beyond the journal's last entry {seq_head}"
            for info in backend.snapshots()
            if info.seq > seq_head
        )
    snapshot_seq = head.seq
    entries = 0
    commands = 0
    if seq_head > head.seq:
        for entry in backend.read(head.seq + 1, seq_head):
            check_link(head, entry)
            commands += apply_entry(engine, entry)
            head = Head.of(entry)
            entries += 1
    if head.seq != seq_head:
        raise ChainError(head.seq + 1, f"missing: the journal ends at {head.seq}")
    assert engine.timestamp_ns == head.timestamp_ns, (engine.timestamp_ns, head.timestamp_ns)
    return Recovery(engine, head, snapshot_seq, entries, commands, tuple(skipped))


def _newest_good_snapshot(
    backend: JournalBackend, settings: EngineSettings, seq_max: int
) -> tuple[Engine, Head, list[str]]:
    """The newest snapshot at or before ``seq_max`` that proves itself, else genesis."""
    skipped: list[str] = []
    for info in backend.snapshots():
        if info.seq > seq_max:
            continue
        restored = _restore(backend, info, settings)
        if isinstance(restored, str):
            skipped.append(restored)
            continue
        engine, head = restored
        return engine, head, skipped
    return Engine(settings), Head.genesis(), skipped


def _restore(
    backend: JournalBackend, info: SnapshotInfo, settings: EngineSettings
) -> tuple[Engine, Head] | str:
    """The restored engine and its head, or why this snapshot cannot be used."""
    where = f"snapshot at seq {info.seq}"
    entry = backend.entry(info.seq)
    if entry is None:
        return f"{where}: the journal has no entry {info.seq}"
    record = backend.load_snapshot(info.seq)
    if record is None:
        return f"{where}: unreadable"
    if not record.intact:
        return f"{where}: its bytes do not match their checksum"
    try:
        engine = Engine.restore(record.data)
    except Exception as error:  # damaged bytes may fail in any way; never trust them
        return f"{where}: the engine refused it: {type(error).__name__}: {error}"
    if not settings_agree(engine.settings, settings):
        return f"{where}: written with other engine settings than the journal's"
    if engine.digest() != record.digest:
        return f"{where}: the restored state's digest differs from the stored digest"
    if engine.timestamp_ns != entry.timestamp_ns:
        return f"{where}: its timestamp is not entry {info.seq}'s"
    return engine, Head.of(entry)


@dataclass(frozen=True, slots=True)
class ReplayStats:
    entries: int
    commands: int
    snapshot_seq: int  # 0: from the first entry
    seq_last: int
    seconds: float

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else 0.0


def replay_journal(
    backend: JournalBackend,
    *,
    seq_last: int | None = None,
    from_snapshot: bool = False,
    settings: EngineSettings | None = None,
) -> tuple[Engine, ReplayStats]:
    """Rebuild the state after ``seq_last`` (default: all), checking the chain.

    From the first entry unless ``from_snapshot``. ``settings`` may only differ from
    the journal's in what does not change results (e.g. ``check_invariants``).
    """
    stored = engine_settings_of(backend.metadata(), backend.location)
    if settings is None:
        settings = stored
    if not settings_agree(settings, stored):
        raise ValueError("replay settings must compute what the journal's settings computed")
    # perf_counter measures the replay for the report; it never reaches engine state.
    started = time.perf_counter()
    if from_snapshot:
        recovery = recover(backend, settings, seq_last=seq_last)
        seconds = time.perf_counter() - started
        stats = ReplayStats(
            recovery.entries_replayed,
            recovery.commands_replayed,
            recovery.snapshot_seq,
            recovery.head.seq,
            seconds,
        )
        return recovery.engine, stats
    engine = Engine(settings)
    head = Head.genesis()
    commands = 0
    for entry in backend.read(1, seq_last):
        check_link(head, entry)
        commands += apply_entry(engine, entry)
        head = Head.of(entry)
    if seq_last is not None and head.seq != seq_last:
        raise ChainError(head.seq + 1, f"missing: the journal ends at {head.seq}")
    seconds = time.perf_counter() - started
    return engine, ReplayStats(head.seq, commands, 0, head.seq, seconds)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``verify`` found. ``ok`` is true exactly when ``problems`` is empty."""

    location: str
    entries: int  # entries that chain correctly, from the first on
    commands: int
    head_seq: int
    head_hash: str  # hex
    digest: str  # engine digest after replaying those entries from the first
    recovered_digest: str  # digest after recovery (snapshot + rest); "" if not reached
    snapshot_seq: int  # the snapshot recovery used; 0 when none
    first_broken_seq: int | None
    problems: tuple[str, ...]
    ok: bool

    def __post_init__(self) -> None:
        assert self.ok == (not self.problems)


def verify_journal(backend: JournalBackend) -> VerifyReport:
    """Walk the whole chain, replay it into a fresh engine and cross-check digests."""
    problems: list[str] = []
    settings = engine_settings_of(backend.metadata(), backend.location)
    # Listed before the entries are read, so every snapshot seen is covered by them
    # even if a node is appending meanwhile.
    stored_digests = {info.seq: info.digest for info in backend.snapshots()}
    engine = Engine(settings)
    head = Head.genesis()
    commands = 0
    first_broken_seq: int | None = None
    try:
        for entry in backend.read(1):
            check_link(head, entry)
            try:
                commands += apply_entry(engine, entry)
            except Exception as error:  # a payload that hashes right but cannot apply
                first_broken_seq = entry.seq
                problems.append(
                    f"journal entry {entry.seq}: cannot be applied: {type(error).__name__}: {error}"
                )
                break
            head = Head.of(entry)
            stored = stored_digests.get(entry.seq)
            if stored is not None and stored != engine.digest():
                problems.append(
                    f"snapshot at seq {entry.seq}: its stored digest differs from the replay's"
                )
    except ChainError as error:
        first_broken_seq = error.seq
        problems.append(str(error))
    digest = engine.digest()
    for seq in sorted(stored_digests):
        if seq > head.seq and first_broken_seq is None:
            problems.append(f"snapshot at seq {seq}: beyond the journal's last entry {head.seq}")

    recovered_digest = ""
    snapshot_seq = 0
    if first_broken_seq is None:
        try:
            recovery = recover(backend, settings, seq_last=head.seq)
        except Exception as error:
            problems.append(f"recovery failed: {type(error).__name__}: {error}")
        else:
            recovered_digest = recovery.engine.digest()
            snapshot_seq = recovery.snapshot_seq
            problems.extend(recovery.snapshots_skipped)
            if recovered_digest != digest:
                problems.append(
                    f"recovery from the snapshot at seq {snapshot_seq} gives another digest "
                    "than the replay from the first entry"
                )
    return VerifyReport(
        location=backend.location,
        entries=head.seq,
        commands=commands,
        head_seq=head.seq,
        head_hash=head.hash_hex,
        digest=digest,
        recovered_digest=recovered_digest,
        snapshot_seq=snapshot_seq,
        first_broken_seq=first_broken_seq,
        problems=tuple(problems),
        ok=not problems,
    )
