"""``import fcnet as tf``: seed 000's tf.keras lines run with only the import changed."""

import importlib
import re
from pathlib import Path

import numpy as np

import fcnet

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "seed000_fully_connected.py"

# Seed 000's code cells, statement by statement, as the user's document writes them
# (the document runs cells together on one line; here each statement has its own).
SEED_000 = """\
x = tf.random.normal([4, 784])
net = tf.keras.layers.Dense(512)
out = net(x)
print(out.shape)
print((net.kernel.shape, net.bias.shape))
net = tf.keras.layers.Dense(10)
try:
    net.bias
except Exception as e:
    print(e)
print(net.get_weights())
print(net.weights)
net.build(input_shape=(None, 4))
print((net.kernel.shape, net.bias.shape))
net.build(input_shape=(None, 20))
print((net.kernel.shape, net.bias.shape))
net.build(input_shape=(2, 4))
print(net.kernel)
from fcnet import keras
x = tf.random.normal([2, 3])
model = keras.Sequential([
keras.layers.Dense(2, activation='relu'),
keras.layers.Dense(2, activation='relu'),
keras.layers.Dense(2)
])
model.build(input_shape=[None, 3])
model.summary()
for p in model.trainable_variables:
    print(p.name, p.shape)
"""


def test_tf_keras_is_fcnet_itself():
    import fcnet as tf
    from fcnet import keras

    assert tf.keras is tf is keras
    assert tf.keras.layers.Dense is fcnet.layers.Dense
    assert tf.keras.Sequential is fcnet.Sequential
    assert tf.keras.Model is fcnet.Model
    assert tf.keras.optimizers.Adam is fcnet.optimizers.Adam
    assert "keras" in fcnet.__all__


def test_fcnet_keras_submodules_are_the_same_modules():
    # A second copy of a module would give classes two identities (isinstance fails).
    assert importlib.import_module("fcnet.keras") is fcnet
    assert importlib.import_module("fcnet.keras.layers") is fcnet.layers
    from fcnet.keras.layers import Dense
    from fcnet.keras.utils import to_categorical

    assert Dense is fcnet.layers.Dense
    assert to_categorical is fcnet.utils.to_categorical


def test_tf_random_normal_draws_float32_standard_normals():
    import fcnet as tf

    x = tf.random.normal([4, 784])
    assert x.shape == (4, 784) and x.dtype == np.float32
    # 3,136 draws: the sample mean is within 4 standard errors (4 / 56) of 0.
    assert abs(float(x.mean())) < 4 / 56
    assert 0.9 < float(x.std()) < 1.1


def run_seed(capsys):
    code = "import fcnet as tf\n" + SEED_000
    exec(compile(code, "seed000", "exec"), {"__name__": "seed000"})
    return capsys.readouterr().out.splitlines()


def test_seed_000_prints_what_the_seed_shows(capsys):
    lines = run_seed(capsys)
    # The seed shows TensorShape([4, 512]) and (TensorShape([784, 512]), TensorShape([512])).
    assert lines[0] == "(4, 512)"
    assert lines[1] == "((784, 512), (512,))"
    assert lines[2] == "'Dense' object has no attribute 'bias'"
    assert lines[3:5] == ["[]", "[]"]  # get_weights() and weights of an unbuilt layer
    assert lines[5] == "((4, 10), (10,))"
    assert lines[6] == "((20, 10), (10,))"
    # <tf.Variable 'kernel:0' shape=(4, 10) dtype=float32, numpy=array([[...]])>
    assert lines[7].startswith("<fcnet.Variable 'kernel:0' shape=(4, 10) dtype=float32, "
                               "numpy=array([[")
    start = lines.index('Model: "sequential"')
    table = lines[start:start + 14]
    # The seed's counts: 3·2 + 2 = 8, 2·2 + 2 = 6, 2·2 + 2 = 6; total 20.
    rows = [re.split(r"\s{2,}", table[i].strip()) for i in (4, 6, 8)]
    assert [row[-1] for row in rows] == ["8", "6", "6"]
    assert [row[0].endswith("(Dense)") for row in rows] == [True] * 3
    assert table[10:13] == ["Total params: 20", "Trainable params: 20",
                            "Non-trainable params: 0"]
    names = [line.split()[0] for line in lines[start + 14:]]
    shapes = [line.split(" ", 1)[1] for line in lines[start + 14:]]
    layers = [row[0].split()[0] for row in rows]
    assert names == [f"{layer}/{w}:0" for layer in layers for w in ("kernel", "bias")]
    assert shapes == ["(3, 2)", "(2,)", "(2, 2)", "(2,)", "(2, 2)", "(2,)"]


def test_the_example_is_the_seed_with_only_the_import_changed():
    source = [line.split("  #")[0].strip() for line in EXAMPLE.read_text().splitlines()]
    assert "import fcnet as tf" in source
    assert not any(line.startswith(("import tensorflow", "from tensorflow")) for line in source)
    for statement in SEED_000.splitlines():
        assert statement.strip() in source, statement
