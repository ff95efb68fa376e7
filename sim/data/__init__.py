"""The data layer: the sourced CSV tables (tables), the real roster at a date (real), the court's record coded
as what happened (record), and the docs' tables generated from them (docblocks).

Nothing here imports the model; sim.model.roster builds the model's Roster from ``real.real_roster``.
"""
