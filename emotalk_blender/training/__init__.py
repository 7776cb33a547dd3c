"""Training: corpus builder, training and evaluation of the default model (not shipped); imports torch, engine."""
