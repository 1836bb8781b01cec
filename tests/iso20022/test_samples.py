"""The public samples: every file the index calls VALID passes validation with the
schemas configured; every INVALID or NOT WELL-FORMED one fails with a reason code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interbank.iso20022 import IsoSettings, Validator


def test_every_sample_gets_its_index_verdict(
    shared: Path, schemas_dir: Path, sample_index: list[dict[str, Any]]
) -> None:
    validator = Validator(IsoSettings(schemas_dir=schemas_dir))
    wrong = []
    for entry in sample_index:
        verdict = validator.check((shared / entry["file"]).read_bytes())
        expected_valid = entry["xsd_verdict"] == "VALID"
        if verdict.valid != expected_valid:
            wrong.append((entry["file"], entry["xsd_verdict"], verdict.rejections))
        if not verdict.valid:
            assert all(len(r.code) == 4 and r.text for r in verdict.rejections), entry["file"]
    assert not wrong
    assert len(sample_index) >= 100


def test_samples_without_schemas_never_raise(
    shared: Path, sample_index: list[dict[str, Any]]
) -> None:
    validator = Validator(IsoSettings())
    for entry in sample_index:
        verdict = validator.check((shared / entry["file"]).read_bytes(), usage_rules=True)
        assert verdict.valid or verdict.rejections or verdict.transaction_rejections
