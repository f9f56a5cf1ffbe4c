"""``from_sklearn``: a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor`` as an
fcnet ``Sequential`` model that predicts the same.

scikit-learn's MLP computes ``a_{i+1} = f(a_i · coefs_[i] + intercepts_[i])``, its
kernels already laid out ``(fan_in, fan_out)`` as Keras's ``Dense`` keeps them, so each
layer becomes one ``Dense`` with those weights (cast to float32). Hidden activations map
``relu → relu``, ``tanh → tanh``, ``logistic → sigmoid``, ``identity → linear``; the
output activation follows the task, as scikit-learn chooses it: softmax over the classes
(columns in ``classes_`` order), one sigmoid unit for two classes (the probability of
``classes_[1]``), sigmoids for multilabel targets, linear for regression (exponential
for ``MLPRegressor(loss="poisson")``).
"""

from __future__ import annotations

import numpy

_HIDDEN = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}
_OUTPUT = {"softmax": ("softmax", "categorical_crossentropy"),
           "logistic": ("sigmoid", "binary_crossentropy"),
           "identity": ("linear", "mean_squared_error"),
           "exp": ("exponential", "poisson")}  # MLPRegressor(loss="poisson")


def from_sklearn(estimator):
    """An fcnet ``Sequential`` with the layers and weights of a fitted scikit-learn MLP.

    The model is compiled, ready to continue training with ``fit`` or be saved as a
    ``.keras`` file: the loss matches the output (categorical cross-entropy on one-hot
    targets for softmax, binary cross-entropy for sigmoid outputs, mean squared error
    for regression, Poisson for a Poisson regressor), the optimizer the estimator's
    solver (``adam`` → ``Adam`` with its ``learning_rate_init``, ``beta_1``,
    ``beta_2``, ``epsilon``; ``sgd`` → ``SGD`` with its ``momentum`` and
    ``nesterovs_momentum``; ``lbfgs`` → ``Adam`` at ``learning_rate_init``). The L2
    penalty ``alpha`` is not carried over.

    Args:
        estimator: a fitted ``sklearn.neural_network.MLPClassifier`` or
            ``MLPRegressor``.

    Returns:
        A compiled ``fcnet.Sequential``: input ``(batch, n_features_in_)``, output
        ``(batch, n_outputs_)``.

    Example:
        ```python
        mlp = MLPClassifier(hidden_layer_sizes=(32,)).fit(X, y)
        model = fcnet.wrappers.from_sklearn(mlp)
        model.predict(X)  # ≈ mlp.predict_proba(X) (one column for two classes)
        model.save("mlp.keras")
        ```
    """
    from fcnet.layers import Dense, Input
    from fcnet.models import Sequential

    _check(estimator)
    hidden = _HIDDEN[estimator.activation]
    output, loss = _OUTPUT[estimator.out_activation_]
    layers = [Input((int(estimator.n_features_in_),))]
    last = len(estimator.coefs_) - 1
    for i, kernel in enumerate(estimator.coefs_):
        layers.append(Dense(int(kernel.shape[1]), activation=output if i == last else hidden))
    model = Sequential(layers)
    for layer, kernel, bias in zip(model.layers, estimator.coefs_, estimator.intercepts_):
        layer.set_weights([numpy.asarray(kernel, dtype="float32"),
                           numpy.asarray(bias, dtype="float32")])
    model.compile(optimizer=_optimizer(estimator), loss=loss)
    return model


def _check(estimator) -> None:
    try:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:  # without scikit-learn there is no estimator to convert
        raise ImportError("from_sklearn needs scikit-learn: pip install scikit-learn") from None
    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise TypeError("from_sklearn expects a fitted sklearn.neural_network.MLPClassifier "
                        f"or MLPRegressor. Received: {type(estimator).__name__}")
    if not hasattr(estimator, "coefs_"):
        raise ValueError(f"This {type(estimator).__name__} is not fitted yet: call fit "
                         "before from_sklearn. Received: an unfitted estimator")
    if estimator.activation not in _HIDDEN:
        raise ValueError(f"Unknown activation {estimator.activation!r}; expected one of "
                         f"{sorted(_HIDDEN)}. Received: activation={estimator.activation!r}")
    if estimator.out_activation_ not in _OUTPUT:
        raise ValueError(f"Unknown output activation {estimator.out_activation_!r}; "
                         f"expected one of {sorted(_OUTPUT)}.")


def _optimizer(estimator):
    from fcnet import optimizers

    rate = float(estimator.learning_rate_init)
    if estimator.solver == "sgd":
        return optimizers.SGD(learning_rate=rate, momentum=float(estimator.momentum),
                                    nesterov=bool(estimator.nesterovs_momentum))
    if estimator.solver == "adam":
        return optimizers.Adam(learning_rate=rate, beta_1=float(estimator.beta_1),
                                     beta_2=float(estimator.beta_2),
                                     epsilon=float(estimator.epsilon))
    return optimizers.Adam(learning_rate=rate)
