"""Floor 6: models and the training loop (``fcnet.models`` mirrors ``keras.models``)."""

from fcnet.models.model import Model
from fcnet.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
