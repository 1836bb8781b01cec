"""The joint credit agency: published bank ratings that drive the network's risk controls.

This part owns bank financials (loading and validation), the rating method as versioned
data (``methods/v*.toml``), the scorecard that maps a bank to a grade on a 21-notch
scale plus D with an outlook, a watch flag and a probability of default, the
committee workflow (proposals, votes, decisions) in a signed, hash-chained store of its
own, the risk controls a grade implies (collateral haircuts, intraday credit lines, net
debit caps, suspension of credit), and the HTML rating report. It may import
``interbank.money`` only. The one exception is ``enforce.py``, a thin separate module
that turns control targets into engine commands and may import ``interbank.engine``
command types; nothing else in this folder imports it.
"""

from interbank.rating.controls import (
    CollateralItem,
    CollateralPool,
    ControlTarget,
    controls_for,
    haircut_pct,
)
from interbank.rating.financials import (
    BankFinancials,
    Camels,
    FieldProblem,
    FinancialsError,
    load_financials,
    parse_financials_csv,
    parse_financials_json,
)
from interbank.rating.method import Method, MethodError, load_method, method_versions
from interbank.rating.scale import GRADES, Grade
from interbank.rating.scorecard import Adjustments, FactorResult, NotchStep, Scorecard, score_bank

__all__ = [
    "GRADES",
    "Adjustments",
    "BankFinancials",
    "Camels",
    "CollateralItem",
    "CollateralPool",
    "ControlTarget",
    "FactorResult",
    "FieldProblem",
    "FinancialsError",
    "Grade",
    "Method",
    "MethodError",
    "NotchStep",
    "Scorecard",
    "controls_for",
    "haircut_pct",
    "load_financials",
    "load_method",
    "method_versions",
    "parse_financials_csv",
    "parse_financials_json",
    "score_bank",
]
