"""One month of the NumPy core for a chunk of rows: the protocol's submodels (sim.model.protocol) as arrays.

Each function takes, for every row at once, the decisions sim.model.protocol takes for one replicate: the same
guards, the same rule of sim.model.rules, the same random number (a pure function of the row's key, the
decision's stream, the month and a slot, sim.model.streams), the same bookkeeping. tests/test_protocol.py
checks that its replicates are the protocol's, so a decision changed in one place and not the other fails.
"""

from __future__ import annotations

import numpy as np

from sim.engines.vectorized.world import DTYPE, World
from sim.model import rules
from sim.model.outcomes import NEVER
from sim.model.passes import TINY
from sim.model.protocol import ARRESTED_BY_HOST, DOMESTIC_SURRENDER, SUBMODELS
from sim.model.streams import Stream, uniform, uniforms, uniforms_at


def step(w: World, t: int) -> None:
    """Month t: the submodels of protocol.SUBMODELS in their order."""
    for name in SUBMODELS:
        SUBMODEL[name](w, t)


# --- ODD §7.0 the warrant at issue ------------------------------------------------------------------------------

def warrant_at_issue(w: World, t: int) -> None:
    """Month 0: a government already fallen (4.1's consequences now); warrants timed to a stay."""
    if t != 0:
        return
    p, f = w.p, w.layout.n_accused
    if p.any_positive("home.fallen_at_issue"):
        fallen = np.flatnonzero(rules.happens(uniform(w.keys, Stream.FALLEN, 0), p.row("home.fallen_at_issue")))
        if fallen.size:
            _new_government(w, fallen, Stream.FALLEN_FATE, 0)
    if p.any_positive("prosecutor.timed_share"):
        timed = rules.happens(uniforms(w.keys, Stream.TIMED, 0, f), p.col("prosecutor.timed_share"))
        for j in range(f):
            rows = np.flatnonzero(timed[:, j] & w.active[:, j])
            if rows.size:
                _timed_stay(w, j, rows)


def _timed_stay(w: World, j: int, rows: np.ndarray) -> None:
    """ODD §7.0.2: under seal while in a state party, drawn ∝ destination weight among current members."""
    member = w.member[rows] > 0
    has_member = member.any(axis=1)  # with no state party there is no timed warrant: nothing is sealed
    rows, member = rows[has_member], member[has_member]
    if rows.size == 0:
        return
    w.sealed[rows, j] = True
    _, weight = w.arrest_and_weights(rows, j)
    weight = rules.timed_host_weights(weight, member)
    u = uniform(w.keys[rows], Stream.TIMED_HOST, 0, j)
    host = _draw(weight, u)
    weak = np.flatnonzero(host < 0)
    if weak.size:
        logit = np.where(member[weak], w.destination_logits(rows[weak], j), -np.inf)
        host[weak] = _draw(np.exp(logit - logit.max(axis=1, keepdims=True)), u[weak])
    cell = rows * w.layout.n_states + host
    w.trips[rows, j] += 1
    w.trips_to_members[rows, j] += 1
    w.trips_at_issue[rows, j] = 1
    prob = rules.timed_arrest_probability(w.p.at("prosecutor.timed_arrest", rows), w.cell_arrest_probability(cell, j))
    _visit(w, j, rows, cell, prob, np.ones(rows.size, bool), 0, Stream.TIMED_ARREST, Stream.TIMED_FINDING)


# --- ODD §7.1 regime change at home -----------------------------------------------------------------------------

def regime_change(w: World, t: int) -> None:
    """Detained accused may be handed over; then a new government may take office and hand over or detain."""
    p, f = w.p, w.layout.n_accused
    if w.detained.any() and p.any_positive("home.detained_surrender_rate"):
        u = uniforms(w.keys, Stream.DETAINED_SURRENDER, t, f)
        r, j = np.nonzero(w.detained & rules.happens(u, p.col("home.detained_surrender_rate")))
        w.take_custody(r, j, DOMESTIC_SURRENDER, t)
    changed = np.flatnonzero(rules.happens(uniform(w.keys, Stream.REGIME, t), w.regime_change))
    if changed.size:
        w.regime_changes[changed] += 1
        first = changed[w.regime_change_month[changed] == NEVER]
        w.regime_change_month[first] = t
        _new_government(w, changed, Stream.REGIME_FATE, t)


def _new_government(w: World, rows: np.ndarray, stream: Stream, t: int) -> None:
    """4.1's consequences in ``rows``: each free accused surrendered, detained at home, or left free."""
    p = w.p
    fate = rules.fate_at_regime_change(uniforms(w.keys[rows], stream, t, w.layout.n_accused),
                                       _rows_of(p.col("home.surrender_prob"), rows),
                                       _rows_of(p.col("home.detain_prob"), rows))
    active = w.active[rows]
    r, j = np.nonzero(active & (fate == rules.SURRENDERED))
    w.take_custody(rows[r], j, DOMESTIC_SURRENDER, t)
    r, j = np.nonzero(active & (fate == rules.DETAINED))
    w.detain(rows[r], j, t)


def _rows_of(value, rows):
    return value if np.ndim(value) == 0 else value[rows]


# --- ODD §7.2 outreach and ODD §7.3 trips -----------------------------------------------------------------------------

def plans(w: World, t: int) -> np.ndarray:
    """ODD §7.3.3: which free accused plan a trip this month (independent of everything else drawn)."""
    return w.active & rules.happens(uniforms(w.keys, Stream.PLAN, t, w.layout.n_accused), w.plan)


def invitations(w: World, t: int) -> np.ndarray:
    """ODD §7.3.0 (v1.5): which free heads of state are invited this month."""
    hos = np.broadcast_to(w.p.per_accused("accused.head_of_state") > 0, w.active.shape)
    invite = w.invite[:, None]
    if not (invite > 0).any():
        return np.zeros(w.active.shape, bool)
    return w.active & hos & (invite > 0) & rules.happens(uniforms(w.keys, Stream.INVITE, t, w.layout.n_accused),
                                                        invite)


def outreach(w: World, t: int) -> None:
    """ODD §7.2: pressure decays; the B most attractive destinations for the free accused get a boost.

    Draws this month's plans first (``w.travellers``, (R, F)) and leaves in ``w.weights[j]`` accused j's
    destination weights at every state as they stand after the boost, valid in the rows where j plans a trip.
    """
    w.travellers = travellers = plans(w, t)
    p, n_states = w.p, w.layout.n_states
    rules.decay_pressure(w.pressure, p.col("prosecutor.pressure_decay"), out=w.pressure)
    active = w.active
    any_active = active.any(axis=1)
    budget = np.broadcast_to(np.asarray(p.row("prosecutor.outreach_budget")), (w.n,))
    everyone = any_active & (budget >= n_states)
    rank = any_active & (budget > 0) & (budget < n_states)
    if not (rank.any() or travellers.any()) or n_states == 0:
        if everyone.any():
            _boost(w, np.flatnonzero(np.repeat(everyone, n_states)), travellers, weights_valid=False)
        return
    odds_against = w.odds_against(slice(None))
    for j in range(w.layout.n_accused):
        w.arrest_and_weights(slice(None), j, odds_against, out=w.weights[j])
    targets = np.zeros((w.n, n_states), bool)
    targets[everyone] = True
    if rank.any():
        attraction = _attraction(w, active)
        weak = np.flatnonzero(rank & (attraction.max(axis=1, initial=0) < TINY))
        if weak.size:  # rare: every candidate's weight underflows float32; rank those rows in logs
            attraction[weak] = _log_attraction(w, weak)
        chosen = np.flatnonzero(rank)
        targets[chosen] = rules.outreach_targets(attraction[chosen], budget[chosen], True)
    _boost(w, np.flatnonzero(targets), travellers, weights_valid=True)


def _boost(w: World, flat: np.ndarray, travellers: np.ndarray, weights_valid: bool) -> None:
    """Outreach's boost at the targets (flat indices), and the destination weights of the travellers
    recomputed there (or everywhere, when they were not computed this month)."""
    pressure = w.pressure.reshape(-1)
    row = flat // max(1, w.layout.n_states)
    pressure[flat] = rules.add_pressure(pressure[flat], _rows_of(w.p.row("prosecutor.outreach_boost"), row))
    for j in range(w.layout.n_accused):
        if not weights_valid:
            rows = np.flatnonzero(travellers[:, j])
            if rows.size:
                w.weights[j][rows] = w.arrest_and_weights(rows, j)[1]
            continue
        cells = flat[travellers[row, j]]
        w.weights[j].reshape(-1)[cells] = w.cell_weights(cells, j)


def _attraction(w: World, active: np.ndarray) -> np.ndarray:
    """V_i = Σ_{free j} weight_ij (a positive multiple of the ODD's V_i: the same ranking)."""
    attraction = np.zeros(w.weights.shape[1:], DTYPE)
    for j in range(w.layout.n_accused):
        if active[:, j].all():
            attraction += w.weights[j]
        elif active[:, j].any():
            attraction += w.weights[j] * active[:, j, None]
    return attraction


def _log_attraction(w: World, rows: np.ndarray) -> np.ndarray:
    """log V for the given rows, with the log-sum-exp taken over the free accused."""
    logits = np.stack([w.destination_logits(rows, j) for j in range(w.layout.n_accused)])
    logits[~w.active[rows].T] = -np.inf
    top = logits.max(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(top), top + np.log(np.exp(logits - top).sum(axis=0)), -np.inf)


def trips(w: World, t: int) -> None:
    """ODD §7.3: each free accused in index order (with its plan and invitation drawn) answers an invitation,
    picks a host, may cancel, travels, may be arrested."""
    touched = np.zeros(w.n, bool)  # rows where an earlier accused visited a host this month
    invited = invitations(w, t)
    for j in range(w.layout.n_accused):
        rows = np.flatnonzero(w.travellers[:, j] | invited[:, j])
        if rows.size:
            touched[_turn(w, t, j, rows, w.travellers[rows, j], invited[rows, j], touched[rows])] = True


def _turn(w: World, t: int, j: int, rows: np.ndarray, plans: np.ndarray, invited: np.ndarray,
          touched: np.ndarray) -> np.ndarray:
    """Accused j's turn in each of ``rows`` (where it plans a trip or is invited); P_ij and r_ij as the turn
    starts serve the invitation and the trip alike. Returns the rows where j visited a host."""
    s = w.layout.n_states
    planned, visited = rows[plans], []
    if planned.size:  # ODD §7.3.4: the destination, and its P_ij as j's turn starts
        weight = _turn_weights(w, j, planned, touched[plans])
        u = uniform(w.keys[planned], Stream.DESTINATION, t, j)
        host = _draw(weight, u)
        weak = np.flatnonzero(host < 0)
        if weak.size:  # rare: every weight in the row underflows float32; draw from weights scaled in logs
            logit = w.destination_logits(planned[weak], j)
            host[weak] = _draw(np.exp(logit - logit.max(axis=1, keepdims=True)), u[weak])
        cell = planned * s + host
        prob_host = w.cell_arrest_probability(cell, j)
        risk_host = w.perceived(prob_host, w.sealed[planned, j], planned)
    summits = rows[invited]
    if summits.size:  # ODD §7.3.0 (v1.5)
        w.invitations[summits, j] += 1
        summit_cell = summits * s + _draw(w.invite_weight[summits], uniform(w.keys[summits], Stream.INVITE_HOST, t, j))
        prob = w.cell_arrest_probability(summit_cell, j)
        decline = rules.cancels(w.perceived(prob, w.sealed[summits, j], summits),
                                w.p.accused_at("accused.max_risk", j, summits))
        w.invitations_declined[summits[decline], j] += 1
        go = ~decline
        summits, summit_cell, prob = summits[go], summit_cell[go], prob[go]
        member = w.member.reshape(-1).take(summit_cell) > 0
        w.trips[summits, j] += 1
        w.trips_to_members[summits, j] += member
        _visit(w, j, summits, summit_cell, prob, member, t, Stream.INVITE_ARREST, Stream.INVITE_FINDING)
        visited.append(summits)
        if planned.size:
            still = w.free[planned, j]  # arrested at the summit: the turn ends
            planned, cell, prob_host, risk_host = planned[still], cell[still], prob_host[still], risk_host[still]
    if planned.size:  # ODD §7.3.5-8
        cancel = rules.cancels(risk_host, w.p.accused_at("accused.max_risk", j, planned))
        if cancel.any():
            w.trips_cancelled[planned[cancel], j] += 1
            go = ~cancel
            planned, cell, prob_host = planned[go], cell[go], prob_host[go]
        member = w.member.reshape(-1).take(cell) > 0
        w.trips[planned, j] += 1
        w.trips_to_members[planned, j] += member
        _visit(w, j, planned, cell, prob_host, member, t, Stream.ARREST, Stream.FINDING)
        visited.append(planned)
    return np.concatenate(visited) if visited else planned


def _turn_weights(w: World, j: int, rows: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """Destination weights of accused j in ``rows`` from the state as j's turn starts: outreach's
    weights where no earlier accused travelled this month, recomputed in the other rows."""
    weight = w.weights[j].take(rows, axis=0)
    fresh = np.flatnonzero(touched)
    if fresh.size:
        weight[fresh] = w.arrest_and_weights(rows[fresh], j)[1]
    return weight


def _visit(w: World, j: int, rows: np.ndarray, cell: np.ndarray, prob: np.ndarray, member: np.ndarray, t: int,
           arrest_stream: Stream, finding_stream: Stream) -> None:
    """ODD §7.3.6-8: the host arrests with P_ij, else a member's refusal may bring a finding; the court's
    legitimacy and the host's compliance, pressure and findings follow (rules.legitimacy_after_visit,
    rules.host_after_visit)."""
    if rows.size == 0:
        return
    p = w.p
    arrested = rules.happens(uniform(w.keys[rows], arrest_stream, t, j), prob)
    refused = ~arrested & member
    finding = refused & rules.happens(uniform(w.keys[rows], finding_stream, t, j),
                                      _rows_of(p.row("court.finding_prob"), rows))
    w.legitimacy[rows] = rules.legitimacy_after_visit(
        w.legitimacy[rows], arrested, member, finding, _rows_of(p.row("court.arrest_gain"), rows),
        _rows_of(p.row("court.defiance_loss"), rows), _rows_of(p.row("court.nonmember_loss"), rows))
    changed = arrested | finding
    if changed.any():
        c_cell, r_rows = cell[changed], rows[changed]
        compliance, pressure, findings = (a.reshape(-1) for a in (w.compliance, w.pressure, w.state_findings))
        compliance[c_cell], pressure[c_cell], findings[c_cell] = rules.host_after_visit(
            compliance[c_cell], pressure[c_cell], findings[c_cell], arrested[changed], finding[changed],
            _rows_of(p.row("states.arrest_norm_gain"), r_rows), _rows_of(p.row("court.finding_pressure"), r_rows))
    np.add.at(w.findings, rows[finding], 1)
    if arrested.any():
        w.take_custody(rows[arrested], j, ARRESTED_BY_HOST, t)


def _draw(weight: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column per row with probability ∝ weight, one uniform per row; a zero
    weight is never drawn. Rows whose total weight is below TINY get −1 (the caller redraws them in logs)."""
    cum = np.cumsum(weight, axis=1)
    total = cum[:, -1:]
    goal = (u[:, None] * total).astype(cum.dtype)
    # the first column whose running sum exceeds the goal, and never past the last positive weight
    index = np.minimum(np.count_nonzero(cum <= goal, axis=1), np.count_nonzero(cum < total, axis=1))
    return np.where(total[:, 0] < TINY, -1, index)


# --- ODD §7.4 unsealing, ODD §7.5 norms, ODD §7.6 withdrawal and accession, ODD §7.7 drift ---------------

def unsealing(w: World, t: int) -> None:
    """ODD §7.4: each sealed warrant becomes public with probability ``prosecutor.unseal_rate``."""
    if w.sealed.any():
        u = uniforms(w.keys, Stream.UNSEAL, t, w.layout.n_accused)
        w.sealed &= ~rules.happens(u, w.p.col("prosecutor.unseal_rate"))


def norms(w: World, t: int) -> None:
    """ODD §7.5: compliance moves towards its regional mean (home included; sums in float64, in column order)
    and with the court's legitimacy."""
    p, lay = w.p, w.layout
    sums = np.zeros((w.n, lay.n_regions))
    if lay.n_states:
        sums[:, lay.segment_region] = np.add.reduceat(w.compliance.astype(np.float64), lay.segment_start[:-1], axis=1)
    sums[:, lay.home_region] += w.home_compliance
    conformity = p.col("states.conformity")
    pull = rules.norm_pull((sums / lay.region_size).astype(DTYPE), w.legitimacy[:, None], p.col("court.legitimacy0"),
                           conformity, p.col("states.legitimacy_pull")).astype(DTYPE)  # (rows, regions)
    by_column = np.repeat(pull[:, lay.segment_region], np.diff(lay.segment_start), axis=1)
    rules.norm_update_from_pull(w.compliance, by_column, conformity, out=w.compliance)
    w.home_compliance[:] = rules.norm_update_from_pull(w.home_compliance, pull[:, lay.home_region],
                                                       p.row("states.conformity"))


def withdrawal(w: World, t: int) -> None:
    """ODD §7.6: members with no withdrawal pending notify with their hazard; notified withdrawals take effect
    ``withdrawal_delay`` months later (the same month for a delay of 0)."""
    p, s = w.p, w.layout.n_states
    if p.any_positive("states.withdrawal_rate") and s:
        flat = np.flatnonzero(w.may_withdraw & (w.compliance < w.withdrawal_pull))  # the hazard is zero elsewhere
        row, col = np.divmod(flat, s)
        take = lambda a: a.reshape(-1).take(flat)  # noqa: E731
        hazard = rules.withdrawal_probability_from_pull(take(w.withdrawal_pull), take(w.compliance),
                                                        take(w.state_findings), p.at("states.withdrawal_rate", row))
        notify = rules.happens(uniforms_at(w.keys[row], Stream.WITHDRAW, t, col), hazard)
        _schedule(w, flat[notify], t + np.asarray(p.at("states.withdrawal_delay", row[notify])), joins=False)
        w.withdraw_pending.reshape(-1)[flat[notify]] = True
        w.may_withdraw.reshape(-1)[flat[notify]] = False
        np.add.at(w.withdrawals, row[notify], 1)
    _take_effect(w, t, joins=False)


def accession(w: World, t: int) -> None:
    """ODD §7.6 (after withdrawal): never-members with no accession pending deposit with their hazard (using
    compliance after this month's norms); accessions take effect ``accession_delay`` months later."""
    p, s = w.p, w.layout.n_states
    if p.any_positive("states.accession_rate") and s:
        flat = np.flatnonzero(rules.may_accede(w.member > 0, w.ever_member, w.join_pending, False))
        row, col = np.divmod(flat, s)
        hazard = rules.accession_probability(p.at("states.accession_rate", row), w.compliance.reshape(-1)[flat],
                                             w.alignment.reshape(-1)[flat])
        deposit = rules.happens(uniforms_at(w.keys[row], Stream.ACCEDE, t, col), hazard)
        _schedule(w, flat[deposit], t + np.asarray(p.at("states.accession_delay", row[deposit])), joins=True)
        w.join_pending.reshape(-1)[flat[deposit]] = True
        np.add.at(w.accessions, row[deposit], 1)
    _take_effect(w, t, joins=True)


def _schedule(w: World, flat: np.ndarray, due: np.ndarray, joins: bool) -> None:
    due = np.broadcast_to(due, flat.shape)
    for month in np.unique(due):
        w.due.setdefault(int(month), []).append((flat[due == month], joins))


def _take_effect(w: World, t: int, joins: bool) -> None:
    entries = w.due.get(t, [])
    cells = [flat for flat, j in entries if j == joins]
    if cells:
        w.set_membership(np.concatenate(cells), member=joins)
        w.due[t] = [(flat, j) for flat, j in entries if j != joins]


def drift(w: World, t: int) -> None:
    """ODD §7.7: legitimacy reverts towards L0."""
    p = w.p
    w.legitimacy[:] = rules.legitimacy_drift(w.legitimacy, p.row("court.legitimacy0"), p.row("court.reversion"))


SUBMODEL = {"warrant_at_issue": warrant_at_issue, "regime_change": regime_change, "outreach": outreach,
            "trips": trips, "unsealing": unsealing, "norms": norms, "withdrawal": withdrawal, "accession": accession,
            "drift": drift}
