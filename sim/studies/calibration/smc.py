"""Sequential Monte Carlo ABC with pyabc, its simulations batched and reproducible whatever the workers.

pyabc's samplers simulate one particle per call of ``simulate_one`` (propose, simulate, compare). Our
pseudo-records are fast only in batches (one engine call per run for many parameter vectors), so
``BatchedSampler`` calls ``simulate_one`` twice per batch: first with the model recording the proposals
(their summaries are placeholders), then — with numpy's global random state restored, so the same
proposals come again — with the model replaying the summaries simulated for the whole batch at once.
Particles are taken in proposal order until the population is full, and the random state is set to
where it stood after the last particle taken, so the result depends neither on the batch size nor on
the number of workers. Each proposal is simulated on its own streams (stream point = sampler call ×
ID_STRIDE + proposal index), and pyabc draws only from numpy's global state, seeded once per run.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.inference import Prior

ID_STRIDE = 10_000_000  # stream points per sampler call: proposals of one generation never share a stream
LOGGERS = ("ABC", "ABC.Sampler", "ABC.Population", "ABC.History", "ABC.Distance", "ABC.Epsilon", "ABC.Acceptor",
           "ABC.Transition", "ABC.Adaptation", "ABC.Predictor", "ABC.Sumstat", "pyabc")


def _pyabc():
    try:
        import pyabc
    except ImportError:
        from sim.errors import UserError

        raise UserError("calibration needs pyabc: pip install -e '.[inference]'") from None
    for name in LOGGERS:  # pyabc logs every generation at INFO; the study shows its own progress
        logging.getLogger(name).setLevel(logging.WARNING)
    return pyabc


class RecordModel:
    """A pyabc model whose summaries are simulated in batches by BatchedSampler (record, then replay)."""

    def __init__(self, names: Sequence[str], placeholder: dict[str, float]):
        pyabc = _pyabc()

        model_base: Any = pyabc.Model  # pyabc has no type information: its classes are Any to mypy

        class _Model(model_base):
            def sample(inner, pars):
                return self.sample(pars)

        self.model = _Model(name="record")
        self.names = list(names)
        self.placeholder = dict(placeholder)
        self._recorded: list[np.ndarray] = []
        self._results: list[dict[str, float]] | None = None
        self._position = 0

    def record(self) -> None:
        self._recorded, self._results, self._position = [], None, 0

    def replay(self, results: list[dict[str, float]]) -> None:
        self._results, self._position = results, 0

    def recorded(self) -> np.ndarray:
        return np.array(self._recorded, dtype=float).reshape(len(self._recorded), len(self.names))

    def sample(self, pars) -> dict[str, float]:
        values = np.array([float(pars[n]) for n in self.names])
        if self._results is None:
            self._recorded.append(values)
            return dict(self.placeholder)
        k = self._position
        self._position += 1
        if not np.allclose(self._recorded[k], values, rtol=0, atol=0):
            raise RuntimeError("pyabc proposed other parameters on replay; its random state is not reproducible")
        return self._results[k]


def make_sampler(model: RecordModel, simulate: Callable[[np.ndarray, np.ndarray], list[dict[str, float]]],
                 batch: int, progress: Callable[[int, int, int], None] | None = None):
    """A pyabc Sampler that evaluates proposals ``batch`` at a time with ``simulate(values, ids)``."""
    pyabc = _pyabc()

    sampler_base: Any = pyabc.sampler.Sampler  # untyped, as in RecordModel

    class BatchedSampler(sampler_base):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False,
                                    ana_vars=None):
            call, self.calls = self.calls, self.calls + 1
            sample = self._create_empty_sample()
            evaluations = 0
            while sample.n_accepted < n and evaluations < max_eval:
                size = int(min(batch, max_eval - evaluations))
                start = np.random.get_state()
                model.record()
                after = []
                for _ in range(size):
                    simulate_one()
                    after.append(np.random.get_state())
                values = model.recorded()
                ids = call * ID_STRIDE + evaluations + np.arange(size, dtype=np.int64)
                results = simulate(values, ids)
                np.random.set_state(start)
                model.replay(results)
                for k in range(size):
                    sample.append(simulate_one())
                    evaluations += 1
                    if sample.n_accepted >= n:
                        np.random.set_state(after[k])
                        break
                if progress is not None:
                    progress(call, sample.n_accepted, evaluations)
            self.nr_evaluations_ = evaluations
            if sample.n_accepted < n:
                sample.ok = False
            return sample

    return BatchedSampler()


@dataclass
class SMCResult:
    """The final population (parameters, weights, distances), every generation's, and the run's record."""

    population: pd.DataFrame  # parameter columns, weight, distance
    generations: pd.DataFrame  # t, epsilon, particles, evaluations, acceptance_rate
    history_path: Path


def run_smc(priors: Sequence[Prior], observed: dict[str, float], simulate, *, seed: int, particles: int,
            generations: int, batch: int, min_acceptance: float, min_epsilon: float = 0.0, kernel_scaling: float = 1.0,
            history: Path | None = None, progress: Callable[[int, int, int], None] | None = None) -> SMCResult:
    """ABC-SMC of ``priors`` against ``observed`` summaries with adaptive scale-normalised distances
    (pyabc's AdaptivePNormDistance: Prangle 2017), a median-quantile epsilon schedule, and a multivariate normal
    proposal kernel of ``kernel_scaling`` times Silverman's bandwidth (pyabc's MultivariateNormalTransition)."""
    pyabc = _pyabc()
    names = [p.name for p in priors]
    model = RecordModel(names, observed)
    prior = pyabc.Distribution(**{p.name: _rv(pyabc, p) for p in priors})
    log = np.array([p.dist == "loguniform" for p in priors])

    def natural(values: np.ndarray, ids: np.ndarray) -> list[dict[str, float]]:
        values = np.array(values, dtype=float)
        values[:, log] = 10.0 ** values[:, log]  # log-uniform priors are sampled as uniform in log10
        return simulate(values, ids)

    sampler = make_sampler(model, natural, batch, progress)
    distance = pyabc.AdaptivePNormDistance(p=2)
    abc = pyabc.ABCSMC(model.model, prior, distance, population_size=particles, sampler=sampler,
                       transitions=pyabc.MultivariateNormalTransition(scaling=kernel_scaling),
                       eps=pyabc.QuantileEpsilon(alpha=0.5))
    np.random.seed(int(np.random.SeedSequence([0x534D43, int(seed)]).generate_state(1)[0]))
    path = Path(tempfile.mkdtemp(prefix="sim-abc-")) / "history.db" if history is None else Path(history)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    abc.new(f"sqlite:///{path}", observed)
    hist = abc.run(max_nr_populations=generations, min_acceptance_rate=min_acceptance,
                   minimum_epsilon=min_epsilon)
    final = hist.get_population(t=hist.max_t).particles  # parameters, weights and distances together
    population = pd.DataFrame({n: [float(q.parameter[n]) for q in final] for n in names})
    for p, is_log in zip(priors, log):
        if is_log:
            population[p.name] = 10.0 ** population[p.name]
    weights = np.array([q.weight for q in final], dtype=float)
    population["weight"] = weights / weights.sum()
    population["distance"] = [float(q.distance) for q in final]
    pops = hist.get_all_populations()
    pops = pops[pops["t"] >= 0]
    gens = pd.DataFrame({"t": pops["t"].astype(int), "epsilon": pops["epsilon"].astype(float),
                         "particles": particles, "evaluations": pops["samples"].astype(int)})
    gens["acceptance_rate"] = gens["particles"] / gens["evaluations"]
    gens["ess"] = [_ess(hist, int(t)) for t in gens["t"]]
    return SMCResult(population=population, generations=gens.reset_index(drop=True), history_path=path)


def _ess(hist, t: int) -> float:
    """Effective sample size of generation t: (Σw)² / Σw²."""
    w = np.array([q.weight for q in hist.get_population(t=t).particles], dtype=float)
    return float(w.sum() ** 2 / (w ** 2).sum())


def _rv(pyabc, p: Prior):
    if p.dist == "uniform":
        return pyabc.RV("uniform", p.low, p.high - p.low)
    if p.dist == "loguniform":  # sampled as log10(value), uniform: the kernel then works on the right scale
        return pyabc.RV("uniform", np.log10(p.low), np.log10(p.high) - np.log10(p.low))
    return pyabc.RV("beta", p.a, p.b, loc=p.low, scale=p.high - p.low)
