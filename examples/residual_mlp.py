"""A residual MLP on the digits scikit-learn ships: Dense blocks with ``Add`` skips.

    h = relu(x W_in + b)
    h = h + Dropout(Dense(relu(Dense(h))))        two residual blocks
    p = softmax(h W_out + b)

The skips are ``keras.layers.Add``: its backward passes dL/dh to both branches, and the
engine sums the two gradients where ``h`` fans out. Run: ``python examples/residual_mlp.py``.
"""

import fcnet as keras
from fcnet import layers


def residual_block(h, units: int, rate: float):
    branch = layers.Dense(units, activation="relu")(h)
    branch = layers.Dropout(rate)(layers.Dense(units)(branch))
    return layers.Add()([h, branch])


def build(features: int, classes: int, units: int = 64, blocks: int = 2, rate: float = 0.1):
    inputs = keras.Input(shape=(features,), name="pixels")
    h = layers.Dense(units, activation="relu")(inputs)
    for _ in range(blocks):
        h = residual_block(h, units, rate)
    outputs = layers.Dense(classes, activation="softmax", name="digit")(h)
    return keras.Model(inputs, outputs, name="residual_mlp")


def main(epochs: int = 15) -> float:
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()  # 8x8 in [0, 1]
    model = build(x_train.shape[1], 10)
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
