"""The engines: two implementations of MODEL.md (Mesa agents; a vectorized core), knowing nothing of files."""
