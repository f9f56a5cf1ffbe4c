"""A small ResNet on the digits scikit-learn ships, resized to 16×16.

Residual blocks (He et al., 2015) with batch normalisation (Ioffe & Szegedy, 2015):

    h = relu(BN(conv3×3(x)))
    block(h) = relu(h' + BN(conv3×3(relu(BN(conv3×3(h))))))
        h' = h, or conv1×1 with stride 2 (a projection) where the block halves the size
    p = softmax(Dense(GlobalAveragePooling2D(h)))

``BatchNormalization`` normalises with the batch's statistics while training and keeps
moving averages of them (non-trainable weights: the summary counts them apart) for
``evaluate``/``predict``; ``momentum=0.9`` lets the averages catch up within an epoch of
this small dataset (with Keras's default 0.99 they lag behind the weights for the first
few hundred steps, and validation accuracy stays near chance meanwhile, in Keras too).
The skips are ``Add`` layers: where ``h`` fans out, the engine sums the gradients of both
branches. Run: ``python examples/resnet_cnn.py``.
"""

import argparse

import fcnet as keras
from fcnet import layers


def conv_bn(h, filters: int, strides: int = 1, relu: bool = True):
    h = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(h)
    h = layers.BatchNormalization(momentum=0.9)(h)
    return layers.ReLU()(h) if relu else h


def residual_block(h, filters: int, strides: int = 1):
    branch = conv_bn(conv_bn(h, filters, strides), filters, relu=False)
    if strides != 1 or h.shape[-1] != filters:  # a projection matches the shapes
        h = layers.BatchNormalization(momentum=0.9)(
            layers.Conv2D(filters, 1, strides=strides, use_bias=False)(h))
    return layers.ReLU()(layers.Add()([h, branch]))


def build(size: int = 16, classes: int = 10):
    inputs = keras.Input(shape=(size, size, 1), name="image")
    h = conv_bn(inputs, 16)
    h = residual_block(h, 16)
    h = residual_block(h, 32, strides=2)
    h = layers.GlobalAveragePooling2D()(h)
    outputs = layers.Dense(classes, activation="softmax", name="digit")(h)
    return keras.Model(inputs, outputs, name="small_resnet")


def main(argv=None) -> float:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data(image_size=16)
    model = build()
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_split=0.1,
              verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
