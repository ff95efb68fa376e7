"""Names shared by layers that may not import each other (experiments and analysis): the kinds of figure, and
the accused code of rows about every accused of a replicate."""

# the figures of a sweep's folder
FIGURE_KINDS = ("heatmap", "curves", "survival", "routes", "sobol", "morris", "ranking", "paired")

# "all accused": rows about every accused of a replicate carry accused = -1, so that `accused` is an integer in
# every frame the tool writes or returns (runs.parquet holds 0, 1, ...) and a summary merges with its runs
ALL_ACCUSED = -1
