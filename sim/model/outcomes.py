"""The one output schema of both engines (ODD §4.11, ODD §9): per-accused and per-run outcomes, routes, series.

Everything that lists outcomes (the frame of ``sim.simulate``, summaries, sensitivity outcomes, the
equivalence tests, the docs' outcome table, the explorer's choices) derives from ``OUTCOMES`` and
``SERIES`` here; no other module spells an outcome's name, kind or level.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NEVER = -1  # month code inside the engines for "did not happen" (custody_month, detained_month)
NO_CUSTODY = NEVER
ROUTES = ("none", "arrested_by_host", "domestic_surrender")
ROUTE_CODE = {r: i for i, r in enumerate(ROUTES)}
KINDS = ("flag", "month", "route", "count", "real")


@dataclass(frozen=True)
class Outcome:
    """One output of a run: per accused (one value per replicate and accused) or per run."""

    name: str
    level: str  # "accused" or "run"
    kind: str  # flag (bool), month (step or empty), route (ROUTES), count (int >= 0), real (float)
    doc: str
    since: str = "1.2"

    @property
    def per_run(self) -> bool:
        return self.level == "run"


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("in_custody", "accused", "flag", "in the court's custody at the horizon"),
    Outcome("custody_month", "accused", "month", "month the accused entered the court's custody (empty if never)"),
    Outcome("route", "accused", "route", "how the accused reached the court: arrested_by_host, domestic_surrender "
                                         "or none"),
    Outcome("detained_month", "accused", "month", "month a new home government detained the accused at home "
                                                  "(empty if never; kept after a later handover)", since="1.3"),
    Outcome("trips", "accused", "count", "trips made"),
    Outcome("trips_to_members", "accused", "count", "trips made to states parties (membership at the trip)"),
    Outcome("trips_cancelled", "accused", "count", "trips called off because the perceived risk was too high"),
    Outcome("trips_at_issue", "accused", "count", "1 if the warrant was timed to a stay in a state party",
            since="1.3"),
    Outcome("invitations", "accused", "count", "invitations to a summit or state visit (heads of state only)",
            since="1.5"),
    Outcome("invitations_declined", "accused", "count", "invitations declined because the perceived risk at the "
                                                        "host was too high", since="1.5"),
    Outcome("findings", "run", "count", "non-compliance findings by the court"),
    Outcome("withdrawals", "run", "count", "withdrawals notified (in effect by the horizon or not)"),
    Outcome("accessions", "run", "count", "accessions deposited (in effect by the horizon or not)", since="1.3"),
    Outcome("regime_changes", "run", "count", "changes of home government (a government already fallen at issue "
                                              "is not one)", since="1.4"),
    Outcome("regime_change_month", "run", "month", "month of the first change of home government (empty if none)",
            since="1.4"),
    Outcome("members_final", "run", "count", "states parties at the horizon"),
    Outcome("legitimacy_final", "run", "real", "the court's legitimacy at the horizon"),
)
BY_NAME: dict[str, Outcome] = {o.name: o for o in OUTCOMES}
KEYS = ("replicate", "accused")
COLUMNS = (*KEYS, *(o.name for o in OUTCOMES))
PER_ACCUSED = tuple(o.name for o in OUTCOMES if not o.per_run)
PER_RUN = tuple(o.name for o in OUTCOMES if o.per_run)
COUNTS = tuple(o.name for o in OUTCOMES if o.kind in ("count", "real"))  # summarised by their means
MONTHS = tuple(o.name for o in OUTCOMES if o.kind == "month")


@dataclass(frozen=True)
class Series:
    """One monthly series: the state at the end of month t = 0..T-1, per replicate or averaged."""

    name: str
    doc: str


SERIES: tuple[Series, ...] = (
    Series("legitimacy", "the court's legitimacy L"),
    Series("members", "number of states parties"),
    Series("mean_compliance", "mean compliance of all states, home included"),
    Series("share_in_custody", "share of the accused in the court's custody"),
)
SERIES_COLUMNS = ("month", *(s.name for s in SERIES))


@dataclass
class Outcomes:
    """Per-replicate outcome arrays of one engine call: (R, F) per accused, (R,) per run, keyed by name.

    Months use ``NEVER`` for "did not happen"; routes are codes into ``ROUTES``.
    """

    values: dict[str, np.ndarray]
    series: pd.DataFrame | None = field(default=None)

    def __post_init__(self) -> None:
        missing = [o.name for o in OUTCOMES if o.name not in self.values]
        extra = [k for k in self.values if k not in BY_NAME]
        if missing or extra:
            raise ValueError(f"Outcomes: missing {missing}, unknown {extra}")

    @classmethod
    def of(cls, series: pd.DataFrame | None = None, **values: Any) -> Outcomes:
        """Build from keyword arrays, one per outcome of ``OUTCOMES`` (``in_custody`` follows from custody_month)."""
        values.setdefault("in_custody", np.asarray(values["custody_month"]) != NEVER)
        return cls({k: np.asarray(v) for k, v in values.items()}, series)

    def __getattr__(self, name: str) -> np.ndarray:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    @property
    def n_replicates(self) -> int:
        return int(self.values["custody_month"].shape[0])

    @staticmethod
    def concat(parts: list[Outcomes]) -> Outcomes:
        merged = {o.name: np.concatenate([p.values[o.name] for p in parts]) for o in OUTCOMES}
        series = [p.series for p in parts if p.series is not None]
        return Outcomes(merged, series=pd.concat(series, ignore_index=True) if series else None)

    def take(self, rows: np.ndarray) -> Outcomes:
        """The outcomes of some replicates, in the given order (series are not carried)."""
        return Outcomes({k: v[rows] for k, v in self.values.items()})

    def frame(self, replicate: np.ndarray | int = 0) -> pd.DataFrame:
        """The public frame of sim.simulate: one row per (replicate, accused), columns ``COLUMNS``.

        ``replicate`` numbers the rows' replicates: an array of R numbers, or the first of a range.
        """
        r, f = self.values["custody_month"].shape
        numbers = np.asarray(replicate, dtype=np.int64)
        numbers = numbers + np.arange(r, dtype=np.int64) if numbers.ndim == 0 else numbers
        columns: dict[str, Any] = {"replicate": np.repeat(numbers, f),
                                   "accused": np.tile(np.arange(f, dtype=np.int64), r)}
        for o in OUTCOMES:
            v = self.values[o.name]
            v = np.repeat(v, f) if o.per_run else v.reshape(-1)
            columns[o.name] = column(o, v)
        return pd.DataFrame(columns, columns=list(COLUMNS))


def column(outcome: Outcome, v: np.ndarray) -> Any:
    """One outcome's engine values as the frame's column (typed by its kind)."""
    if outcome.kind == "flag":
        return v.astype(bool)
    if outcome.kind == "month":
        month = v.astype(np.int64)
        never = month == NEVER
        return pd.arrays.IntegerArray(np.where(never, 0, month), never)
    if outcome.kind == "route":
        return pd.Categorical.from_codes(v.astype(np.int8), categories=list(ROUTES))
    if outcome.kind == "count":
        return v.astype(np.int64)
    return v.astype(np.float64)


def outcome_table_markdown() -> str:
    """The outcome table of docs/ODD.md, generated from the schema."""
    rows = ["| outcome | per | kind | description |", "|---|---|---|---|"]
    for o in OUTCOMES:
        rows.append(f"| `{o.name}` | {o.level} | {o.kind} | {o.doc} |")
    for s in SERIES:
        rows.append(f"| `{s.name}` | month | series | {s.doc} |")
    return "\n".join(rows)


def combine_series(parts: list[pd.DataFrame], mode: str) -> pd.DataFrame:
    """Merge calls' monthly series: 'replicate' frames are stacked (replicates already numbered),
    'mean' frames (sums with a count n) are pooled into a weighted mean."""
    if mode == "replicate":
        return pd.concat(parts, ignore_index=True)
    values = list(SERIES_COLUMNS[1:])
    total = pd.concat(parts).groupby("month", sort=True)[[*values, "n"]].sum()
    mean = total[values].div(total["n"], axis=0)
    return mean.reset_index()


def series_sums(month_values: Mapping[str, np.ndarray], n: int) -> pd.DataFrame:
    """The 'mean'-mode series of one call: sums over its replicates per month, with the count n."""
    first = next(iter(month_values.values()))
    frame = pd.DataFrame({"month": np.arange(len(first))})
    for name in SERIES_COLUMNS[1:]:
        frame[name] = month_values[name]
    frame["n"] = n
    return frame
