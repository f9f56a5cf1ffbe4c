"""Seed 002 ("深入理解 keras 中 Dense 层参数"): three one-weight networks, run on fcnet.

The tutorial's code with two changes:

* ``import fcnet as keras`` / ``from fcnet.layers import Dense`` replace the keras imports;
* the ``IPython.display.SVG(model_to_dot(...))`` plotting lines are dropped: ``plot_model`` /
  ``model_to_dot`` are not part of fcnet yet (and need pydot + Graphviz in Keras too).

Each network learns ``label = -input``, so the weights it finds are known in advance:
example 1 ``[[-1]]``, example 2 ``[[0], [-1]]``, example 3 ``[[-1, 0], [0, -1]]``.

Run ``python examples/seed002_dense_parameters.py --samples 20000`` for a quick run
(the tutorial uses 1,000,000 samples: 31,250 steps of batch 32 for example 1).
"""

# ruff: noqa: UP031  (the tutorial's %-formatted print lines are kept as written)

import argparse

import numpy as np

import fcnet as keras
from fcnet.layers import Dense


def example_1(samples):
    """示例一: 最小网络 — one input, one output, one weight."""
    model = keras.models.Sequential()
    model.add(Dense(1, use_bias=False, input_shape=(1,), name='Dense_ly'))  # 仅有的1个权重在这里
    model.compile(loss='mse', optimizer='adam')
    model.summary()  # 简单查看网络结构
    # (the tutorial draws the network here with model_to_dot: not in fcnet yet)

    data_input = np.random.normal(size=samples).reshape(-1, 1)  # 训练数据, (samples, 1)
    data_label = -(data_input)  # 数据标签
    print('模型随机权重分配为:%s\n' % (model.layers[0].get_weights()))  # 检查随机初始化的权重大小
    model.fit(data_input, data_label)  # batch 32, one epoch
    # A 1-D input of one number is one sample: predict returns shape (1, 1).
    print('模型进行预测:%s\n' % (model.predict(np.array([2.5]))))
    print('训练完成后权重分配为:%s\n' % (model.layers[0].get_weights()))
    return model


def example_2(samples):
    """示例二: 多维度数据 — two inputs, one output; the label is minus the second input."""
    model = keras.models.Sequential()
    model.add(Dense(1, use_bias=False, input_shape=(2,), name='Dense_ly'))
    model.compile(loss='mse', optimizer='adam')
    model.summary()

    data_input = np.random.normal(size=samples).reshape(-1, 2)  # (samples/2, 2)
    # Labels of shape (n,) against predictions (n, 1): the loss aligns the ranks
    # (Keras does the same); it does not broadcast them to (n, n).
    data_label = -(data_input[:, 1])
    print('模型随机权重分配为:%s\n' % (model.layers[0].get_weights()))
    model.fit(data_input, data_label)
    print('模型进行预测:%s\n' % (model.predict(np.array([[2.5, 13.5]]))))
    print('训练完成后权重分配为:%s\n' % (model.layers[0].get_weights()))
    return model


def example_3(samples):
    """示例三: 特殊情况 — two inputs, two outputs: the kernel is a 2x2 matrix."""
    model = keras.models.Sequential()
    model.add(Dense(2, use_bias=False, input_shape=(2,), name='Dense_ly'))
    model.compile(loss='mse', optimizer='adam')
    model.summary()

    data_input = np.random.normal(size=samples).reshape(-1, 2)
    data_label = -(data_input)  # each output is minus its own input: kernel -> -identity
    print('模型随机权重分配为:%s\n' % (model.layers[0].get_weights()))
    model.fit(data_input, data_label)
    print('模型进行预测:%s\n' % (model.predict(np.array([[2.5, 13.5]]))))
    print('训练完成后权重分配为:%s\n' % (model.layers[0].get_weights()))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=1_000_000,
                        help='numbers drawn per example (default: 1,000,000, as the tutorial)')
    parser.add_argument('--seed', type=int, default=2, help='random seed')
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # weights, shuffling and np.random data
    models = []
    for example in (example_1, example_2, example_3):
        keras.backend.clear_session()
        models.append(example(args.samples))
    return models


if __name__ == '__main__':
    main()
