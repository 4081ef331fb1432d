"""The JAX backend: lowers the IR to one jitted train step (Flax NNX, Optax)."""
