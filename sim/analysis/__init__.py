"""Analysis of results: enforcement probability with Wilson intervals, Kaplan-Meier time to custody,
custody routes, per-point summaries, sensitivity indices (SALib) and the figures drawn from them.

Functions take result frames and return frames or figures; ``load_results`` reads a results folder.
"""
