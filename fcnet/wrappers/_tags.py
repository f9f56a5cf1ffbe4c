"""How the estimators describe themselves to scikit-learn, and the checks of
``sklearn.utils.estimator_checks`` they are known to fail, each with its reason.

scikit-learn 1.6+ reads ``__sklearn_tags__`` and takes expected failures as the
``expected_failed_checks`` argument of ``parametrize_with_checks`` /
``check_estimator`` (pass ``expected_failed_checks(estimator)``); older releases read
``_more_tags``, whose ``_xfail_checks`` holds the same table.
"""

from __future__ import annotations

_FLOAT32 = ("fcnet computes in float32 (its floatx); predictions are float32, and "
            "scikit-learn expects float64 here")
_STOCHASTIC = ("training is stochastic (random initial weights, shuffled mini-batches) "
               "and a few epochs of a small network do not reach this check's exact "
               "expectations")

_COMMON = {}
_REGRESSOR = {"check_regressor_multioutput": _FLOAT32}
_CLASSIFIER = {}


def expected_failed_checks(estimator) -> dict:
    """``{check name: reason}`` for the checks ``estimator`` is known to fail."""
    from fcnet.wrappers.sklearn_wrapper import SKLearnClassifier, SKLearnRegressor

    table = dict(_COMMON)
    if isinstance(estimator, SKLearnRegressor):
        table.update(_REGRESSOR)
    if isinstance(estimator, SKLearnClassifier):
        table.update(_CLASSIFIER)
    return table


def sklearn_tags(estimator, tags):
    """scikit-learn >= 1.6 tags: training is not deterministic, scores of a few-epoch
    network may be poor, targets may have several columns, inputs are float32."""
    tags.non_deterministic = True
    if tags.classifier_tags is not None:
        tags.classifier_tags.poor_score = True
        tags.classifier_tags.multi_class = True
    if tags.regressor_tags is not None:
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True
    if tags.transformer_tags is not None:
        tags.transformer_tags.preserves_dtype = ["float32"]
    tags.target_tags.required = True
    return tags


def legacy_tags(estimator) -> dict:
    """scikit-learn < 1.6 ``_more_tags``."""
    from fcnet.wrappers.sklearn_wrapper import SKLearnRegressor, SKLearnTransformer

    tags = {"non_deterministic": True, "poor_score": True, "requires_y": True,
            "_xfail_checks": expected_failed_checks(estimator)}
    if isinstance(estimator, SKLearnRegressor):
        tags["multioutput"] = True
    if isinstance(estimator, SKLearnTransformer):
        tags["preserves_dtype"] = ["float32"]
    return tags
