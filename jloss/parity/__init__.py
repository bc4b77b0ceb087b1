"""jloss.parity: the cross-framework parity harness (torch is imported only when a comparison runs)."""

from ._harness import TOLERANCES as TOLERANCES
from ._harness import Case as Case
from ._harness import CaseResult as CaseResult
from ._harness import Pair as Pair
from ._harness import Report as Report
from ._harness import compare as compare
from ._harness import rel_error as rel_error
from ._harness import run_case as run_case
from ._registry import Component as Component
from ._registry import components as components
from ._registry import get as get
from ._registry import register as register
from ._report import run_all as run_all
from ._report import table as table
from ._show import show as show
from ._show import to_torch as to_torch

__all__ = [
    "TOLERANCES", "Case", "CaseResult", "Component", "Pair", "Report", "compare", "components",
    "get", "register", "rel_error", "run_all", "run_case", "show", "table", "to_torch",
]
