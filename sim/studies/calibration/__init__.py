"""The calibration study against the court's record: the record's observation design (design), pseudo-records
(simulate), ABC-SMC (smc), the posterior's checks (study), the results folder (folder), configs (config)."""
