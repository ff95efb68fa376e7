"""Replicates consistent with the record to date (ODD §4.11): frames in, a mask out.

The record to date of one situation at month m (months since its warrants, counted from 0) is each
accused's status at m — ``free`` (neither in custody nor detained before m), ``detained`` (detained at
home before m, not in custody before m) or ``custody`` (in the court's custody before m) — and
whether the home government changed before m. A replicate is consistent with it when every accused's
status at m and its regime change before m match. "Before m" means in a month < m: an event in
month m itself lies after the record. Optionally an accused's record also fixes the month its status
began (``since``: detained since d, in custody since c), and an accused may have a month of its own
(``month``; e.g. a person who died is observed only until then).

Used by the out-of-sample check of the calibration (a forecast from the state at its cut) and by
forecasts; simulated and observed months are the engine's (ODD §9: month of custody, of detention, of
the first regime change), with "never" as NA, NaN or the engine's -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.errors import UserError

STATUSES = ("free", "detained", "custody")
OUTCOME_COLUMNS = ("custody_month", "detained_month", "regime_change_month")


def _months(column: pd.Series) -> np.ndarray:
    """Months as floats with NaN for never (NA, NaN or the engine's -1)."""
    x = pd.to_numeric(column, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return np.where(x < 0, np.nan, x)


def status_at(custody: np.ndarray, detained: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Each row's status at ``month`` (free / detained / custody) from its custody and detention months."""
    in_custody = custody < month  # NaN compares False: never
    held = ~in_custody & (detained < month)
    return np.where(in_custody, "custody", np.where(held, "detained", "free"))


def check_record(record: pd.DataFrame) -> pd.DataFrame:
    """A validated record to date: columns accused, status, optional month and since (one row per accused)."""
    missing = [c for c in ("accused", "status") if c not in record.columns]
    if missing:
        raise UserError(f"the record to date lacks column(s) {', '.join(missing)}: one row per accused with its "
                        "status (free, detained or custody)")
    bad = sorted(set(record["status"]) - set(STATUSES))
    if bad:
        raise UserError(f"the record to date has status '{bad[0]}'; use one of {', '.join(STATUSES)}")
    if record["accused"].duplicated().any():
        raise UserError("the record to date lists an accused twice; give one status per accused")
    if "since" in record.columns:
        since = pd.to_numeric(record["since"], errors="coerce")
        wrong = record["since"].notna() & (record["status"] == "free")
        if wrong.any():
            raise UserError("the record to date gives a 'since' month to a free accused; since is the month a "
                            "detention or custody began")
        if (since < 0).any():
            raise UserError("the record to date has a negative 'since' month")
    return record


def consistent(outcomes: pd.DataFrame, record: pd.DataFrame, month: int, regime_changed: bool | None,
               keys: Sequence[str] = ("replicate",)) -> pd.Series:
    """Which replicates are consistent with the record to date at ``month`` (ODD §4.11).

    ``outcomes``: one row per replicate (the ``keys`` columns) and accused (``accused``) with ``custody_month``,
    ``detained_month`` and, when ``regime_changed`` is not None, the run's ``regime_change_month`` (the same on
    every accused row of a replicate). ``record``: one row per accused with ``status`` and optionally ``month``
    (that accused's own month, default ``month``) and ``since`` (the month its detention or custody began).
    ``regime_changed``: whether the home government changed before ``month`` (None: not conditioned on).
    Returns a boolean Series indexed by the replicate keys, True where the replicate is consistent. Accused
    absent from ``record`` are not conditioned on.
    """
    keys = list(keys)
    need = [*keys, "accused", "custody_month", "detained_month"]
    if regime_changed is not None:
        need.append("regime_change_month")
    missing = [c for c in need if c not in outcomes.columns]
    if missing:
        raise UserError(f"outcomes lack column(s) {', '.join(missing)} for the record to date")
    if month < 0:
        raise UserError(f"the record to date's month must be 0 or more, got {month}")
    record = check_record(record)
    rec = record.set_index("accused")
    rows = outcomes[outcomes["accused"].isin(rec.index)]
    at = rec["month"].reindex(rows["accused"]).fillna(month).to_numpy(float) if "month" in rec.columns \
        else np.full(len(rows), float(month))
    custody, detained = _months(rows["custody_month"]), _months(rows["detained_month"])
    ok = status_at(custody, detained, at) == rec["status"].reindex(rows["accused"]).to_numpy()
    if "since" in rec.columns:
        since = pd.to_numeric(rec["since"].reindex(rows["accused"]), errors="coerce").to_numpy(float)
        status = rec["status"].reindex(rows["accused"]).to_numpy()
        began = np.where(status == "custody", custody, detained)
        ok &= np.isnan(since) | (began == since)
    mask = pd.Series(ok, index=pd.MultiIndex.from_frame(rows[keys]) if len(keys) > 1 else rows[keys[0]].to_numpy())
    per_replicate = mask.groupby(level=list(range(len(keys)))).all()
    every = outcomes[keys].drop_duplicates()
    index = pd.MultiIndex.from_frame(every) if len(keys) > 1 else pd.Index(every[keys[0]].to_numpy(), name=keys[0])
    result = per_replicate.reindex(index, fill_value=True)
    if regime_changed is not None:
        first = outcomes.groupby(keys, sort=False)["regime_change_month"].first()
        changed = pd.Series(_months(first) < month, index=first.index).reindex(index)
        result &= changed.to_numpy() == bool(regime_changed)
    result.name = "consistent"
    return result.astype(bool)
