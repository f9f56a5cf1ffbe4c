"""fcnet: Keras's API on NumPy, built around the Dense layer."""

__version__ = "0.1.0"
