"""Analysis of results: the probability of custody by month H with Wilson intervals, Kaplan-Meier time to custody,
cumulative incidence of each custody route (competing risks), custody routes, per-point summaries,
sensitivity indices (SALib), scenario discovery (PRIM), paired counterfactual comparisons, and the
figures drawn from them.

Functions take result frames and return frames or figures; ``load_results`` reads a results folder.
"""
