"""Scoring library: explainable models on any DataFrame, lead features, the dual fit x intent scorer, registry,
drift and the reply classifier. No Dagster, no CRM code.

    from ml import BinnedLogisticClassifier
    model = BinnedLogisticClassifier().fit(X, y)   # a scikit-learn classifier with exact per-feature reasons
"""

from ml.estimator import BinnedLogisticClassifier, Explanation, SchemaError

__all__ = ["BinnedLogisticClassifier", "Explanation", "SchemaError"]
