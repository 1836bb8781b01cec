"""No float in fx/: rates and money are Decimal built from strings and integers only.

The same rule as money.py's, checked on the syntax tree so a comment or a docstring
that says "float" does not count: no float literal, no call of float(), no
``parse_float`` other than to refuse or to read Decimal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCES = sorted((Path(__file__).resolve().parents[2] / "src" / "interbank" / "fx").glob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_float_literal_or_call(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
            f"{path.name}:{node.lineno}: a float literal"
        )
        if isinstance(node, ast.Name):
            assert node.id != "float", f"{path.name}:{node.lineno}: the name float"


def test_the_sources_were_found() -> None:
    assert {p.name for p in SOURCES} >= {"reference.py", "price.py", "quotes.py", "book.py"}
