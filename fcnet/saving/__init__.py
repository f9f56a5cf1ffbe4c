"""Floor 7: Keras files (``fcnet.saving`` mirrors ``keras.saving``)."""
