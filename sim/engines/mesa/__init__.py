"""The Mesa engine: State, Court, Prosecutor and Accused agents in a TribunalModel, one replicate at a time."""
