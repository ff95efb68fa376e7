"""The vectorized core: the model of docs/ODD.md for many replicates at once, as (replicates x states) arrays."""
