"""Seed 000 ("全连接层", a tf.keras 2 notebook on the fully connected layer), run on fcnet.

Only the imports changed: ``import fcnet as keras`` for ``tf.keras`` and
``keras.random.normal`` for ``tf.random.normal``. Shapes print as tuples.
"""

import fcnet as keras

# A Dense layer builds its weights on the first call.
x = keras.random.normal([4, 784])
net = keras.layers.Dense(512)
out = net(x)
print(out.shape)
print((net.kernel.shape, net.bias.shape))

# Before a build there are no weights at all.
net = keras.layers.Dense(10)
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

# Multi-layers: keras.Sequential([layer1, layer2, layer3])
x = keras.random.normal([2, 3])
model = keras.Sequential([
    keras.layers.Dense(2, activation="relu"),
    keras.layers.Dense(2, activation="relu"),
    keras.layers.Dense(2),
])
model.build(input_shape=[None, 3])
model.summary()
# [w1,b1,w2,b2,w3,b3]
for p in model.trainable_variables:
    print(p.name, p.shape)
