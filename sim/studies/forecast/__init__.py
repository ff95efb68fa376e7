"""The forecast study: a warrant's probability of custody by a horizon, conditioned on the record to date
(ODD §4.11): its config (config) and its run and folder (study)."""
