"""The rating scale: 21 notches from AAA to C, then D (default).

A grade is held as its notch number: 1 is AAA, 21 is C, 22 is D, so "better" is
"smaller" and notching is integer arithmetic. The letters are only for people.
"""

from __future__ import annotations

from dataclasses import dataclass

GRADES: tuple[str, ...] = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-",
    "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-",
    "B+", "B", "B-", "CCC+", "CCC", "CCC-", "CC", "C",
    "D",
)  # fmt: skip
NOTCH_BEST = 1
NOTCH_WORST_PERFORMING = 21  # C: the weakest grade a scorecard can give
NOTCH_DEFAULT = 22  # D: only an observed default gives it, never a score
_NOTCH_OF = {letters: number for number, letters in enumerate(GRADES, start=1)}


class GradeError(ValueError):
    """Text that is not a grade of the scale."""


@dataclass(frozen=True, slots=True, order=True)
class Grade:
    """One grade. Ordered by notch, so ``min`` is the better grade."""

    notch: int

    def __post_init__(self) -> None:
        assert NOTCH_BEST <= self.notch <= NOTCH_DEFAULT, self.notch

    @staticmethod
    def of(letters: str) -> Grade:
        # Accept the typographic minus people paste from published tables.
        number = _NOTCH_OF.get(letters.strip().replace("\u2212", "-").upper())
        if number is None:
            raise GradeError(f"{letters!r} is not a grade (AAA, AA+, ..., C, D)")
        return Grade(number)

    @property
    def letters(self) -> str:
        return GRADES[self.notch - 1]

    @property
    def is_default(self) -> bool:
        return self.notch == NOTCH_DEFAULT

    def moved(self, notches_up: int) -> Grade:
        """``notches_up`` > 0 is an upgrade; the result stays within AAA..C (never D)."""
        return Grade(min(NOTCH_WORST_PERFORMING, max(NOTCH_BEST, self.notch - notches_up)))

    def __str__(self) -> str:
        return self.letters


def category_of(grade: Grade) -> str:
    """The letter category a default study reports (AA for AA+/AA/AA-, CCC/C below B-)."""
    if grade.is_default:
        return "D"
    if grade.notch >= Grade.of("CCC+").notch:
        return "CCC/C"
    return grade.letters.rstrip("+-")
