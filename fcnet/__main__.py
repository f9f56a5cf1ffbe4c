"""The command line: ``fcnet demo`` and ``fcnet predict`` (also ``python -m fcnet ...``).

``fcnet demo`` trains a multi-layer perceptron on the handwritten digits that
scikit-learn ships, printing the model summary, the progress of every epoch and
the test accuracy, then writes the training history as CSV, its curves (PNG) and
the model diagram (SVG) beside it, and the trained model as a ``.keras`` file (which
Keras 3 loads too). It exits 0 whenever it ran (``--min-accuracy`` turns a low
accuracy into exit status 1). ``fcnet predict MODEL DATA`` loads a
saved model and prints its predictions for the samples in a ``.npy``/``.npz``/``.csv``
file.
"""

from __future__ import annotations

import argparse
import sys


def demo(epochs: int, batch_size: int, hidden: list[int], seed: int, history_path: str,
         model_path: str, pictures: bool = True) -> float:
    import fcnet as keras

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    print(f"Digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels")
    model = keras.Sequential([keras.Input(shape=(x_train.shape[1],))]
                             + [keras.layers.Dense(units, activation="relu") for units in hidden]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                        validation_split=0.1,
                        callbacks=[keras.callbacks.CSVLogger(history_path)])
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {loss:.4f} - test accuracy: {accuracy:.4f}")
    print(f"Training history written to {history_path}")
    model.save(model_path)
    print(f"Trained model saved to {model_path} (try: fcnet predict {model_path} DATA.npy)")
    if pictures:
        _draw(keras, model, history, history_path)
    return accuracy


def _draw(keras, model, history, history_path: str) -> None:
    """The training curves and the model diagram, next to the history file."""
    import os

    stem = os.path.splitext(history_path)[0]
    curves, diagram = f"{stem}-curves.png", f"{stem}-model.svg"
    keras.utils.plot_model(model, to_file=diagram, show_shapes=True, show_layer_names=True,
                           show_layer_activations=True)
    print(f"Model diagram drawn to {diagram}")
    try:
        keras.utils.plot_history(history, to_file=curves)
    except ImportError as error:  # matplotlib is in the demo extra; a bare install lacks it
        print(f"Training curves not drawn: {error}")
        return
    print(f"Training curves drawn to {curves}")


def _read_samples(path: str):
    import numpy

    if path.endswith(".npy"):
        return numpy.load(path, allow_pickle=False)
    if path.endswith(".npz"):
        with numpy.load(path, allow_pickle=False) as arrays:
            names = list(arrays.files)
            return arrays[names[0]] if len(names) == 1 else [arrays[n] for n in names]
    if path.endswith(".csv"):
        return numpy.loadtxt(path, delimiter=",", dtype="float32", ndmin=2)
    raise ValueError(f"DATA must be a .npy, .npz or .csv file. Received: {path}")


def predict(model_path: str, data_path: str, batch_size: int, classes: bool) -> None:
    import numpy

    import fcnet

    model = fcnet.models.load_model(model_path, compile=False)
    x = _read_samples(data_path)
    y = model.predict(x, batch_size=batch_size, verbose=0)
    outputs = y if isinstance(y, list) else [y]
    for output in outputs:
        if classes and output.ndim == 2 and output.shape[1] > 1:
            output = output.argmax(axis=1)
        numpy.savetxt(sys.stdout, output.reshape(len(output), -1),
                      fmt="%d" if output.dtype.kind in "iu" else "%.6g", delimiter=",")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fcnet", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="train an MLP on the digits dataset and save it")
    run.add_argument("--epochs", type=int, default=30)
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument("--hidden", type=int, nargs="+", default=[128, 64],
                     help="hidden layer sizes (default: 128 64)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--history", default="fcnet-demo-history.csv",
                     help="where to write the per-epoch history (CSV)")
    run.add_argument("--save", default="fcnet-demo.keras",
                     help="where to save the trained model (.keras)")
    run.add_argument("--no-pictures", action="store_true",
                     help="skip the training curves and the model diagram")
    run.add_argument("--min-accuracy", type=float, default=None,
                     help="exit with status 1 when the test accuracy ends below this")
    use = commands.add_parser("predict", help="print a saved model's predictions")
    use.add_argument("model", help="a .keras (or legacy .h5) model file")
    use.add_argument("data", help="the samples: .npy, .npz (one array per input) or .csv")
    use.add_argument("--batch-size", type=int, default=32)
    use.add_argument("--classes", action="store_true",
                     help="print the most likely class instead of the probabilities")
    args = parser.parse_args(argv)
    if args.command == "predict":
        try:
            predict(args.model, args.data, args.batch_size, args.classes)
        except (OSError, ValueError) as error:
            print(f"fcnet predict: {error}", file=sys.stderr)
            return 2
        return 0
    accuracy = demo(args.epochs, args.batch_size, args.hidden, args.seed, args.history,
                    args.save, pictures=not args.no_pictures)
    if args.min_accuracy is not None and accuracy < args.min_accuracy:
        print(f"Test accuracy {accuracy:.4f} is below --min-accuracy {args.min_accuracy}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
