"""The data layer: the sourced CSV tables (tables), and the real roster at a date (real).

Nothing here imports the model; sim.model.roster builds the model's Roster from ``real.real_roster``.
"""
