"""Studies: whole analyses composed from experiments and analysis (sweep, sensitivity, calibration, ...)."""
