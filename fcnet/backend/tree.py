"""Nested structures of lists, tuples and dicts (``keras.tree``'s three verbs).

A structure is a leaf (an array, a tensor, a number) or a list, tuple or dict of
structures; dicts are walked in sorted key order, as Keras walks them.
"""

from __future__ import annotations


def is_nested(structure) -> bool:
    return isinstance(structure, (list, tuple, dict))


def flatten(structure) -> list:
    """The leaves, depth first."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_sequence_as(structure, leaves):
    """``leaves`` (a flat sequence) arranged as ``structure``."""
    leaves = iter(leaves)

    def pack(template):
        if isinstance(template, dict):
            return {key: pack(template[key]) for key in sorted(template)}
        if isinstance(template, (list, tuple)):
            return type(template)(pack(item) for item in template)
        return next(leaves)

    return pack(structure)


def map_structure(fn, structure):
    """``fn`` applied to every leaf, keeping the structure."""
    if not isinstance(structure, (list, tuple, dict)):  # a leaf: fn of it
        return fn(structure)
    return pack_sequence_as(structure, [fn(leaf) for leaf in flatten(structure)])
