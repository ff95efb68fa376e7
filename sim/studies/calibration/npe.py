"""Neural posterior estimation (sbi's NPE) on the record's own design: a training set of pseudo-records drawn
from the prior, a normalizing flow trained in the priors' unconstrained space, posterior samples of any
record in one pass (amortized: the checks fit thousands of pseudo-records with the same network).

The flow learns z = logit(F(θ)) (sim.analysis.prior_space), where the prior is a standard logistic on the
whole real line: no sample can leave a bounded prior, so nothing is rejected and SBC never stalls on leakage.
Every random number is seeded: prior draws from SeedSequence streams, simulations on counter-based streams
(stream point TRAIN_ID + draw), torch from SeedSequence([NPE_TAG, seed, stage]) with deterministic algorithms
and a fixed number of threads. On one machine with the same threads a rerun gives the same bytes; another
thread count or CPU gives another network within training noise (docs/validation.md, tests/test_npe.py).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.inference import Prior, statistic_names
from sim.analysis.prior_space import from_unconstrained, to_unconstrained
from sim.errors import UserError
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import Design
from sim.studies.calibration.npe_config import NPESettings
from sim.studies.calibration.simulate import parallel_summaries
from sim.studies.calibration.smc import ID_STRIDE

NPE_TAG = 0x4E5045  # "NPE": torch's seeds, apart from every other stream
TRAIN_TAG, SBC_TAG, DAP_TAG = 0x545241494E, 0x4E53424300, 0x44415000  # prior draws: training set, SBC truths, DAP
TRAIN_ID = 904 * ID_STRIDE  # stream points of the training set's pseudo-records
STAGES = {"train": 1, "record": 2, "sbc": 3, "tarp": 4, "forecast": 5, "dap": 6}  # torch seeds per use
QUIET = (  # warnings of torch and sbi that say nothing about this use (the summaries' scales are known)
    r"torch\.triangular_solve is deprecated", r"The passed discrete prior has no mean", r"Capping max_sampling",
    r"Data has (extreme outliers|constant values)")


def torch_modules() -> tuple[Any, Any]:
    """torch and sbi, or one clear line on how to install them."""
    try:
        import sbi.inference
        import torch
    except ImportError:
        raise UserError("method = \"npe\" needs torch and sbi: pip install -e '.[npe]' (README: CPU and GPU "
                        "builds of torch)") from None
    import sbi

    return torch, sbi


def torch_seed(seed: int, stage: str) -> int:
    """torch's seed for one use (``STAGES``) of a calibration's seed."""
    return int(np.random.SeedSequence([NPE_TAG, int(seed), STAGES[stage]]).generate_state(1)[0])


@contextmanager
def torch_state(threads: int, seed: int, stage: str) -> Iterator[Any]:
    """torch seeded for ``stage``, with deterministic algorithms and ``threads`` threads; restored after."""
    torch, _ = torch_modules()
    threads_before, deterministic_before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(torch_seed(seed, stage))
    try:
        with warnings.catch_warnings():
            for text in QUIET:
                warnings.filterwarnings("ignore", message=text)
            yield torch
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)


class SilentTracker:
    """sbi's training tracker that records nothing: sbi's default writes TensorBoard logs into ./sbi-logs of
    whatever the working directory is; the loss history this package keeps is ``Trained.history``."""

    log_dir = None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Nothing: the losses are in ``inference.summary``."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Nothing."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Nothing."""

    def add_figure(self, name: str, figure: Any, step: int | None = None) -> None:
        """Nothing."""

    def flush(self) -> None:
        """Nothing to write."""


def prior_draws(priors: Sequence[Prior], seed: int, n: int, tag: int) -> np.ndarray:
    """(n, K) values from the priors, one SeedSequence stream per parameter (the first n of any longer draw)."""
    root = np.random.SeedSequence([tag, int(seed)])
    return np.column_stack([p.sample(np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(i,))), n)
                            for i, p in enumerate(priors)])


def logistic_prior(k: int) -> Any:
    """The priors on the unconstrained scale: K independent standard logistic distributions."""
    torch, _ = torch_modules()
    from torch.distributions import Independent, SigmoidTransform, TransformedDistribution, Uniform

    return Independent(TransformedDistribution(Uniform(torch.zeros(k), torch.ones(k)), [SigmoidTransform().inv]), 1)


def summary_names(cal: Calibration) -> list[str]:
    """The statistics the network reads, in order (the ABC-SMC's, so both methods fit the same summaries)."""
    return statistic_names(cal.months, cal.travel)


def simulate(cal: Calibration, design: Design, values: np.ndarray, ids: np.ndarray, *, workers: int = 1,
             pool=None) -> np.ndarray:
    """Summaries (N, S) of the pseudo-records of ``values`` on stream points ``ids`` (the calibration's simulator)."""
    stats = parallel_summaries(design, cal.priors, values, ids, cal.seed, cal.engine, cal.months, workers, pool=pool,
                               travel=cal.travel)
    return stats[summary_names(cal)].to_numpy(float)


def training_set(cal: Calibration, design: Design, n: int, *, workers: int = 1, pool=None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` prior draws and their pseudo-records' summaries."""
    values = prior_draws(cal.priors, cal.seed, n, TRAIN_TAG)
    return values, simulate(cal, design, values, TRAIN_ID + np.arange(n), workers=workers, pool=pool)


@dataclass
class Trained:
    """A trained posterior estimator: sbi's posterior on the unconstrained scale and how training went."""

    posterior: Any
    priors: tuple[Prior, ...]
    settings: NPESettings
    seed: int
    history: pd.DataFrame  # epoch, training_loss, validation_loss (mean negative log-probability; lower is better)
    simulations: int
    dropped: int  # pseudo-records whose summaries were not finite (left out of training)
    seconds: float

    def sample(self, x: np.ndarray, n: int, stage: str = "record") -> np.ndarray:
        """(n, K) parameter values drawn from the posterior given summaries ``x`` (S,)."""
        with torch_state(self.settings.threads, self.seed, stage) as torch:
            z = self.posterior.sample((n,), x=torch.as_tensor(np.asarray(x, np.float32)), show_progress_bars=False)
        return from_unconstrained(self.priors, z.numpy().astype(float))

    def sample_batched(self, xs: np.ndarray, n: int, stage: str) -> np.ndarray:
        """(n, M, K) parameter values: ``n`` posterior draws for each of the M records ``xs`` (M, S)."""
        with torch_state(self.settings.threads, self.seed, stage) as torch:
            z = self.posterior.sample_batched((n,), x=torch.as_tensor(np.asarray(xs, np.float32)),
                                              show_progress_bars=False)
        shape = z.shape
        return from_unconstrained(self.priors, z.numpy().astype(float).reshape(-1, shape[-1])).reshape(shape)


def train(priors: Sequence[Prior], values: np.ndarray, x: np.ndarray, settings: NPESettings, seed: int) -> Trained:
    """Train sbi's NPE on (``values``, ``x``) in the unconstrained space; pseudo-records with non-finite
    summaries are left out (the posterior of a finite record is the same with or without them)."""
    torch_modules()
    from sbi.inference import NPE
    from sbi.neural_nets import posterior_nn

    start = time.perf_counter()
    priors = tuple(priors)
    finite = np.isfinite(x).all(axis=1)
    if finite.sum() < 10 * len(priors):
        raise UserError(f"only {int(finite.sum())} of {len(x)} pseudo-records have finite summaries; the design's "
                        "summaries are undefined for most of the prior")
    z = to_unconstrained(priors, values[finite])
    with torch_state(settings.threads, seed, "train") as torch:
        build = posterior_nn(model=settings.estimator, hidden_features=settings.hidden_features,
                             num_transforms=settings.transforms, num_bins=settings.bins)
        inference = NPE(prior=logistic_prior(len(priors)), density_estimator=build, show_progress_bars=False,
                        tracker=SilentTracker())
        inference.append_simulations(torch.as_tensor(z, dtype=torch.float32),
                                     torch.as_tensor(x[finite], dtype=torch.float32))
        estimator = inference.train(training_batch_size=settings.batch, learning_rate=settings.learning_rate,
                                    validation_fraction=settings.validation_fraction,
                                    stop_after_epochs=settings.patience, max_num_epochs=settings.max_epochs)
        posterior = inference.build_posterior(estimator)
    summary = inference.summary
    history = pd.DataFrame({"epoch": np.arange(1, len(summary["training_loss"]) + 1),
                            "training_loss": summary["training_loss"],
                            "validation_loss": summary["validation_loss"]})
    return Trained(posterior=posterior, priors=priors, settings=settings, seed=seed, history=history,
                   simulations=len(x), dropped=int((~finite).sum()), seconds=time.perf_counter() - start)


def train_on_design(cal: Calibration, design: Design, *, workers: int = 1, pool=None) -> tuple[Trained, float]:
    """Simulate the training set of ``design`` and train on it; also return the simulation's seconds."""
    if cal.npe is None:
        raise UserError("this calibration's method is not \"npe\"")
    start = time.perf_counter()
    values, x = training_set(cal, design, cal.npe.simulations, workers=workers, pool=pool)
    simulated = time.perf_counter() - start
    return train(cal.priors, values, x, cal.npe, cal.seed), simulated


def population(trained: Trained, observed: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """The record's posterior as an equally weighted population (the ABC-SMC's columns: parameters, weight)."""
    draws = trained.sample(observed, trained.settings.samples, "record")
    frame = pd.DataFrame(draws, columns=list(names))
    frame["weight"] = 1.0 / len(frame)
    return frame


def _tensor(values: np.ndarray) -> Any:
    torch, _ = torch_modules()
    return torch.as_tensor(np.asarray(values, np.float32))


def sbc(trained: Trained, truths: np.ndarray, xs: np.ndarray, draws: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Simulation-based calibration with sbi's run_sbc and check_sbc: each truth's rank among ``draws`` posterior
    draws of its pseudo-record (N, K; 0..draws), and sbi's checks (``ks_pvals``, ``c2st_ranks``, ``c2st_dap``)
    against as many fresh prior draws. Ranks on the unconstrained scale are the ranks on the parameters' own."""
    from sbi.diagnostics import check_sbc, run_sbc

    z = to_unconstrained(trained.priors, truths)
    fresh = to_unconstrained(trained.priors, prior_draws(trained.priors, trained.seed, len(truths), DAP_TAG))
    with torch_state(trained.settings.threads, trained.seed, "sbc"):
        ranks, dap = run_sbc(_tensor(z), _tensor(xs), trained.posterior, num_posterior_samples=draws,
                             show_progress_bar=False)
        checks = check_sbc(ranks, _tensor(fresh), dap, num_posterior_samples=draws)
    return ranks.numpy(), {k: np.atleast_1d(v.numpy()) for k, v in checks.items()}


def tarp(trained: Trained, truths: np.ndarray, xs: np.ndarray, draws: int) -> tuple[np.ndarray, np.ndarray, float,
                                                                                    float]:
    """TARP with sbi's run_tarp and check_tarp on the priors' probability scale (distances between F(θ) points;
    reference points uniform in the unit cube, one per record): expected coverage, credibility levels, sbi's
    area to the curve (below 0: overconfident) and its KS p-value."""
    from sbi.diagnostics import check_tarp, run_tarp
    from sbi.utils.metrics import l2

    torch, _ = torch_modules()
    z = to_unconstrained(trained.priors, truths)
    rng = np.random.default_rng(np.random.SeedSequence([NPE_TAG, trained.seed, STAGES["tarp"]]))
    references = np.log(u := rng.uniform(1e-9, 1 - 1e-9, size=z.shape)) - np.log1p(-u)

    def distance(a, b):
        return l2(torch.sigmoid(a), torch.sigmoid(b))

    with torch_state(trained.settings.threads, trained.seed, "tarp"):
        ecp, alpha = run_tarp(_tensor(z), _tensor(xs), trained.posterior, references=_tensor(references),
                              num_posterior_samples=draws, show_progress_bar=False, distance=distance,
                              z_score_theta=False)
        atc, ks = check_tarp(ecp, alpha)
    # float32 values written by their shortest decimal (0.15, not 0.150000006)
    return (ecp.numpy().astype(str).astype(float), alpha.numpy().astype(str).astype(float), float(atc), float(ks))
