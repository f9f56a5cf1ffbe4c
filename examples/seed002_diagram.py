"""Seed 002 ("深入理解 keras 中 Dense 层参数"): the tutorial's network diagrams, on fcnet.

Each of the tutorial's three examples draws its one-layer network with

    from IPython.display import SVG
    from keras.utils.vis_utils import model_to_dot
    display(SVG(model_to_dot(model,show_shapes=True).create(prog='dot', format='svg')))

Here only the imports change (``fcnet`` for ``keras``). In Jupyter the picture appears
inline; run as a script, ``display`` prints the SVG object and the pictures are also
saved as ``seed002_example_<n>.svg`` in ``--out`` (default: the current folder). Graphviz
draws them when its ``dot`` program is installed; without it fcnet's own layout does.
The box shows ``Dense_ly (Dense)`` with ``Input shape: (None, 1)`` and
``Output shape: (None, 1)`` (example 1).

Run: ``python examples/seed002_diagram.py [--out DIR]``.
"""

import argparse
import os

import fcnet as keras
from fcnet.layers import Dense

try:
    from IPython.display import display  # Jupyter provides display() by itself
except ImportError:  # without IPython: print what would be displayed
    display = print


def example(input_dim, units):
    """One of the tutorial's networks, with its diagram line as written."""
    model = keras.models.Sequential()
    model.add(Dense(units, use_bias=False, input_shape=(input_dim,), name='Dense_ly'))
    model.compile(loss='mse', optimizer='adam')
    model.summary()
    try:
        from IPython.display import SVG
    except ImportError:  # without IPython: the bytes themselves
        def SVG(data):  # noqa: N802 (IPython's name)
            return data
    from fcnet.utils.vis_utils import model_to_dot
    display(SVG(model_to_dot(model, show_shapes=True).create(prog='dot', format='svg')))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='.', help='folder for the SVG files')
    args = parser.parse_args(argv)
    paths = []
    for n, (input_dim, units) in enumerate([(1, 1), (2, 1), (2, 2)], start=1):
        keras.backend.clear_session()
        model = example(input_dim, units)
        from fcnet.utils.vis_utils import model_to_dot
        path = os.path.join(args.out, f'seed002_example_{n}.svg')
        model_to_dot(model, show_shapes=True).write(path, format='svg')
        print(f'diagram saved to {path}')
        paths.append(path)
    return paths


if __name__ == '__main__':
    main()
