"""Seed 001 ("What exactly does tf.keras.layers.Dense do?"), run on fcnet.

Dense computes ``output = activation(dot(input, kernel) + bias)``: one
``(N, 100) · (100, 25600)`` product for a batch of N, the same weights for every
sample. A rank > 2 input is not flattened: the kernel acts on the last axis.
"""

import numpy as np

import fcnet as keras
from fcnet import layers
from fcnet.layers import Dense
from fcnet.models import Sequential

# The question's model.
model = keras.Sequential()
model.add(layers.Dense(10 * 10 * 256, use_bias=False, input_shape=(100,)))
model.summary()
print(model.layers[0].kernel.shape, model.count_params())

# The answer's example: as first layer in a sequential model ...
model = Sequential()
model.add(Dense(32, input_shape=(16,)))
# now the model will take as input arrays of shape (*, 16)
# and output arrays of shape (*, 32)

# after the first layer, you don't need to specify
# the size of the input anymore:
model.add(Dense(32))
model.summary()

# N samples in, N rows out: one matrix product, not N networks.
x = np.random.rand(5, 16).astype("float32")
print(model(x).shape)

# Input shape (batch_size, ..., input_dim) -> output shape (batch_size, ..., units).
print(Dense(5)(np.ones((2, 3, 4), "float32")).shape)
