"""The engines: two implementations of docs/ODD.md (Mesa agents; a vectorized core), knowing nothing of files."""
