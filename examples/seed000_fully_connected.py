"""Seed 000 ("全连接层", a tf.keras 2 notebook on the fully connected layer), run on fcnet.

Only the imports changed: ``import fcnet as tf`` for ``import tensorflow as tf`` and
``from fcnet import keras`` for ``from tensorflow import keras``; every other line is the
seed's. The notebook shows the value of a cell's last expression; a script prints it.
Shapes print as tuples (``(4, 512)``) where TensorFlow prints ``TensorShape([4, 512])``,
and a variable as ``<fcnet.Variable ...>`` where TensorFlow prints ``<tf.Variable ...>``.
The summary's names count from ``sequential`` / ``dense_2`` because this script starts a
fresh session (the notebook had made other models before).
"""

import fcnet as tf

# Fully connected layer: a Dense layer builds its weights on the first call.
x = tf.random.normal([4, 784])
net = tf.keras.layers.Dense(512)
out = net(x)
print(out.shape)
print((net.kernel.shape, net.bias.shape))

# Before a build there are no weights at all.
net = tf.keras.layers.Dense(10)
try:
    net.bias
except Exception as e:
    print(e)
print(net.get_weights())
print(net.weights)

# build() may be called again with another input width: the weights are made anew.
net.build(input_shape=(None, 4))
print((net.kernel.shape, net.bias.shape))
net.build(input_shape=(None, 20))
print((net.kernel.shape, net.bias.shape))
net.build(input_shape=(2, 4))
print(net.kernel)

# Multi-Layers: keras.Sequential([layer1, layer2, layer3])
from fcnet import keras  # noqa: E402  (the seed imports it here, mid-notebook)

x = tf.random.normal([2, 3])
model = keras.Sequential([
    keras.layers.Dense(2, activation='relu'),
    keras.layers.Dense(2, activation='relu'),
    keras.layers.Dense(2)
])
model.build(input_shape=[None, 3])
model.summary()
# [w1,b1,w2,b2,w3,b3]
for p in model.trainable_variables:
    print(p.name, p.shape)
