"""Seed 004 ("神经网络-全连接层"): the seed's two NumPy networks, on fcnet.

The seed has two programs.

1. **A 2-3-1 sigmoid network and its 3-D surface.** ``FC(2, 3)`` and ``FC(3, 1)`` with
   weights set by hand are evaluated over a 100 × 100 grid of ``(x, y)`` in
   ``[-10, 10]²`` and the output drawn as a surface (``draw3D``, view (40, -45),
   colormap ``rainbow``). Here the layers are fcnet ``Dense`` layers holding the seed's
   weights (transposed: fcnet's kernel is ``(in, out)``, the seed's ``w`` is
   ``(out, in)``), run through ``forward`` as the seed runs its ``FC.forward``. The
   picture is drawn twice: by the seed's own ``draw3D`` and by
   ``fcnet.utils.plot_surface``. The seed's ``ax = Axes3D(fig)`` no longer puts the axes
   on the figure in matplotlib >= 3.6 (the picture stays blank); ``draw3D`` below keeps
   the seed's lines and adds ``fig.add_axes(ax)`` when the axes are missing, which is
   what ``fig.add_subplot(projection="3d")`` does in one call.

2. **A 2-4-1 sigmoid network that learns AND.** The seed writes ``FC`` (forward,
   backward, the SGD update inside backward), ``SquareLoss`` and ``Net.train``: 10,000
   full-batch steps. Here the same network is trained twice:

   (a) with Keras's API: ``Sequential`` + ``compile`` + ``fit``;
   (b) with the seed's loop, written over ``layer.forward`` / ``layer.backward``: forward
       through fc1 and fc2, the loss, backward through fc2 then fc1, then one optimizer
       step, ``SGD.apply_gradients`` (``w -= lr * dL/dw``, the seed's
       ``self.w -= self.lr*grad_w``).

   Both start from the same weights, so (b) must end where (a) ends: fcnet's layers
   follow the textbook contract, and ``fit`` is nothing more than this loop.

What fcnet does differently from the seed, on purpose:

* Samples are rows: ``X`` is ``(4, 2)``, the kernel ``(in, out)``, the bias ``(out,)``
  and ``y = sigmoid(X · W + b)``. The seed stores data as columns (``(2, 4)``) with a
  bias of shape ``(out, 1)``; the results are printed in the seed's layout (one sample
  per column).
* The seed's ``backward`` has two bugs fcnet does not copy: ``grad_b = sum(grad_z)``
  sums over the units as well as the samples (every bias of a layer gets the same
  update), and ``grad_x = dot(grad_w, grad_z)`` propagates through the weight
  *gradient* instead of the weights ``w`` (the shapes happen to line up).
* The loss is Keras's ``mse``: ``mean((y - t)²)``, gradient ``2 (y - t) / N``. The
  seed's ``SquareLoss`` prints ``Σ(y - t)² / N / 2`` (half of it) but hands back
  ``y - t`` as the gradient (N/2 = 2 times Keras's), so its lr 0.1 is Keras's lr 0.2.
* Weights start glorot-uniform (Keras's default), not ``randn``.

Run ``python examples/seed004_numpy_fc.py --out-dir plots`` to write the pictures,
``--show`` to open them in a window as the seed's ``plt.show()`` does.
"""

import argparse
import os

import numpy as np

import fcnet as keras
from fcnet.layers import Dense

# ------------------------------------------------------------- 1. the surface program
# The seed's weights: fc.w is (out, in) = (3, 2), fc2.w is (3,) for its one unit.
FC_W = np.array([[0.4, 0.6], [0.3, 0.7], [0.2, 0.8]], dtype='float32')
FC_B = np.array([0.5, 0.5, 0.5], dtype='float32')
FC2_W = np.array([0.3, 0.2, 0.1], dtype='float32')
FC2_B = np.array([0.5], dtype='float32')


def make_surface_layers():
    """The seed's fc = FC(2, 3) and fc2 = FC(3, 1), weights set as the seed sets them."""
    fc = Dense(3, activation='sigmoid', name='fc')
    fc.build((None, 2))
    fc.set_weights([FC_W.T, FC_B])
    fc2 = Dense(1, activation='sigmoid', name='fc2')
    fc2.build((None, 3))
    fc2.set_weights([FC2_W.reshape(3, 1), FC2_B])
    return fc, fc2


def surface_grid():
    """The seed's grid and its network's output on it: X, Y, z2, each (100, 100)."""
    x = np.linspace(-10, 10, 100)
    y = np.linspace(-10, 10, 100)
    X, Y = np.meshgrid(x, y)
    X_f = X.flatten()
    Y_f = Y.flatten()
    data = np.column_stack([X_f, Y_f]).astype('float32')  # zip(X_f, Y_f), as rows
    fc, fc2 = make_surface_layers()
    z1, _ = fc.forward(data)   # the seed: [fc.forward(d) for d in data]
    z2, _ = fc2.forward(z1)    # the seed: [fc2.forward(d) for d in z1]
    z2 = z2.reshape(100, 100)
    return X, Y, z2


def draw3D(X, Y, Z, angle, to_file=None):
    """The seed's draw3D: its lines, plus the one that matplotlib >= 3.6 needs."""
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d import Axes3D

    fig = plt.figure(figsize=(15, 7))
    ax = Axes3D(fig)
    if ax not in fig.axes:  # matplotlib >= 3.6: Axes3D(fig) is not on the figure
        fig.add_axes(ax)
    ax.view_init(angle[0], angle[1])
    ax.plot_surface(X, Y, Z, rstride=1, cstride=1, cmap='rainbow')
    if to_file:
        fig.savefig(to_file)
    return fig


def surface_model():
    """fc and fc2 as one model, for fcnet.utils.plot_surface."""
    fc, fc2 = make_surface_layers()
    return keras.Sequential([keras.Input((2,)), fc, fc2])


# ----------------------------------------------------------------- 2. the AND program
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


def train_by_hand(net, steps, lr, optimizer=None):
    """(b) the seed's Net.train loop, over fcnet's layer contract and an optimizer step.

    ``optimizer`` defaults to ``SGD(learning_rate=lr)``, whose step is the seed's
    ``self.w -= self.lr*grad_w``.
    """
    fc1, fc2 = net.layers
    variables = net.trainable_variables  # fc1.kernel, fc1.bias, fc2.kernel, fc2.bias
    optimizer = optimizer or keras.optimizers.SGD(learning_rate=lr)
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
        # the update (the seed makes it inside backward): one optimizer step
        optimizer.apply_gradients(zip([v.grad for v in variables], variables))
    layer1out, _ = fc1.forward(X)
    layer2out, _ = fc2.forward(layer1out)
    loss, _ = square_loss(layer2out, T)
    return layer2out, loss


def report(y, loss):
    """The seed's four print lines, in its layout (one sample per column)."""
    print(f'X={X.T}')
    print(f't={T.T}')
    print(f'y={np.asarray(y).T}')
    print(f'loss={loss}')


def draw_pictures(net, out_dir, show):
    """Seed 004's surface (both ways) and the trained AND network's surface."""
    try:
        import matplotlib
    except ImportError:
        print('matplotlib is not installed: no pictures (pip install fcnet[plot])')
        return []
    if not show:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    paths = [os.path.join(out_dir, name) if out_dir else None for name in
             ('seed004_draw3D.png', 'seed004_plot_surface.png', 'seed004_and_surface.png')]
    X_grid, Y_grid, z2 = surface_grid()
    draw3D(X_grid, Y_grid, z2, (40, -45), to_file=paths[0])
    # Without to_file the figures belong to pyplot, so plt.show() shows them all.
    figures = [keras.utils.plot_surface(surface_model(), (-10, 10), (-10, 10)),
               keras.utils.plot_surface(net, (-0.5, 1.5), (-0.5, 1.5), resolution=60,
                                        elev=30, azim=-120)]
    for fig, path in zip(figures, paths[1:], strict=True):
        if path:
            fig.savefig(path)
    if show:
        plt.show()
    plt.close('all')
    written = [p for p in paths if p]
    for path in written:
        print(f'wrote {path}')
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=10_000, help='full-batch SGD steps')
    parser.add_argument('--lr', type=float, default=0.2, help='SGD learning rate')
    parser.add_argument('--seed', type=int, default=4, help='random seed')
    parser.add_argument('--out-dir', default=None, help='folder to write the pictures to')
    parser.add_argument('--show', action='store_true', help='show the pictures in a window')
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    net_a = make_net()
    initial = net_a.get_weights()
    print('(a) compile + fit')
    y_a, loss_a = train_with_fit(net_a, args.steps, args.lr)
    report(y_a, loss_a)

    net_b = make_net()
    net_b.set_weights(initial)  # the same starting point as (a)
    print('(b) forward/backward by hand, one optimizer step per batch')
    y_b, loss_b = train_by_hand(net_b, args.steps, args.lr)
    report(y_b, loss_b)

    gap = max(float(np.max(np.abs(a - b)))
              for a, b in zip(net_a.get_weights(), net_b.get_weights(), strict=True))
    print(f'largest weight difference between (a) and (b): {gap:.2e}')
    if args.out_dir or args.show:
        if args.out_dir:
            os.makedirs(args.out_dir, exist_ok=True)
        draw_pictures(net_b, args.out_dir, args.show)
    return net_a, net_b, initial


if __name__ == '__main__':
    main()
