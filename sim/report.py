"""One Mesa run told in words: event sentences, the run's short account, and ``python -m sim run``."""

from __future__ import annotations

import json
from pathlib import Path

from sim.agents import Event
from sim.model import TribunalModel
from sim.params import parse_overrides
from sim.sweep.config import params_from_file

_SENTENCES = {
    "warrant_issued": "the Court issued an arrest warrant for {target} ({detail})",
    "warrant_sealed": "the warrant for {target} is under seal: {detail}",
    "warrant_unsealed": "the warrant for {target} became public ({detail})",
    "outreach": "the Prosecutor pressed {target} to cooperate ({detail})",
    "trip": "{actor} travelled to {target} ({detail})",
    "trip_cancelled": "{actor} called off a trip to {target} ({detail})",
    "arrest": "{actor} arrested {target} and surrendered them to the Court",
    "non_arrest": "{actor} ({detail}) did not arrest {target}",
    "finding": "the Court found {target} in non-compliance ({detail})",
    "withdrawal_notified": "{actor} notified its withdrawal from the Statute, {detail}",
    "withdrawal_effective": "{actor} left the Statute: {detail}",
    "regime_change": "the government of {actor} changed: {detail}",
    "surrender": "the new government of {actor} handed {target} over to the Court",
}


def describe(event: Event) -> str:
    """An event as one English sentence, e.g. 'Month 12: the head of state travelled to State 7 (state party).'"""
    text = _SENTENCES.get(event.event, "{actor} {event} {target} {detail}").format(**event._asdict())
    return f"Month {event.t}: {text[0].upper()}{text[1:]}."


def account(model: TribunalModel) -> str:
    """A short readable account of a finished (or running) replicate."""
    lines = [f"{model.month} months, {model.roster.n_states} states "
             f"({int(model.roster.member.sum())} states parties at the start), home: {model.home.name}."]
    for a in model.accused:
        fate = (f"in custody from month {a.custody_month} ({a.route.replace('_', ' ')})" if a.in_custody
                else "still at large")
        lines.append(f"- {a.name[0].upper()}{a.name[1:]}: {fate}; {a.trips} trips "
                     f"({a.trips_to_members} to states parties), {a.trips_cancelled} called off.")
    lines.append(f"- Non-compliance findings: {model.findings}; withdrawals notified: {model.withdrawals}; "
                 f"states parties at the end: {int(model.state_vars['member'].sum())}.")
    lines.append(f"- Court legitimacy: {model.params['court.legitimacy0']:.2f} at the start, "
                 f"{model.court.legitimacy:.2f} at the end.")
    key = [e for e in model.events if e.event in ("arrest", "surrender", "finding", "withdrawal_notified",
                                                   "regime_change", "warrant_unsealed")]
    if key:
        lines.append("Key events:")
        lines.extend(f"  {describe(e)}" for e in key[:20])
        if len(key) > 20:
            lines.append(f"  ... and {len(key) - 20} more in the event log.")
    return "\n".join(lines)


def outcome_record(model: TribunalModel, seed: int) -> dict:
    """The run's outputs (MODEL.md §5) and everything needed to rerun it."""
    frame = model.outcomes().frame()
    return {
        "seed": seed,
        "parameters": model.params.to_dict(),
        "accused": [{"name": a.name, **{k: (None if v is None or v != v else v) for k, v in row.items()}}
                    for a, row in zip(model.accused, _plain_rows(frame))],
    }


def _plain_rows(frame):
    for rec in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        yield {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}


def write_run(model: TribunalModel, seed: int, out: Path) -> None:
    """The run's event log, series and outputs, and a manifest that is enough to rerun it."""
    from sim.sweep import store
    from sim.sweep.runner import software

    out.mkdir(parents=True, exist_ok=True)
    files = {"events.csv": lambda tmp: model.events_frame().to_csv(tmp, index=False),
             "series.csv": lambda tmp: model.series().to_csv(tmp, index=False)}
    for name, write in files.items():
        store.atomic_write(out / name, write)
    store.write_json(out / "outcome.json", outcome_record(model, seed))
    changed = model.params.to_dict(changed_only=True)
    sets = " ".join(f"--set {k}={json.dumps(v, separators=(',', ':'))}" for k, v in changed.items())
    store.write_json(out / "manifest.json", {
        "command": f"python -m sim run --seed {seed} {sets}".strip(),
        "engine": "mesa", "seed": seed, "parameters": model.params.to_dict(), "software": software(),
        "outputs": {name: store.sha256(out / name) for name in (*files, "outcome.json")},
    })


def run_command(args) -> int:
    overrides = parse_overrides(args.overrides)
    params = params_from_file(args.config, overrides) if args.config else params_from_file(None, overrides)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        from sim.errors import UserError

        raise UserError(f"--out {out} is a file; give a folder path")
    model = TribunalModel(params, rng=run_seed(args.seed)).run()
    print(account(model))
    if out is not None:
        write_run(model, args.seed, out)
        print(f"Wrote events.csv, series.csv, outcome.json and manifest.json to {out}/")
    return 0


def run_seed(seed: int):
    """The SeedSequence of `python -m sim run --seed N`: replicate 0 of sim.simulate(seed=N, engine='mesa')."""
    from sim.simulate import block_seed, child_seed, root_seed

    return child_seed(block_seed(root_seed(seed), 0), 0)
