"""The fused kernel: the vectorized core's model in one numba kernel per call (optional: pip install -e ".[fast]")."""
