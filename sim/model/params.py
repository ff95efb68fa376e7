"""The one parameter schema: every parameter of the model (docs/ODD.md) with its default, range and meaning.

Configs, CLI ``--set``, validation messages, the browser sliders and the docs table are
all derived from ``SCHEMA``; no other module spells a parameter's default or range.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sim.errors import UserError

INF = math.inf


@dataclass(frozen=True)
class Param:
    """One model parameter: dotted name, type, default, hard range, one-line doc.

    ``kind`` is one of float, int, bool, str, date, float_list, int_list, str_list, or states: a table of
    per-state attribute values by ISO3 code (``STATE_ATTRIBUTES``) set instead of the Beta draws.
    ``low``/``high`` are inclusive hard bounds (for lists: per element).
    ``soft`` is a finite range for sliders and suggested sweep bounds.
    ``choices`` restricts a str parameter.
    ``per_accused`` marks the lists whose common length is the number of accused F.
    ``may_be_empty`` marks a list that may have no element.
    """

    name: str
    kind: str
    default: Any
    doc: str
    low: float = -INF
    high: float = INF
    soft: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    per_accused: bool = False
    may_be_empty: bool = False  # a list that may have no element (scenario.partners)
    unit: str = ""
    applies: str = ""  # "synthetic" or "real": a scenario parameter that only one roster uses
    since: str = "1.2"  # the model version that added it (ODD §8; the v1.3 mechanisms default to "off")

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def layout(self) -> bool:
        """Fixes array shapes or the roster, so one engine call shares it across all its replicates."""
        return self.group == "scenario"

    @property
    def is_list(self) -> bool:
        return self.kind.endswith("_list")

    @property
    def scalar_kind(self) -> str:
        return self.kind[: -len("_list")] if self.is_list else self.kind

    @property
    def numeric(self) -> bool:
        return self.scalar_kind in ("float", "int", "bool")

    @property
    def slider_range(self) -> tuple[float, float]:
        """A finite range for sliders and sweep bounds."""
        if self.soft is not None:
            return self.soft
        return (self.low, self.high)

    def range_text(self) -> str:
        if self.kind == "states":
            return "ISO3 = {" + ", ".join(STATE_ATTRIBUTES) + " in [0, 1]}"
        if self.choices:
            return " or ".join(f"`{c}`" for c in self.choices)
        if self.scalar_kind == "bool":
            return "0 or 1"
        if self.scalar_kind in ("str", "date"):
            return "ISO date YYYY-MM-DD" if self.scalar_kind == "date" else "text"
        lo = "-inf" if self.low == -INF else _fmt(self.low)
        hi = "inf" if self.high == INF else _fmt(self.high)
        return f"[{lo}, {hi}]"


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if x == int(x) and abs(x) < 1e15:
            return f"{x:.1f}"
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k} = {_fmt(v)}" for k, v in x.items()) + "}"
    return str(x)


def _p(name: str, kind: str, default: Any, doc: str, low: float = -INF, high: float = INF, **kw: Any) -> Param:
    return Param(name=name, kind=kind, default=default, doc=doc, low=low, high=high, **kw)


UNIT = (0.0, 1.0)
STATE_ATTRIBUTES = ("sovereignty", "compliance", "capacity", "alignment")  # what scenario.states may set

SCHEMA: tuple[Param, ...] = (
    # scenario
    _p("scenario.roster", "str", "synthetic", "roster of states: the synthetic layout of docs/ODD.md, or the real "
       "states on scenario.date", choices=("synthetic", "real")),
    _p("scenario.n_states", "int", 193, "number of states S in the synthetic roster", 2, 10_000, soft=(10, 400),
       applies="synthetic"),
    _p("scenario.member_share", "float", 0.6, "share of synthetic states that are states parties", 0, 1,
       applies="synthetic"),
    _p("scenario.n_regions", "int", 5, "number of regional groups in the synthetic roster", 1, 1000, soft=(1, 10),
       applies="synthetic"),
    _p("scenario.n_partners", "int", 10, "number of partner states of the home state (synthetic roster)", 0, 9_999,
       soft=(0, 40), applies="synthetic"),
    _p("scenario.horizon_months", "int", 120, "length of a run in months T", 1, 6000, soft=(12, 360), unit="months"),
    _p("scenario.date", "date", "2023-03-17", "date of the warrants: the real roster's membership is taken then",
       applies="real"),
    _p("scenario.home", "str", "RUS", "ISO3 code of the accused's home state (real roster; a non-party on the date)",
       applies="real"),
    _p("scenario.partners", "str_list", ["csto"], "partner states of the home state (real roster): ISO3 codes or "
       "group names (au, arab_league, brics, sco, csto, cis, eu, nato, oic)", applies="real", may_be_empty=True),
    _p("scenario.states", "states", {}, "per-state values of sovereignty, compliance, capacity or alignment that "
       "replace the Beta draws of the named states (real roster; e.g. MNG = {compliance = 0.9})", applies="real"),
    # states
    _p("states.concentration", "float", 10.0, "concentration κ of the Beta draws of state attributes", 1e-3, 1e6,
       soft=(1, 100)),
    _p("states.sovereignty_member", "float", 0.4, "mean sovereignty of states parties", 0, 1),
    _p("states.sovereignty_nonmember", "float", 0.7, "mean sovereignty of non-members", 0, 1),
    _p("states.compliance_member", "float", 0.6, "mean initial compliance of states parties", 0, 1),
    _p("states.compliance_nonmember", "float", 0.3, "mean initial compliance of non-members", 0, 1),
    _p("states.capacity", "float", 0.8, "mean capacity to execute an arrest", 0, 1),
    _p("states.alignment_partner", "float", 0.8, "mean alignment of partner states with the home state", 0, 1),
    _p("states.alignment", "float", 0.2, "mean alignment of other states with the home state", 0, 1),
    _p("states.appeal_sd", "float", 0.5, "standard deviation of log appeal (diplomatic value of a visit)", 0, 10,
       soft=(0, 2)),
    _p("states.partner_appeal", "float", 2.0, "multiplier of partner states' appeal", 1e-6, 1e6, soft=(0.5, 5)),
    _p("states.arrest_norm_gain", "float", 0.05, "compliance gained by a state that arrests", 0, 1, soft=(0, 0.3)),
    _p("states.conformity", "float", 0.02, "monthly pull μ of compliance towards the regional mean", 0, 1,
       soft=(0, 0.2)),
    _p("states.legitimacy_pull", "float", 0.01, "monthly pull ν of compliance by the court's legitimacy gain",
       0, 1, soft=(0, 0.1)),
    _p("states.withdrawal_rate", "float", 0.01, "scale ω of the monthly withdrawal hazard", 0, 1, soft=(0, 0.1)),
    _p("states.withdrawal_threshold", "float", 0.5, "threshold θ_w of sovereignty + alignment − compliance", -1, 2,
       soft=(0, 1.5)),
    _p("states.withdrawal_delay", "int", 12, "months from notification to effective withdrawal", 0, 600,
       soft=(0, 36), unit="months"),
    _p("states.accession_rate", "float", 0.0, "scale α of a non-member's monthly accession hazard α·c·(1 − a)",
       0, 1, soft=(0, 0.05), since="1.3"),
    _p("states.accession_delay", "int", 2, "months from deposit of an accession to its entry into force", 0, 600,
       soft=(0, 12), unit="months", since="1.3"),
    # accused
    _p("accused.head_of_state", "bool_list", [1, 0], "1 if the accused is a sitting head of state (claims immunity)",
       0, 1, per_accused=True),
    _p("accused.trip_rate", "float_list", [0.8, 0.3], "Poisson rate λ of trip plans per month", 0, 100,
       soft=(0, 3), per_accused=True, unit="per month"),
    _p("accused.risk_aversion", "float_list", [100.0, 100.0], "weight ρ of perceived arrest risk in choosing "
       "destinations", 0, 1e6, soft=(0, 300), per_accused=True),
    _p("accused.max_risk", "float_list", [0.02, 0.02], "trips whose perceived risk exceeds this are cancelled",
       0, 1, soft=(0, 0.2), per_accused=True),
    _p("accused.sealed_awareness", "float", 0.2, "share of the arrest risk an accused perceives under seal", 0, 1),
    _p("accused.travel_alignment", "float", 2.0, "preference β_t for aligned destinations", -100, 100,
       soft=(0, 6)),
    _p("accused.invitation_rate", "float", 0.0, "monthly rate ν at which a head of state is invited to a summit or "
       "state visit by a host drawn by appeal (declined when the perceived risk there exceeds max_risk)", 0, 100,
       soft=(0, 1), unit="per month", since="1.5"),
    # arrest decision
    _p("arrest.intercept", "float", -4.0, "intercept β0 of the arrest decision (log-odds)", -50, 50, soft=(-8, 2)),
    _p("arrest.duty", "float", 3.0, "log-odds weight β_duty of the legal duty of states parties", -50, 50,
       soft=(0, 6)),
    _p("arrest.compliance", "float", 2.0, "log-odds weight β_c of compliance", -50, 50, soft=(0, 6)),
    _p("arrest.legitimacy", "float", 1.5, "log-odds weight β_L of the court's legitimacy", -50, 50, soft=(0, 6)),
    _p("arrest.pressure", "float", 1.0, "log-odds weight β_p of cooperation pressure", -50, 50, soft=(0, 6)),
    _p("arrest.sovereignty", "float", 2.5, "log-odds penalty β_s of sovereignty", -50, 50, soft=(0, 6)),
    _p("arrest.alignment", "float", 5.0, "log-odds penalty β_a of alignment with the home state", -50, 50,
       soft=(0, 10)),
    _p("arrest.immunity", "float", 1.0, "log-odds penalty β_hos for a sitting head of state", -50, 50,
       soft=(0, 4)),
    # court
    _p("court.legitimacy0", "float", 0.5, "initial (and reference) legitimacy L0 of the court", 0, 1),
    _p("court.arrest_gain", "float", 0.10, "share of the gap to 1 that an arrest adds to legitimacy", 0, 1,
       soft=(0, 0.5)),
    _p("court.finding_prob", "float", 0.5, "probability φ of a non-compliance finding after a member's refusal",
       0, 1),
    _p("court.finding_pressure", "float", 0.3, "pressure a finding adds to the non-compliant state", 0, 1),
    _p("court.defiance_loss", "float", 0.02, "share of legitimacy lost when a member defies (halved by a finding)",
       0, 1, soft=(0, 0.2)),
    _p("court.nonmember_loss", "float", 0.005, "share of legitimacy lost when a non-member hosts the accused",
       0, 1, soft=(0, 0.05)),
    _p("court.reversion", "float", 0.01, "monthly reversion κ_L of legitimacy towards L0", 0, 1, soft=(0, 0.1)),
    # prosecutor
    _p("prosecutor.outreach_budget", "int", 10, "states the prosecutor targets with outreach each month", 0, 10_000,
       soft=(0, 50)),
    _p("prosecutor.pressure_decay", "float", 0.05, "monthly decay of cooperation pressure", 0, 1, soft=(0, 0.5)),
    _p("prosecutor.outreach_boost", "float", 0.1, "pressure added to each targeted state", 0, 1, soft=(0, 0.5)),
    _p("prosecutor.sealed_share", "float", 0.0, "probability that a warrant is issued under seal", 0, 1),
    _p("prosecutor.unseal_rate", "float", 1 / 12, "monthly probability that a sealed warrant is made public", 0, 1),
    _p("prosecutor.home_engagement", "float", 0.5, "engagement e with the home government (raises regime-change "
       "odds)", 0, 1),
    _p("prosecutor.timed_share", "float", 0.0, "probability τ that a warrant is timed to an arrest at hand (issued "
       "under seal while the accused is in a state party)", 0, 1, since="1.3"),
    _p("prosecutor.timed_arrest", "float", 0.0, "probability θ that a timed warrant's arrest was arranged with the "
       "host before issue (otherwise the host decides as on any visit)", 0, 1, since="1.4"),
    # home
    _p("home.turnover_rate", "float", 1 / 240, "monthly base rate η of government change at home", 0, 1,
       soft=(0, 0.05), unit="per month"),
    _p("home.engagement_effect", "float", 1.0, "effect γ_e of the prosecutor's engagement on turnover", 0, 1000,
       soft=(0, 5)),
    _p("home.surrender_prob", "float", 0.5, "probability a new government hands over each free accused", 0, 1),
    _p("home.fallen_at_issue", "float", 0.0, "probability χ that the accused's government has already fallen when "
       "the warrants are issued", 0, 1, since="1.3"),
    _p("home.detain_prob", "float", 0.0, "probability δ_h that a new government detains at home an accused it does "
       "not hand over", 0, 1, since="1.3"),
    _p("home.detained_surrender_rate", "float", 0.0, "monthly probability ψ that an accused detained at home is "
       "handed to the court", 0, 1, soft=(0, 0.2), unit="per month", since="1.3"),
    _p("home.turnover_sd", "float", 0.0, "spread σ_η of the log of each replicate's home hazard η_r around η (home "
       "governments differ in how likely they are to fall)", 0, 5, soft=(0, 2), since="1.4"),
)

BY_NAME: dict[str, Param] = {p.name: p for p in SCHEMA}
LAYOUT_NAMES: tuple[str, ...] = tuple(p.name for p in SCHEMA if p.layout)
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(p.group for p in SCHEMA))
IN_GROUP: dict[str, tuple[Param, ...]] = {g: tuple(p for p in SCHEMA if p.group == g) for g in GROUPS}
_INDEXED = re.compile(r"^(?P<base>[a-z_]+\.[a-z_0-9]+)\[(?P<idx>\d+)\]$")


class UnknownParameter(UserError, KeyError):
    """A name that is not in the schema: a UserError for the CLI, and a KeyError for Mapping semantics."""

    __str__ = BaseException.__str__  # KeyError would quote the message


def suggest(name: str, candidates: Iterable[str] | None = None) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or ''."""
    pool = list(candidates) if candidates is not None else list(BY_NAME)
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.5)
    if not match and "." not in name:
        match = [n for n in pool if n.endswith("." + name) or n.replace(".", "_") == name][:1]
    return f" (did you mean {match[0]}?)" if match else ""


def split_name(name: str) -> tuple[str, int | None]:
    """The one parser of parameter references: ``accused.trip_rate[0]`` -> ``("accused.trip_rate", 0)``;
    a plain name -> ``(name, None)``."""
    m = _INDEXED.match(name)
    return (m["base"], int(m["idx"])) if m else (name, None)


def reference(name: str) -> str:
    """The canonical spelling of a parameter reference (``accused.trip_rate[00]`` -> ``accused.trip_rate[0]``),
    checked against the schema: an unknown name, or an index on a scalar, is a UserError."""
    base, idx = split_name(name)
    p = lookup(base)
    if idx is not None and not p.is_list:
        raise UserError(f"{base} is not a list, so '{name}' has no meaning; set {base} = value")
    return base if idx is None else f"{base}[{idx}]"


def lookup(name: str) -> Param:
    """The schema entry for a dotted name; an unknown name is an UnknownParameter with a suggestion."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise UnknownParameter(f"unknown parameter '{name}'{suggest(str(name))}; `python -m sim params` lists them") \
            from None


def _coerce_scalar(p: Param, value: Any, label: str) -> Any:
    kind = p.scalar_kind
    given = value
    bad = UserError(f"{label} must be {_kind_word(kind)}, got {value!r}")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
        if math.isnan(value):
            raise bad
    elif kind in ("int", "bool"):
        if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
            value = int(value)
        if not isinstance(value, int):
            raise bad
    elif kind == "str":
        if not isinstance(value, str):
            raise bad
        if p.choices and value not in p.choices:
            raise UserError(f"{label} must be one of {', '.join(p.choices)}, got {value!r}")
        return value
    elif kind == "date":
        if isinstance(value, _dt.date):
            value = value.isoformat()
        try:
            _dt.date.fromisoformat(str(value))
        except ValueError:
            raise bad from None
        return str(value)
    if not (p.low <= value <= p.high):
        raise UserError(f"{label} = {given!r} is out of range {p.range_text()}")
    return value


def _kind_word(kind: str) -> str:
    return {"float": "a number", "int": "an integer", "bool": "0 or 1", "str": "text",
            "date": "a date YYYY-MM-DD"}[kind]


def _kinds_word(kind: str) -> str:
    """The plural of ``_kind_word``: what a list's elements must be."""
    return {"float": "numbers", "int": "integers", "bool": "0s and 1s", "str": "texts",
            "date": "dates YYYY-MM-DD"}[kind]


def coerce(p: Param, value: Any) -> Any:
    """Validate and normalise one value for parameter ``p`` (lists element by element)."""
    if p.kind == "states":
        return _coerce_states(p, value)
    if p.is_list:
        if isinstance(value, tuple):
            value = list(value)
        if p.scalar_kind == "str" and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or (not value and not p.may_be_empty):
            size = "a list" if p.may_be_empty else "a non-empty list"
            raise UserError(f"{p.name} must be {size} of {_kinds_word(p.scalar_kind)}, got {value!r}")
        return [_coerce_scalar(p, v, f"{p.name}[{i}]") for i, v in enumerate(value)]
    return _coerce_scalar(p, value, p.name)


def _coerce_states(p: Param, value: Any) -> dict[str, dict[str, float]]:
    """``{ISO3: {attribute: value}}``: codes of three capital letters, attributes of STATE_ATTRIBUTES in [0, 1]
    (whether the codes are states of the roster is checked with the roster, see _check_consistency)."""
    if not isinstance(value, Mapping):
        raise UserError(f"{p.name} must be a table of states, e.g. [scenario.states.MNG] compliance = 0.9, "
                        f"got {value!r}")
    out: dict[str, dict[str, float]] = {}
    for code, attrs in value.items():
        if not (isinstance(code, str) and len(code) == 3 and code.isupper() and code.isalpha()):
            raise UserError(f"{p.name}: '{code}' is not an ISO3 code (three capital letters, e.g. MNG)")
        if not isinstance(attrs, Mapping) or not attrs:
            raise UserError(f"{p.name}.{code} must set at least one of {', '.join(STATE_ATTRIBUTES)}, got {attrs!r}")
        row = {}
        for attr, v in attrs.items():
            if attr not in STATE_ATTRIBUTES:
                raise UserError(f"{p.name}.{code}: unknown attribute '{attr}'{suggest(str(attr), STATE_ATTRIBUTES)}; "
                                f"one of {', '.join(STATE_ATTRIBUTES)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise UserError(f"{p.name}.{code}.{attr} must be a number in [0, 1], got {v!r}")
            row[str(attr)] = float(v)
        out[code] = row
    return dict(sorted(out.items()))


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set name=value`` as a TOML value, else as plain text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


class Params(Mapping[str, Any]):
    """Resolved, validated parameter values keyed by dotted name (immutable); a Mapping like a dict.

    Values come as one dict of dotted names (``name[i]`` for a list element); keyword arguments are
    refused, so a misspelt name can never be silently ignored.

    >>> p = Params({"court.legitimacy0": 0.7})
    >>> p["court.legitimacy0"], p.n_accused, "court.legitimacy0" in p, p.get("court.legitimacy", "?")
    (0.7, 2, True, '?')
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None, /, **keywords: Any):
        _refuse_keywords("Params", keywords)
        if values is not None and not isinstance(values, Mapping):
            raise UserError(f"Params takes a dict of dotted names, got {type(values).__name__}")
        resolved = {p.name: _copy(p.default) for p in SCHEMA}
        Params._apply(resolved, dict(values or {}))
        Params._check_consistency(resolved)
        self._values = resolved

    @staticmethod
    def _apply(resolved: dict[str, Any], updates: Mapping[str, Any]) -> None:
        check_references(updates)
        indexed = []
        for name, value in updates.items():
            base, idx = split_name(name)
            if idx is not None:
                indexed.append((base, idx, value, name))
                continue
            resolved[name] = coerce(lookup(name), value)
        for base, idx, value, name in indexed:
            p = lookup(base)
            if not p.is_list:
                raise UserError(f"{base} is not a list, so '{name}' has no meaning; set {base} = value")
            current = list(resolved[base])
            if idx >= len(current):
                raise UserError(f"{name}: index {idx} is out of range, {base} has {len(current)} elements "
                                f"(set the whole list to change its length)")
            current[idx] = value
            resolved[base] = coerce(p, current)

    @staticmethod
    def _check_consistency(v: dict[str, Any]) -> None:
        lengths = {p.name: len(v[p.name]) for p in SCHEMA if p.per_accused}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise UserError(f"the per-accused lists must have one common length (the number of accused): {listed}")
        roster = v["scenario.roster"]
        other = [p for p in SCHEMA if p.applies and p.applies != roster and v[p.name] != p.default]
        if other:
            p = other[0]
            raise UserError(f"{p.name} applies only to the {p.applies} roster, and scenario.roster is {roster!r}; "
                            f"remove {p.name} or set scenario.roster = \"{p.applies}\"")
        if roster == "synthetic" and v["scenario.n_partners"] > v["scenario.n_states"] - 1:
            raise UserError(f"scenario.n_partners = {v['scenario.n_partners']} exceeds the "
                            f"{v['scenario.n_states'] - 1} states other than home; lower it or raise scenario.n_states")
        if roster == "real":
            from sim.data.real import check_scenario

            check_scenario(v["scenario.date"], v["scenario.home"], tuple(v["scenario.partners"]),
                           tuple(v["scenario.states"]))

    def replace(self, updates: Mapping[str, Any] | None = None, /, **keywords: Any) -> Params:
        """A copy with some values changed (dotted names, ``name[i]`` for list elements); only the changed
        values are validated again, then the whole set's consistency."""
        _refuse_keywords("Params.replace", keywords)
        resolved = {k: _copy(v) for k, v in self._values.items()}
        Params._apply(resolved, dict(updates or {}))
        Params._check_consistency(resolved)
        new = object.__new__(Params)
        new._values = resolved
        return new

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except (KeyError, TypeError):
            return self._values[lookup(name).name]

    def value(self, name: str) -> Any:
        """The value of a reference, ``accused.trip_rate[0]`` included (Mapping keys are whole parameters)."""
        base, idx = split_name(reference(name))
        return self[base] if idx is None else self[base][idx]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and self._values == other._values

    def __hash__(self) -> int:
        return hash(repr(sorted(self._values.items())))

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._values.items() if v != BY_NAME[k].default}
        return f"Params({changed!r})"

    @property
    def n_accused(self) -> int:
        return len(self._values["accused.trip_rate"])

    @property
    def horizon(self) -> int:
        return int(self._values["scenario.horizon_months"])

    def layout(self) -> tuple[Any, ...]:
        """What one engine call's replicates must share: the scenario (roster, horizon) and the number of accused."""
        return (*tuple((name, _frozen(self._values[name])) for name in LAYOUT_NAMES), self.n_accused)

    def group(self, name: str) -> dict[str, Any]:
        """The values of one group keyed by short name, e.g. ``group('arrest')['duty']``."""
        return {p.key: self._values[p.name] for p in IN_GROUP.get(name, ())}

    def to_dict(self, changed_only: bool = False) -> dict[str, Any]:
        return {k: _copy(v) for k, v in self._values.items()
                if not changed_only or v != BY_NAME[k].default}


def _refuse_keywords(where: str, keywords: Mapping[str, Any]) -> None:
    if keywords:
        name = next(iter(keywords))
        raise UserError(f"{where} takes one dict of dotted names, not keyword arguments: got {name}={keywords[name]!r}"
                        f"{suggest(name)}; write {where}({{\"group.name\": value}})")


def check_references(names: Iterable[str]) -> None:
    """Two references to one parameter (two spellings of one list index, a list and one of its elements,
    or a name set twice) are an error naming both: otherwise one of them would silently win."""
    whole: dict[str, str] = {}  # parameter -> the spelling that sets all of it
    element: dict[str, str] = {}  # canonical element reference -> its spelling
    first_element: dict[str, str] = {}  # list parameter -> the spelling of its first element set
    for name in names:
        canon = reference(name)
        base, idx = split_name(canon)
        clash = (whole.get(base) or first_element.get(base)) if idx is None else (element.get(canon) or whole.get(base))
        if clash is not None:
            raise UserError(f"'{clash}' and '{name}' both set {canon if idx is not None else base}; keep one of them")
        if idx is None:
            whole[base] = name
        else:
            element[canon] = name
            first_element.setdefault(base, name)


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return list(v) if isinstance(v, list) else v


def _frozen(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple((k, _frozen(x)) for k, x in v.items())
    return tuple(v) if isinstance(v, list) else v


def as_params(params: Params | Mapping[str, Any] | None) -> Params:
    """Accept a Params, a dict of dotted names, or None (defaults)."""
    if isinstance(params, Params):
        return params
    if params is not None and not isinstance(params, Mapping):
        raise UserError(f"params must be a dict of dotted names or a Params, got {type(params).__name__}")
    return Params(params)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["court.legitimacy0=0.7", ...]`` into a dict, validating each name and value."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set expects name=value, got '{item}' (for example --set court.legitimacy0=0.7)")
        name, _, text = item.partition("=")
        name = name.strip()
        reference(name)
        if name in out:
            raise UserError(f"--set {name} is given twice; keep one of them")
        out[name] = parse_value(text)
    Params(out)  # validate values and consistency now, with the user's names
    return out


def flatten_tables(tables: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Read ``[scenario]``/``[parameters]`` tables: dotted keys or nested tables, into dotted names."""
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, Mapping) and name not in BY_NAME:
                walk(name, value)
                continue
            canon = reference(name)
            if canon in spelled:
                raise UserError(f"{where}: {spelled[canon]} and {name} both set {canon}; keep one of them")
            spelled[canon] = name
            out[canon] = value

    walk("", tables)
    try:
        check_references(out)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    return out


def table_markdown() -> str:
    """The parameter table of docs/ODD.md, generated from the schema."""
    rows = ["| parameter | default | range | description |", "|---|---|---|---|"]
    for p in SCHEMA:
        unit = f" ({p.unit})" if p.unit else ""
        rows.append(f"| `{p.name}` | {_fmt(p.default)} | {p.range_text()} | {p.doc}{unit} |")
    return "\n".join(rows)


def table_text() -> str:
    """The parameter table for the terminal (``python -m sim params``)."""
    width = max(len(p.name) for p in SCHEMA)
    lines = []
    for g in GROUPS:
        lines.append(f"[{g}]")
        for p in SCHEMA:
            if p.group == g:
                lines.append(f"  {p.name:<{width}}  {_fmt(p.default):<14} {p.range_text():<18} {p.doc}")
    return "\n".join(lines)
