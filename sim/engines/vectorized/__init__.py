"""The vectorized core: MODEL.md for many replicates at once, as (replicates x states) arrays."""
