"""Names shared by layers that may not import each other (experiments and analysis): the kinds of figure."""

# the figures of a sweep's folder
FIGURE_KINDS = ("heatmap", "curves", "survival", "routes", "sobol", "morris", "ranking", "paired")
