"""The model, written once: the parameter schema (params), every formula and protocol decision (rules),
the output schema (outcomes), the seeding contract (seeding) and the rosters of states (roster)."""
