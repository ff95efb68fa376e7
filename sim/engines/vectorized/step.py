"""One month of ODD §7 for a chunk of replicates at once (the vectorized core's submodels).

Each submodel updates a World (sim.engines.vectorized.world) in place through the formulas of sim.model.rules.
Random draws come from the chunk's one Generator in a fixed order, so a chunk's results depend
only on its seed; the order differs from the Mesa engine's, which ODD §4.9 allows. The passes
over every (replicate, state) cell run tile by tile (Setup.tiles) to stay in cache; tiles never
draw random numbers, so results do not depend on the tiling.
"""

from __future__ import annotations

import numpy as np

from sim.model import rules
from sim.engines.vectorized.world import DTYPE, Setup, World
from sim.model.outcomes import ROUTES

ARRESTED_BY_HOST = ROUTES.index("arrested_by_host")
DOMESTIC_SURRENDER = ROUTES.index("domestic_surrender")
TINY = 1e-30  # weights below this are recomputed in logs (float32 keeps full precision above ~1e-38)
DRAW_BLOCK = 16  # destination draw: pick a block of states by its summed weight, then a state inside it


def step(w: World, s: Setup, rng: np.random.Generator, t: int) -> None:
    """Month t: regime change, outreach, trips, unsealing, norms, withdrawal, legitimacy drift."""
    regime_change(w, s, rng, t)
    travellers = plans(w, s, rng)
    where = rng.random(travellers.shape, dtype=DTYPE)  # the destination draw's uniform for each planned trip
    outreach(w, s, travellers)
    trips(w, s, rng, t, travellers, where)
    unseal(w, s, rng)
    candidates = []
    for rows in s.tiles(w.n):  # ODD §7.5, then ODD §7.6.1's hazards on the tile while it is in cache
        norm_dynamics(w, s, rows)
        candidates.append(withdrawal_hazards(w, s, rows))
    withdrawal(w, s, rng, t, candidates)
    drift(w, s)


def regime_change(w: World, s: Setup, rng: np.random.Generator, t: int) -> None:
    """ODD §7.1: a new home government hands each free accused over with probability π."""
    changed = np.flatnonzero(rng.random(w.n) < s.regime_change)
    if changed.size == 0:
        return
    handed = w.free[changed] & (rng.random((changed.size, s.n_accused)) < s.params["home.surrender_prob"])
    r, j = np.nonzero(handed)
    w.take_custody(changed[r], j, DOMESTIC_SURRENDER, t)


def plans(w: World, s: Setup, rng: np.random.Generator) -> np.ndarray:
    """ODD §7.3.3: which free accused plan a trip this month (drawn before outreach; the draws are independent)."""
    return w.free & (rng.random(w.free.shape) < s.plan_prob)


def outreach(w: World, s: Setup, travellers: np.ndarray) -> None:
    """ODD §7.2: pressure decays; the B most attractive destinations for the free accused get a boost.

    Leaves in ``w.weights[j]`` accused j's destination weights at every state as they stand
    after the boost, valid in the rows where j plans a trip (``travellers`` (R, F)).
    """
    p = s.params
    budget, n_states = p["prosecutor.outreach_budget"], s.n_states
    decay, boost = p["prosecutor.pressure_decay"], p["prosecutor.outreach_boost"]
    active = w.free.any(axis=1)
    rank = 0 < budget < n_states and active.any()
    weigh = rank or travellers.any()
    targets = []
    for rows in s.tiles(w.n):
        rules.decay_pressure(w.pressure[rows], decay, out=w.pressure[rows])
        if budget >= n_states > 0:  # every state but home is targeted: no ranking needed
            w.pressure[rows] = rules.add_pressure(w.pressure[rows],
                                                  np.multiply(active[rows, None], boost, dtype=DTYPE))
        if weigh:
            attraction = _weigh(w, s, rows, rank)
            if rank:
                targets.append(_top(w, s, rows, attraction, active[rows], budget))
    if rank:
        _boost(w, s, np.concatenate(targets), travellers)


def _boost(w: World, s: Setup, flat: np.ndarray, travellers: np.ndarray) -> None:
    """Outreach's boost at the targets (flat indices), and the destination weights recomputed there
    for the accused who plan a trip."""
    pressure = w.pressure.reshape(-1)
    pressure[flat] = rules.add_pressure(pressure[flat], s.params["prosecutor.outreach_boost"])
    at_row = flat // s.n_states
    for j in range(s.n_accused):
        cells = flat[travellers[at_row, j]]
        w.weights[j].reshape(-1)[cells] = w.cell_weights(cells, j)


def _weigh(w: World, s: Setup, rows: slice, rank: bool) -> np.ndarray | None:
    """Destination weights of every accused in a tile (into ``w.weights``) and, if ``rank``, the
    attraction V_i = Σ_free j weight_ij (a positive multiple of the V_i of ODD §7.2: the same ranking)."""
    odds_against = w.odds_against(rows)
    for j in range(s.n_accused):
        _, weight = w.arrest_and_weights(rows, j, odds_against, out=w.weights[j, rows])
        free = w.free[rows, j]
        if rank and not free.all():
            weight[~free] = 0.0  # only free accused attract outreach (and only they travel: no use elsewhere)
    if not rank:
        return None
    if s.n_accused == 1:
        return w.weights[0, rows].copy()
    attraction = np.add(w.weights[0, rows], w.weights[1, rows])
    for j in range(2, s.n_accused):
        attraction += w.weights[j, rows]
    return attraction


def _top(w: World, s: Setup, rows: slice, attraction: np.ndarray, active: np.ndarray, budget: int) -> np.ndarray:
    """Flat indices (into the chunk's (R, S) arrays) of the ``budget`` most attractive states of each
    active row of a tile: those at or above the row's budget-th largest attraction."""
    kth = s.n_states - budget
    threshold = np.sort(attraction, axis=1)[:, kth]  # sorting (SIMD) is faster here than np.partition
    weak = np.flatnonzero(active & (threshold < TINY))
    if weak.size:  # rare: every candidate's weight underflows float32; rank those rows in logs
        attraction[weak] = _log_attraction(w, s, rows.start + weak)
        threshold[weak] = np.sort(attraction[weak], axis=1)[:, kth]
    target = attraction >= threshold[:, None]
    if not active.all():
        target[~active] = False
    if np.count_nonzero(target) != budget * np.count_nonzero(active):
        _break_ties(target, attraction, threshold, budget)
    return np.flatnonzero(target) + rows.start * s.n_states


def _log_attraction(w: World, s: Setup, rows: np.ndarray) -> np.ndarray:
    """log V for the given rows, with the log-sum-exp taken over the free accused."""
    logits = np.stack([w.destination_logits(rows, j) for j in range(s.n_accused)])
    logits[~w.free[rows].T] = -np.inf
    top = logits.max(axis=0)
    return top + np.log(np.exp(logits - top).sum(axis=0))


def _break_ties(target: np.ndarray, attraction: np.ndarray, threshold: np.ndarray, budget: int) -> None:
    """Keep exactly ``budget`` targets per row when values tie at the threshold (ODD §7.2: any tie-break)."""
    for r in np.flatnonzero(np.count_nonzero(target, axis=1) > budget):
        above = attraction[r] > threshold[r]
        at = np.flatnonzero(attraction[r] == threshold[r])
        target[r] = above
        target[r, at[: budget - int(above.sum())]] = True


def trips(w: World, s: Setup, rng: np.random.Generator, t: int, travellers: np.ndarray, where: np.ndarray) -> None:
    """ODD §7.3: each free accused in index order (with its plan drawn) picks a host, may cancel, travels,
    may be arrested."""
    touched = np.zeros(w.n, bool)  # rows where an earlier accused travelled this month
    for j in range(s.n_accused):
        rows = np.flatnonzero(travellers[:, j])
        if rows.size:
            travelled = _turn(w, s, rng, t, j, rows, touched[rows], where[rows, j])
            touched[travelled] = True


def _turn(w: World, s: Setup, rng, t: int, j: int, rows: np.ndarray, touched: np.ndarray,
          u: np.ndarray) -> np.ndarray:
    """Accused j's trip in each of ``rows``; returns the rows where a trip took place."""
    p = s.params
    weight = _turn_weights(w, j, rows, touched)
    host = _draw(weight, u)
    weak = np.flatnonzero(host < 0)
    if weak.size:  # rare: every weight in the row underflows float32; draw from weights scaled in logs
        logit = w.destination_logits(rows[weak], j)
        host[weak] = _draw(np.exp(logit - logit.max(axis=1, keepdims=True)), u[weak])
    cell = rows * s.n_states + host
    prob_host = w.cell_arrest_probability(cell, j)  # the state as j's turn starts
    sealed = w.sealed[rows, j]
    risk = rules.perceived_risk(prob_host, sealed, p["accused.sealed_awareness"]) if sealed.any() else prob_host
    go = risk <= s.max_risk[j]
    if not go.all():
        w.trips_cancelled[rows[~go], j] += 1
        rows, host, cell, prob_host = rows[go], host[go], cell[go], prob_host[go]
    member = w.member.reshape(-1).take(cell) > 0
    w.trips[rows, j] += 1
    w.trips_to_members[rows, j] += member
    arrested = rng.random(rows.size) < prob_host
    if arrested.any():
        a_rows, a_cell = rows[arrested], cell[arrested]
        w.take_custody(a_rows, j, ARRESTED_BY_HOST, t)
        w.legitimacy[a_rows] = rules.legitimacy_after_arrest(w.legitimacy[a_rows], p["court.arrest_gain"])
        compliance = w.compliance.reshape(-1)
        compliance[a_cell] = rules.compliance_after_arrest(compliance[a_cell], p["states.arrest_norm_gain"])
    refused = ~arrested & member
    r_rows, r_cell = rows[refused], cell[refused]
    finding = rng.random(r_rows.size) < p["court.finding_prob"]
    if finding.any():
        f_rows, f_cell = r_rows[finding], r_cell[finding]
        w.state_findings.reshape(-1)[f_cell] += 1
        pressure = w.pressure.reshape(-1)
        pressure[f_cell] = rules.add_pressure(pressure[f_cell], p["court.finding_pressure"])
        w.findings[f_rows] += 1
    w.legitimacy[r_rows] = rules.legitimacy_after_defiance(w.legitimacy[r_rows], p["court.defiance_loss"], finding)
    v_rows = rows[~arrested & ~member]
    w.legitimacy[v_rows] = rules.legitimacy_after_nonmember_visit(w.legitimacy[v_rows], p["court.nonmember_loss"])
    return rows


def _turn_weights(w: World, j: int, rows: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """Destination weights of accused j in ``rows`` from the state as j's turn starts: outreach's
    weights where no earlier accused travelled this month, recomputed in the other rows."""
    weight = w.weights[j].take(rows, axis=0)
    fresh = np.flatnonzero(touched)
    if fresh.size:
        weight[fresh] = w.arrest_and_weights(rows[fresh], j)[1]
    return weight


def _draw(weight: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column per row with probability ∝ weight, one uniform per row.

    Two levels: a block of DRAW_BLOCK columns by its summed weight, then a column inside it;
    each level stops at its last positive entry, so a zero weight is never drawn. Sums run
    across rows (arrays of shape (blocks, rows), one dtype): NumPy is slow along short rows.
    Rows whose total weight is below TINY get −1 (the caller redraws them from rescaled weights).
    """
    n, cols = weight.shape
    full, extra = divmod(cols, DRAW_BLOCK)
    block = np.empty((full + (extra > 0), n), weight.dtype)
    np.einsum("ijk->ji", weight[:, :full * DRAW_BLOCK].reshape(n, full, DRAW_BLOCK), out=block[:full])
    if extra:
        np.einsum("ij->i", weight[:, full * DRAW_BLOCK:], out=block[full])
    cum = _running_sum(block)
    total = cum[-1]
    goal = (u * total).astype(weight.dtype)
    b = np.minimum(_count(cum <= goal), _count(cum < total))
    rows = np.arange(n)
    rest = goal - np.where(b > 0, cum.reshape(-1).take((b - 1) * n + rows, mode="clip"), 0)
    inner_cols = b * DRAW_BLOCK + np.arange(DRAW_BLOCK)[:, None]  # (DRAW_BLOCK, n)
    inner = weight.reshape(-1).take(rows * cols + np.minimum(inner_cols, cols - 1))
    inner[inner_cols >= cols] = 0
    inner_cum = _running_sum(inner)
    offset = np.minimum(_count(inner_cum <= rest), _count(inner_cum < inner_cum[-1]))
    return np.where(total < TINY, -1, b * DRAW_BLOCK + offset)


def _running_sum(a: np.ndarray) -> np.ndarray:
    """Cumulative sums down axis 0 (np.cumsum is slow along a short axis 0)."""
    out = a.copy()
    for k in range(1, len(a)):
        np.add(out[k - 1], out[k], out=out[k])
    return out


def _count(true: np.ndarray) -> np.ndarray:
    """How many entries are True down axis 0 of a boolean array (summed as int8 when that cannot overflow)."""
    return true.view(np.int8).sum(axis=0, dtype=np.int8 if len(true) < 128 else np.intp).astype(np.intp)


def unseal(w: World, s: Setup, rng: np.random.Generator) -> None:
    """ODD §7.4: each sealed warrant becomes public with probability ``prosecutor.unseal_rate``."""
    if w.sealed.any():
        w.sealed &= rng.random(w.sealed.shape) >= s.params["prosecutor.unseal_rate"]


def norm_dynamics(w: World, s: Setup, rows: slice) -> None:
    """ODD §7.5 for a tile of rows: compliance moves towards its regional mean (home included) and with
    the court's legitimacy."""
    p = s.params
    conformity = p["states.conformity"]
    compliance = w.compliance[rows]
    sums = compliance @ s.region_of_column
    sums[:, s.home_region] += w.home_compliance[rows]
    pull = rules.norm_pull(sums / s.region_size, w.legitimacy[rows, None], p["court.legitimacy0"], conformity,
                           p["states.legitimacy_pull"])  # (rows, regions)
    by_column = np.repeat(pull[:, s.segment_region], s.segment_length, axis=1)
    rules.norm_update_from_pull(compliance, by_column, conformity, out=compliance)
    w.home_compliance[rows] = rules.norm_update_from_pull(w.home_compliance[rows], pull[:, s.home_region], conformity)


def withdrawal_hazards(w: World, s: Setup, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """ODD §7.6.1 for a tile of rows: the members that may notify withdrawal now, as flat indices into the
    (R, S) arrays, and their hazards. The hazard is zero unless c < pull (``w.withdrawal_pull``, −inf
    once notified), so only those few cells are evaluated."""
    p, m = s.params, s.n_members0  # states that were members at the start come first: only they can withdraw
    if p["states.withdrawal_rate"] <= 0 or m == 0:
        return np.zeros(0, np.intp), np.zeros(0)
    pull = w.withdrawal_pull[rows]
    cells = np.flatnonzero(w.compliance[rows, :m] < pull)
    flat = cells + cells // m * (s.n_states - m) + rows.start * s.n_states
    hazard = rules.withdrawal_probability_from_pull(pull.reshape(-1).take(cells), w.compliance.reshape(-1).take(flat),
                                                    w.state_findings.reshape(-1).take(flat),
                                                    p["states.withdrawal_rate"])
    return flat, hazard


def withdrawal(w: World, s: Setup, rng: np.random.Generator, t: int,
               candidates: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """ODD §7.6.1: members notify withdrawal with the hazards of ``withdrawal_hazards``; notified withdrawals
    take effect ``withdrawal_delay`` months later."""
    flat = np.concatenate([c[0] for c in candidates])
    notify = flat[rng.random(flat.size) < np.concatenate([c[1] for c in candidates])]
    if notify.size:
        rows, cols = np.divmod(notify, s.n_states)
        w.withdrawal_pull[rows, cols] = -np.inf
        np.add.at(w.withdrawals, rows, 1)
        due = t + s.params["states.withdrawal_delay"]
        w.pending[due] = np.concatenate([w.pending.get(due, notify[:0]), notify])
    effective = w.pending.pop(t, None)
    if effective is not None:
        w.leave_statute(effective)


def drift(w: World, s: Setup) -> None:
    """ODD §7.7: legitimacy reverts towards L0."""
    w.legitimacy = rules.legitimacy_drift(w.legitimacy, s.params["court.legitimacy0"], s.params["court.reversion"])
