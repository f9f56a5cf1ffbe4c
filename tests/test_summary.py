"""summary(): the classic 65-column table (spec §3.3), built or not."""

import fcnet as keras
from fcnet.layers import Dense


def lines_of(model, **kwargs):
    out = []
    model.summary(print_fn=out.append, **kwargs)
    return out


SEED_000 = """\
Model: "sequential_3"
_________________________________________________________________
Layer (type)                 Output Shape              Param #   
=================================================================
dense_13 (Dense)             (None, 2)                 8         
_________________________________________________________________
dense_14 (Dense)             (None, 2)                 6         
_________________________________________________________________
dense_15 (Dense)             (None, 2)                 6         
=================================================================
Total params: 20
Trainable params: 20
Non-trainable params: 0
_________________________________________________________________"""


def test_seed_000_table_with_the_notebook_names():
    for _ in range(13):
        Dense(1)
    for _ in range(3):
        keras.Sequential()
    model = keras.Sequential([Dense(2, activation="relu"), Dense(2, activation="relu"),
                              Dense(2)])
    model.build(input_shape=[None, 3])
    lines = lines_of(model)
    assert lines == SEED_000.split("\n")
    assert all(len(line) == 65 for line in lines[1:10])


def test_unbuilt_model_prints_question_marks():
    model = keras.Sequential([Dense(2), Dense(3)])
    lines = lines_of(model)
    assert lines[4] == "dense (Dense)                ?                         0 (unused)"
    assert "Total params: 0" in lines


def test_thousands_separators_and_long_cells_are_cut():
    model = keras.Sequential([Dense(25600, use_bias=False, input_shape=(100,),
                                    name="a_very_long_layer_name_indeed")])
    lines = lines_of(model)
    assert lines[4] == "a_very_long_layer_name_indee (None, 25600)             2560000   "
    assert "Total params: 2,560,000" in lines


def test_line_length_and_print_fn():
    model = keras.Sequential([Dense(2, input_shape=(3,))])
    lines = lines_of(model, line_length=80)
    assert lines[1] == "_" * 80 and len(lines[4]) == 80
