"""Model diagrams: ``fcnet.utils.model_to_dot`` / ``plot_model``, with and without Graphviz.

The DOT text is checked against the model (one node per layer named by its label, one
edge per connection of the graph, shapes worked out by hand); the built-in SVG is
parsed as XML and its geometry checked (every arrow runs from an earlier box to a
later one, no two boxes overlap); PNGs are decoded and checked for size and colours.
"""

import io
import re
import runpy
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from seed_models import seed003_cnn as cnn

import fcnet as keras
from fcnet import layers
from fcnet.utils import vis_utils

SVG_NS = "{http://www.w3.org/2000/svg}"
NODE = re.compile(r'^(\S+) \[label=<(<table.*</table>)>, (.*)\];$', re.M)
EDGE = re.compile(r'^(\S+) -> (\S+) \[penwidth=2\];$', re.M)
CNN_SHAPES = [(None, 28, 28, 1), (None, 26, 26, 32), (None, 13, 13, 32), (None, 11, 11, 64),
              (None, 5, 5, 64), (None, 3, 3, 64), (None, 576), (None, 64), (None, 10)]


@pytest.fixture
def no_graphviz(monkeypatch, tmp_path):
    """A PATH on which Graphviz's programs cannot be found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("dot") is None


def mlp():
    model = keras.Sequential([layers.Dense(32, activation="relu", input_shape=(784,),
                                           name="hidden"),
                              layers.Dense(10, activation="softmax", name="probs")])
    return model


def two_inputs():
    """Inputs a (8) and b (4); a goes through a nested Sequential, b through hb."""
    a, b = keras.Input((8,), name="a"), keras.Input((4,), name="b")
    inner = keras.Sequential([layers.Dense(16, activation="relu", name="in1"),
                              layers.Dense(8, name="in2")], name="inner")
    joined = layers.Concatenate(name="cat")([inner(a), layers.Dense(8, activation="tanh",
                                                                    name="hb")(b)])
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid", name="out")(joined))


def parse_dot(text):
    """``{id: (name, class, label)}`` and the edges as ``(source name, destination name)``."""
    nodes = {}
    for node_id, label, _ in NODE.findall(text):
        head = re.search(r'color="white">(?:<b>(.*?)</b> \((\w+)\)|<b>(\w+)</b>)</font>', label)
        nodes[node_id] = (head.group(1) or head.group(3), head.group(2) or head.group(3), label)
    edges = [(nodes[s][0], nodes[d][0]) for s, d in EDGE.findall(text)]
    return nodes, edges


def shape_cells(label):
    return re.findall(r"(Input|Output) shape: <b>(.*?)</b>", label)


# ---------------------------------------------------------------------------- DOT text
def test_dot_of_a_sequential_mlp_names_every_layer_and_chains_them():
    model = mlp()
    text = keras.utils.model_to_dot(model, show_shapes=True,
                                    show_layer_activations=True).to_string()
    assert text.startswith("digraph G {") and text.rstrip().endswith("}")
    for attr in ("rankdir=TB;", "dpi=200;", "concentrate=true;", "node [shape=record];"):
        assert attr in text
    nodes, edges = parse_dot(text)
    # The InputLayer of a Sequential is not drawn (Keras 3); ids are the layers' ids.
    assert nodes[str(id(model.layers[0]))][:2] == ("hidden", "Dense")
    assert [n[:2] for n in nodes.values()] == [("hidden", "Dense"), ("probs", "Dense")]
    assert edges == [("hidden", "probs")]
    hidden, probs = (n[2] for n in nodes.values())
    assert shape_cells(hidden) == [("Input", "(None, 784)"), ("Output", "(None, 32)")]
    assert shape_cells(probs) == [("Input", "(None, 32)"), ("Output", "(None, 10)")]
    assert "Activation: <b>relu</b>" in hidden and "Activation: <b>softmax</b>" in probs


def test_dot_of_seed_003_cnn_has_the_shapes_worked_out_by_hand():
    model = cnn()
    text = keras.utils.model_to_dot(model, show_shapes=True, show_trainable=True,
                                    show_layer_activations=True, show_dtype=True).to_string()
    nodes, edges = parse_dot(text)
    names = [layer.name for layer in model.layers]
    assert [n[0] for n in nodes.values()] == names
    assert edges == list(zip(names, names[1:]))
    for i, (_, class_name, label) in enumerate(nodes.values()):
        assert shape_cells(label) == [("Input", str(CNN_SHAPES[i])),
                                      ("Output", str(CNN_SHAPES[i + 1]))]
        assert "Output dtype: <b>float32</b>" in label
        has_weights = class_name in ("Conv2D", "Dense")
        assert ("<b>Trainable</b>" in label) == has_weights
        assert ("Activation:" in label) == has_weights
    assert "Activation: <b>linear</b>" in list(nodes.values())[-1][2]


def test_dot_without_layer_names_shows_classes_and_no_shapes_by_default():
    nodes, _ = parse_dot(keras.utils.model_to_dot(cnn(), show_layer_names=False).to_string())
    assert [n[0] for n in nodes.values()][:2] == ["Conv2D", "MaxPooling2D"]
    assert all("shape" not in n[2] for n in nodes.values())


def test_dot_of_a_two_input_model_follows_the_graph():
    model = two_inputs()
    nodes, edges = parse_dot(keras.utils.model_to_dot(model, show_shapes=True).to_string())
    assert sorted(n[0] for n in nodes.values()) == ["a", "b", "cat", "hb", "inner", "out"]
    assert sorted(edges) == [("a", "inner"), ("b", "hb"), ("cat", "out"), ("hb", "cat"),
                             ("inner", "cat")]
    by_name = {n[0]: n for n in nodes.values()}
    assert shape_cells(by_name["a"][2]) == [("Output", "(None, 8)")]  # inputs: output only
    assert shape_cells(by_name["cat"][2]) == [("Input", "[(None, 8), (None, 8)]"),
                                              ("Output", "(None, 16)")]
    assert shape_cells(by_name["inner"][2]) == [("Input", "(None, 8)"), ("Output", "(None, 8)")]
    assert by_name["inner"][1] == "Sequential"


def test_expand_nested_draws_the_nested_model_in_a_frame_and_wires_its_layers():
    model = two_inputs()
    dot = keras.utils.model_to_dot(model, expand_nested=True, show_shapes=True)
    text = dot.to_string()
    nodes, edges = parse_dot(text)
    assert sorted(n[0] for n in nodes.values()) == ["a", "b", "cat", "hb", "in1", "in2", "out"]
    assert sorted(edges) == [("a", "in1"), ("b", "hb"), ("cat", "out"), ("hb", "cat"),
                             ("in1", "in2"), ("in2", "cat")]
    frame = text[text.index("subgraph cluster_inner {"):]
    frame = frame[:frame.index("}\n")]
    assert "style=dashed;" in frame and "label=inner;" in frame
    assert "<b>in1</b>" in frame and "<b>in2</b>" in frame and "<b>hb</b>" not in frame
    assert shape_cells(next(n for n in nodes.values() if n[0] == "in1")[2]) == [
        ("Input", "(None, 8)"), ("Output", "(None, 16)")]
    cluster = keras.utils.model_to_dot(model.get_layer("inner"), subgraph=True)
    assert [n.get_name() for n in cluster.get_nodes()] == [
        str(id(layer)) for layer in model.get_layer("inner").layers]


def test_a_subclassed_model_is_one_box():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net.build((None, 5))
    nodes, edges = parse_dot(keras.utils.model_to_dot(net).to_string())
    assert [n[1] for n in nodes.values()] == ["Net"] and edges == []


def test_names_are_escaped_in_labels():
    model = keras.Sequential([layers.Dense(2, input_shape=(3,), name='a<b&"c')])
    text = keras.utils.model_to_dot(model).to_string()
    assert "<b>a&lt;b&amp;&quot;c</b>" in text


# ---------------------------------------------------------------------------- errors
def test_errors_name_the_problem():
    unbuilt = keras.Sequential([layers.Dense(2)])
    for fn in (keras.utils.model_to_dot, keras.utils.plot_model):
        with pytest.raises(ValueError, match="This model has not yet been built"):
            fn(unbuilt)
        with pytest.raises(TypeError, match="Received: model="):
            fn("model")
    with pytest.raises(ValueError, match="`rankdir`.*Received: rankdir='XY'"):
        keras.utils.model_to_dot(mlp(), rankdir="XY")
    with pytest.raises(ValueError, match="`dpi`.*Received: dpi=0"):
        keras.utils.model_to_dot(mlp(), dpi=0)
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        keras.utils.model_to_dot(mlp(), colour="red")
    with pytest.raises(ValueError, match="`format`.*Received: format='s v g'"):
        keras.utils.model_to_dot(mlp()).create(format="s v g")


def test_an_unknown_format_without_graphviz_says_what_to_do(no_graphviz):
    with pytest.raises(ValueError, match="Install Graphviz.*Received: format='gif'"):
        keras.utils.model_to_dot(mlp()).create(prog="dot", format="gif")


# ---------------------------------------------------------------------------- built-in SVG
def svg_boxes(svg_bytes):
    """``{layer name: (x, y, w, h)}`` of each box and the edges' titles, from the SVG."""
    root = ET.fromstring(svg_bytes)
    assert root.tag == SVG_NS + "svg"
    boxes, edges = {}, []
    for group in root.iter(SVG_NS + "g"):
        if group.get("class") == "node":
            rects = [[float(r.get(k)) for k in ("x", "y", "width", "height")]
                     for r in group.iter(SVG_NS + "rect")]
            x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
            x1 = max(r[0] + r[2] for r in rects)
            y1 = max(r[1] + r[3] for r in rects)
            name = group.find(SVG_NS + "title").text.split(" (")[0]
            boxes[name] = (x0, y0, x1 - x0, y1 - y0)
        elif group.get("class") == "edge":
            edges.append(group.find(SVG_NS + "title").text)
    text = " ".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))
    return boxes, edges, text


def overlap(p, q):
    return p[0] < q[0] + q[2] and q[0] < p[0] + p[2] and p[1] < q[1] + q[3] and q[1] < p[1] + p[3]


@pytest.mark.parametrize("build", [mlp, cnn, two_inputs])
def test_builtin_svg_without_graphviz(build, no_graphviz):
    model = build()
    dot = keras.utils.model_to_dot(model, show_shapes=True, expand_nested=True)
    boxes, edges, text = svg_boxes(dot.create(prog="dot", format="svg"))
    _, dot_edges = parse_dot(dot.to_string())
    drawn = [layer.name for layer in model.layers if not isinstance(layer, keras.Sequential)]
    drawn += ["in1", "in2"] if build is two_inputs else []
    assert sorted(boxes) == sorted(drawn)
    assert len(edges) == len(dot_edges)
    for name in drawn:
        assert name in text
    if build is cnn:
        for shape in CNN_SHAPES:
            assert str(shape) in text
    for src, dst in dot_edges:  # top to bottom: every arrow points down
        assert boxes[src][1] + boxes[src][3] < boxes[dst][1]
    names = sorted(boxes)
    for i, p in enumerate(names):
        for q in names[i + 1:]:
            assert not overlap(boxes[p], boxes[q]), (p, q)


def test_builtin_layout_puts_branches_side_by_side_and_frames_the_nested_model(no_graphviz):
    svg = keras.utils.model_to_dot(two_inputs(), expand_nested=True).create(format="svg")
    boxes, _, _ = svg_boxes(svg)
    root = ET.fromstring(svg)
    frame = next(g for g in root.iter(SVG_NS + "g") if g.get("class") == "cluster")
    assert frame.find(SVG_NS + "title").text == "inner"
    rect = frame.find(SVG_NS + "rect")
    fx, fy, fw, fh = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
    for name in ("in1", "in2"):  # inside the frame
        x, y, w, h = boxes[name]
        assert fx < x and x + w < fx + fw and fy < y and y + h < fy + fh
    assert not overlap(boxes["hb"], (fx, fy, fw, fh))
    # the two branches side by side: "hb" level with "in2", beside it
    assert boxes["hb"][1] == pytest.approx(boxes["in2"][1])
    assert boxes["a"][0] < boxes["hb"][0]


def test_builtin_layout_left_to_right(no_graphviz, tmp_path):
    dot = keras.utils.model_to_dot(mlp(), rankdir="LR")
    svg = dot.create(format="svg")
    boxes, _, _ = svg_boxes(svg)
    assert boxes["hidden"][0] + boxes["hidden"][2] < boxes["probs"][0]
    assert dot.create_svg() == svg  # pydot's shortcuts
    dot.write(tmp_path / "m.svg", format="svg")
    dot.write(tmp_path / "m.dot")
    assert (tmp_path / "m.svg").read_bytes() == svg
    assert (tmp_path / "m.dot").read_text() == dot.to_string()


# ---------------------------------------------------------------------------- Graphviz
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_renders_svg_when_installed():
    svg = keras.utils.model_to_dot(cnn(), show_shapes=True).create(prog="dot", format="svg")
    assert b"Generated by graphviz" in svg
    root = ET.fromstring(svg)
    text = " ".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))
    assert "conv2d_1" in text and "(None, 576)" in text


# ---------------------------------------------------------------------------- PNG
def decode_png(data):
    image = pytest.importorskip("matplotlib.image")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return image.imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize("graphviz", [False, True])
def test_png_decodes_to_the_drawing_size_and_is_not_blank(graphviz, monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    if graphviz and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    if not graphviz:
        monkeypatch.setenv("PATH", str(tmp_path))
    dot = keras.utils.model_to_dot(cnn(), show_shapes=True, show_trainable=True, dpi=72)
    pixels = decode_png(dot.create(prog="dot", format="png"))
    height, width = pixels.shape[:2]
    if not graphviz:  # one layout point is one pixel at 72 dpi
        root = ET.fromstring(dot.create(format="svg"))
        assert width == pytest.approx(float(root.get("width")[:-2]), abs=1)
        assert height == pytest.approx(float(root.get("height")[:-2]), abs=1)
    assert 300 < width < 2000 and 500 < height < 4000
    rgb = pixels[..., :3].reshape(-1, 3)
    black = (rgb.max(axis=1) < 0.1).mean()
    white = (rgb.min(axis=1) > 0.9).mean()
    green = ((rgb[:, 1] > 0.4) & (rgb[:, 0] < 0.3) & (rgb[:, 2] < 0.3)).mean()
    assert black > 0.05 and white > 0.3 and green > 0.001  # headers, page, Trainable cells


def test_png_without_graphviz_or_matplotlib_asks_for_matplotlib(no_graphviz, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        keras.utils.model_to_dot(mlp()).create(format="png")


# ---------------------------------------------------------------------------- plot_model
@pytest.mark.parametrize("graphviz", [False, True])
@pytest.mark.parametrize("name", ["model.png", "model.svg", "model.pdf", "model.dot", "model"])
def test_plot_model_writes_the_format_of_the_extension(name, graphviz, tmp_path, monkeypatch):
    if graphviz and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    if not graphviz:
        monkeypatch.setenv("PATH", str(tmp_path))
        if name.endswith((".png", ".pdf", "model")):
            pytest.importorskip("matplotlib")
    path = tmp_path / name
    image = keras.utils.plot_model(two_inputs(), to_file=path, show_shapes=True)
    data = path.read_bytes()
    if name.endswith(".svg"):
        assert "cat" in " ".join(ET.fromstring(data).itertext())
        assert image._repr_svg_() is not None
    elif name.endswith(".pdf"):
        assert data.startswith(b"%PDF") and image is None
    elif name.endswith(".dot"):
        assert data.decode().startswith("digraph") and image is None
    else:  # .png, and the default for a name without extension
        assert decode_png(data).shape[0] > 100
        assert image._repr_png_() == data or image.data == data


def test_plot_model_without_ipython_returns_an_inline_image(no_graphviz, monkeypatch,
                                                           tmp_path):
    monkeypatch.setitem(sys.modules, "IPython", None)
    image = vis_utils.plot_model(mlp(), to_file=str(tmp_path / "m.svg"))
    assert isinstance(image, vis_utils.DiagramImage)
    assert image._repr_png_() is None and "<svg" in image._repr_svg_()


# ---------------------------------------------------------------------------- seed 002
def test_seed002_diagram_line_runs_as_written(no_graphviz):
    ipython_display = pytest.importorskip("IPython.display")
    SVG = ipython_display.SVG  # noqa: N806 (the seed's name)
    from fcnet.utils.vis_utils import model_to_dot

    model = keras.models.Sequential()
    model.add(layers.Dense(1, use_bias=False, input_shape=(1,), name='Dense_ly'))
    model.compile(loss='mse', optimizer='adam')
    picture = SVG(model_to_dot(model,show_shapes=True).create(prog='dot', format='svg'))  # noqa: E231
    _, _, text = svg_boxes(picture.data)
    assert "Dense_ly (Dense)" in text and "Input shape: (None, 1)" in text
    assert "Output shape: (None, 1)" in text


def test_seed002_diagram_example(tmp_path, capsys):
    example = runpy.run_path(str(Path(__file__).parent.parent / "examples" /
                                 "seed002_diagram.py"))
    paths = example["main"](["--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.count('Model: "sequential"') == 3
    for path, shape in zip(paths, ["(None, 1)", "(None, 1)", "(None, 2)"]):
        text = "".join(ET.parse(path).getroot().itertext())  # Graphviz's SVG or fcnet's
        assert "Dense_ly" in text and shape in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_svg_is_not_cropped_by_the_dpi(tmp_path):
    """Graphviz scales an SVG's content by dpi/72 inside an unscaled viewBox (cropping it
    in every viewer); vector output is therefore drawn at 72 dpi."""
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Dense(1)])
    svg = keras.utils.model_to_dot(model, show_shapes=True, dpi=200).create(format="svg")
    text = svg.decode()
    width = float(re.search(r'<svg width="([\d.]+)pt"', text).group(1))
    view_width = float(re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+)', text).group(1))
    assert abs(width - view_width) < 2
    assert "scale(1 1)" in text
