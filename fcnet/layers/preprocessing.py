"""Preprocessing layers for tabular data, as Keras names them.

Continuous features: ``Normalization``, ``Discretization``; categories:
``CategoryEncoding``, ``StringLookup``, ``IntegerLookup``. They learn their state from
data with ``adapt(data)`` (or take it in the constructor), have no trainable weights,
and pass no gradient to their inputs.
"""

from fcnet.layers.preprocessing_encoding import CategoryEncoding
from fcnet.layers.preprocessing_lookup import IntegerLookup, StringLookup
from fcnet.layers.preprocessing_numeric import Discretization, Normalization

__all__ = ["CategoryEncoding", "Discretization", "IntegerLookup", "Normalization",
           "StringLookup"]
