"""Seed 004 ("神经网络-全连接层"): a 2-4-1 sigmoid network learns AND, the fcnet way.

The seed writes its own ``FC`` class (forward, backward, SGD inside backward), a
``SquareLoss`` and a ``Net`` whose ``train`` runs 10,000 full-batch steps on the AND
table. Here the same network is trained twice:

(a) with Keras's API: ``Sequential`` + ``compile`` + ``fit``;
(b) with a loop written by hand over ``layer.forward`` / ``layer.backward``, step for step
    the seed's loop: forward through fc1 and fc2, the loss, backward through fc2 then
    fc1, then an SGD update of every weight.

Both start from the same weights, so (b) must end where (a) ends: fcnet's layers follow
the textbook contract, and ``fit`` is nothing more than this loop.

What fcnet does differently from the seed, on purpose:

* Samples are rows: ``X`` is ``(4, 2)``, the kernel ``(in, out)``, the bias ``(out,)``
  and ``y = sigmoid(X · W + b)``. The seed stores data as columns (``(2, 4)``) with a
  bias of shape ``(out, 1)``.
* The seed's ``backward`` has two bugs fcnet does not copy: ``grad_b = sum(grad_z)``
  sums over the units as well as the samples (every bias of a layer gets the same
  update), and ``grad_x = dot(grad_w, grad_z)`` propagates through the weight
  *gradient* instead of the weights ``w`` (the shapes happen to line up).
* The loss is Keras's ``mse``: ``mean((y - t)²)``, gradient ``2 (y - t) / N``. The
  seed's ``SquareLoss`` prints ``Σ(y - t)² / N / 2`` (half of it) but hands back
  ``y - t`` as the gradient (N/2 = 2 times Keras's), so its lr 0.1 is Keras's lr 0.2.
* Weights start glorot-uniform (Keras's default), not ``randn``.
"""

import argparse

import numpy as np

import fcnet as keras
from fcnet.layers import Dense

# The AND table, one sample per row, and its targets.
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype='float32')
T = np.array([[0], [0], [0], [1]], dtype='float32')


def make_net():
    """The seed's Net(2, 4, 1): two sigmoid Dense layers."""
    return keras.Sequential([
        keras.Input((2,)),
        Dense(4, activation='sigmoid', name='fc1'),
        Dense(1, activation='sigmoid', name='fc2'),
    ])


def square_loss(y, t):
    """Keras's mse and its gradient: L = mean((y - t)²), dL/dy = 2 (y - t) / N."""
    diff = y - t
    return float(np.mean(diff * diff)), 2 * diff / diff.size


def train_with_fit(net, steps, lr):
    """(a) compile + fit: full batch (batch_size=4), plain SGD, one step per epoch."""
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss='mse')
    # shuffle=False keeps the rows in the order of the hand loop (a full batch sums the
    # same terms either way; the order only changes float rounding).
    net.fit(X, T, batch_size=len(X), epochs=steps, verbose=0, shuffle=False)
    y = net.predict(X, verbose=0)
    return y, net.evaluate(X, T, verbose=0)


def train_by_hand(net, steps, lr):
    """(b) the seed's Net.train loop, over fcnet's layer contract."""
    fc1, fc2 = net.layers
    variables = net.trainable_variables  # fc1.kernel, fc1.bias, fc2.kernel, fc2.bias
    for _ in range(steps):
        # forward step: each layer returns its output and what its backward needs
        layer1out, ctx1 = fc1.forward(X, training=True)
        layer2out, ctx2 = fc2.forward(layer1out, training=True)
        loss, layer2loss = square_loss(layer2out, T)
        # backward step: each layer adds dL/dw into v.grad and returns dL/d(its input)
        for v in variables:
            v.zero_grad()
        layer1loss = fc2.backward(ctx2, layer2loss)
        # dL/dX ("saliency" in the seed) is not used
        saliency = fc1.backward(ctx1, layer1loss)  # noqa: F841
        # SGD update, by hand (the seed does it inside backward)
        for v in variables:
            v.assign(v.value - lr * v.grad)
    layer1out, _ = fc1.forward(X)
    layer2out, _ = fc2.forward(layer1out)
    loss, _ = square_loss(layer2out, T)
    return layer2out, loss


def report(y, loss):
    """The seed's four print lines (samples as rows here, as columns there)."""
    print(f'X={X}')
    print(f't={T}')
    print(f'y={y}')
    print(f'loss={loss}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=10_000, help='full-batch SGD steps')
    parser.add_argument('--lr', type=float, default=0.2, help='SGD learning rate')
    parser.add_argument('--seed', type=int, default=4, help='random seed')
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    net_a = make_net()
    initial = net_a.get_weights()
    print('(a) compile + fit')
    y_a, loss_a = train_with_fit(net_a, args.steps, args.lr)
    report(y_a, loss_a)

    net_b = make_net()
    net_b.set_weights(initial)  # the same starting point as (a)
    print('(b) forward/backward by hand')
    y_b, loss_b = train_by_hand(net_b, args.steps, args.lr)
    report(y_b, loss_b)

    gap = max(float(np.max(np.abs(a - b)))
              for a, b in zip(net_a.get_weights(), net_b.get_weights(), strict=True))
    print(f'largest weight difference between (a) and (b): {gap:.2e}')
    return net_a, net_b, initial


if __name__ == '__main__':
    main()
