"""scikit-learn estimators around fcnet models, with Keras 3's names and arguments:
``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer``.

``model`` is a callable ``model(X=X, y=y, **model_kwargs)`` that builds and compiles a
model for the data it is handed (or a compiled model, rebuilt with fresh weights at
each fit unless ``warm_start``). Inputs become float32 (fcnet's ``floatx``); a
classifier hands its builder one-hot float32 targets ``(n, n_classes)`` and gives back
the labels it was fitted on. ``model__<name>`` and ``fit__<name>`` parameters reach
``model_kwargs`` and ``fit_kwargs``, so ``GridSearchCV`` searches the model's own
arguments. A fitted estimator pickles through its model's ``.keras`` bytes.
"""

from __future__ import annotations

import numpy

from fcnet.wrappers import _persist, _tags
from fcnet.wrappers._targets import ClassEncoder, fit_target, probabilities

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
except ImportError:  # scikit-learn is an optional extra: the classes exist, fit explains
    BaseEstimator = ClassifierMixin = RegressorMixin = TransformerMixin = object

_ROUTES = {"model__": "model_kwargs", "fit__": "fit_kwargs"}


def _require_sklearn(name: str) -> None:
    if BaseEstimator is object:
        raise ImportError(f"{name} needs scikit-learn: pip install scikit-learn "
                          "(or pip install 'fcnet[demo]').")


def _validate(estimator, X, y=None, reset: bool = True, **kwargs):
    """scikit-learn's input validation (feature counts and names, finite values);
    X comes back as float32."""
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        def validate_data(est, *args, **kw):
            return est._validate_data(*args, **kw)
    kwargs.setdefault("dtype", [numpy.float32, numpy.float64])
    if y is None:
        X = validate_data(estimator, X, reset=reset, **kwargs)
        return X.astype("float32", copy=False)
    X, y = validate_data(estimator, X, y, reset=reset, multi_output=True, **kwargs)
    return X.astype("float32", copy=False), y


class SKLBase(BaseEstimator):
    """What the three estimators share: building, fitting, routing and pickling.

    Args:
        model: a callable ``model(X=X, y=y, **model_kwargs)`` returning a compiled
            fcnet model, or a compiled model (rebuilt from its config with fresh weights
            and the same compile arguments at each fit, unless ``warm_start``).
        warm_start: when True, a second ``fit`` continues training the fitted model
            (and a model given as ``model`` is trained in place).
        model_kwargs: keyword arguments for ``model`` when it is a callable.
        fit_kwargs: keyword arguments for ``model.fit`` (``epochs``, ``batch_size``,
            ``verbose`` …); those passed to ``fit`` itself take precedence.

    Attributes:
        model_: the fitted model.
        history_: ``model.fit``'s history (a dict of lists by metric name).
        n_features_in_, feature_names_in_: as scikit-learn sets them.
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        _require_sklearn(type(self).__name__)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    # ------------------------------------------------------------ parameters
    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        if deep:
            for prefix, attr in _ROUTES.items():
                routed = getattr(self, attr)
                if isinstance(routed, dict):
                    params.update({prefix + k: v for k, v in routed.items()})
        return params

    def set_params(self, **params):
        """Sets parameters; ``model__<name>`` and ``fit__<name>`` set one entry of
        ``model_kwargs`` or ``fit_kwargs`` (new dicts: the old ones are not changed)."""
        for prefix, attr in _ROUTES.items():
            routed = {k[len(prefix):]: params.pop(k) for k in list(params)
                      if k.startswith(prefix)}
            if routed:
                current = getattr(self, attr)
                setattr(self, attr, {**(current if isinstance(current, dict) else {}),
                                     **routed})
        return super().set_params(**params) if params else self

    def __sklearn_tags__(self):
        return _tags.sklearn_tags(self, super().__sklearn_tags__())

    def _more_tags(self):  # scikit-learn < 1.6
        return _tags.legacy_tags(self)

    @property
    def epoch_(self) -> int:
        """The number of epochs trained so far."""
        return len(next(iter(getattr(self, "history_", {}).values()), []))

    # ------------------------------------------------------------ fitting
    def _get_model(self, X, y):
        from fcnet.layers import Layer

        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Layer):
            return self.model if self.warm_start else _persist.fresh_copy(self.model)
        if not callable(self.model):
            raise TypeError("`model` must be a compiled fcnet model or a callable that "
                            f"builds one. Received: model={self.model!r}")
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X, y, **kwargs):
        """Builds (or reuses) the model and trains it on ``X`` (n_samples, n_features)
        and ``y``; ``kwargs`` go to ``model.fit`` over ``fit_kwargs``. Returns self."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None. Received: y=None")
        X, y = _validate(self, X, y, reset=True, **self._y_checks())
        target = self._process_target(y, reset=True)
        model = self._get_model(X, target)
        _check_model(model)
        target = self._fit_target(model, target)
        history = model.fit(X, target, **{**(self.fit_kwargs or {}), **kwargs})
        previous = getattr(self, "history_", {}) if model is getattr(self, "model_", None) \
            else {}
        self.history_ = {k: list(previous.get(k, [])) + list(v)
                         for k, v in history.history.items()}
        self.model_ = model
        return self

    def _y_checks(self) -> dict:
        return {}

    def _fit_target(self, model, target):
        return target

    def _raw_predict(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = _validate(self, X, reset=False)
        return numpy.asarray(self.model_.predict(X, verbose=0))

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        return _persist.encode_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_persist.decode_state(state))


def _check_model(model) -> None:
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None \
            or getattr(model, "optimizer", None) is None:
        raise RuntimeError("Given model needs to be compiled, and have a loss and an "
                           f"optimizer. Received: {type(model).__name__} "
                           f"compiled={getattr(model, 'compiled', False)}")


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A scikit-learn classifier around an fcnet model.

    The builder receives ``y`` one-hot (float32, one column per class, in the order of
    ``classes_``); its model ends in a softmax over the classes (or one sigmoid unit for
    two classes, then trained on the positive column). Labels may be strings, integers
    or one-hot rows; ``predict`` returns them in the same form.

    Args:
        model, warm_start, model_kwargs, fit_kwargs: see ``SKLBase``.

    Attributes:
        classes_: the sorted labels, ``(n_classes,)``.
        model_, history_, n_features_in_, feature_names_in_: see ``SKLBase``.

    Example:
        ```python
        def build(X, y, hidden=32, learning_rate=1e-2):
            model = fcnet.Sequential([
                fcnet.Input((X.shape[1],)),
                fcnet.layers.Dense(hidden, activation="relu"),
                fcnet.layers.Dense(y.shape[1], activation="softmax")])
            model.compile(fcnet.optimizers.Adam(learning_rate), "categorical_crossentropy")
            return model

        clf = SKLearnClassifier(build, fit_kwargs={"epochs": 20, "verbose": 0})
        GridSearchCV(clf, {"model__hidden": [16, 64]}).fit(X, y)
        ```
    """

    def __sklearn_tags__(self):  # here, after the mixin has added its own tags
        return _tags.sklearn_tags(self, super().__sklearn_tags__())

    def _process_target(self, y, reset=False):
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError("Only binary, multiclass and one-hot targets are supported. "
                             f"Received: target type {kind}")
        if kind != "multilabel-indicator":
            from sklearn.utils.validation import column_or_1d

            y = column_or_1d(y, warn=True)
        if reset:
            self._encoder = ClassEncoder().fit(y, kind)
            self.classes_ = self._encoder.classes_
        return self._encoder.encode(y, kind)

    def _fit_target(self, model, target):
        return fit_target(model, target)

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        return probabilities(self._raw_predict(X), len(self.classes_))

    def predict_log_proba(self, X):
        """``log(predict_proba(X))`` (probabilities clipped at float32's tiny)."""
        proba = self.predict_proba(X)
        return numpy.log(numpy.maximum(proba, numpy.finfo(proba.dtype).tiny))

    def decision_function(self, X):
        """scikit-learn's decision values: for two classes the log-odds of the second
        ``log p1 − log p0`` ``(n_samples,)``; otherwise the log-probabilities."""
        log_proba = self.predict_log_proba(X)
        return log_proba[:, 1] - log_proba[:, 0] if len(self.classes_) == 2 else log_proba

    def predict(self, X):
        """The most probable label of each sample, in the form ``y`` had in ``fit``."""
        index = numpy.argmax(self.predict_proba(X), axis=1)
        return self._encoder.decode(index)


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A scikit-learn regressor around an fcnet model.

    The builder receives ``y`` as float32 ``(n, n_targets)`` (one column for a 1-D
    target); ``predict`` returns ``(n,)`` for a 1-D target and ``(n, n_targets)``
    otherwise, in float32.

    Args:
        model, warm_start, model_kwargs, fit_kwargs: see ``SKLBase``.
    """

    def __sklearn_tags__(self):  # here, after the mixin has added its own tags
        return _tags.sklearn_tags(self, super().__sklearn_tags__())

    def _y_checks(self) -> dict:
        return {"y_numeric": True}

    def _process_target(self, y, reset=False):
        y = numpy.asarray(y)
        if reset:
            self._y_ndim = y.ndim
        return (y.reshape(-1, 1) if y.ndim == 1 else y).astype("float32")

    def predict(self, X):
        """Predictions ``(n_samples,)`` or ``(n_samples, n_targets)``."""
        out = self._raw_predict(X)
        return out.reshape(len(out)) if self._y_ndim == 1 and out.ndim == 2 \
            and out.shape[1] == 1 else out


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A scikit-learn transformer whose ``transform`` is the fitted model's ``predict``
    (an embedding, an encoder's code …). ``fit`` trains the model on ``X`` and ``y``
    (float32 columns: a 1-D ``y`` becomes ``(n, 1)``).

    Args:
        model, warm_start, model_kwargs, fit_kwargs: see ``SKLBase``.
    """

    def __sklearn_tags__(self):  # here, after the mixin has added its own tags
        return _tags.sklearn_tags(self, super().__sklearn_tags__())

    def _process_target(self, y, reset=False):
        y = numpy.asarray(y, dtype="float32")
        return y.reshape(-1, 1) if y.ndim == 1 else y  # columns, as Keras hands them

    def transform(self, X):
        """``model_.predict(X)``: ``(n_samples, n_outputs)`` float32."""
        return self._raw_predict(X)
