"""Scoring library: explainable models on any DataFrame, lead features, the dual fit x intent scorer, registry,
drift and the reply classifier. No Dagster, no CRM code.

    from ml import BinnedLogisticClassifier
    model = BinnedLogisticClassifier().fit(X, y)   # a scikit-learn classifier with exact per-feature reasons
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.estimator import BinnedLogisticClassifier, Explanation, SchemaError

__all__ = ["BinnedLogisticClassifier", "Explanation", "SchemaError"]

# Imported on first use (PEP 562): `ml.features` alone (the lead-features mart, run in dbt) must not pay for
# scikit-learn, which the estimator needs and the feature code does not.
_LAZY = {name: "ml.estimator" for name in __all__}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ml' has no attribute {name!r}")
