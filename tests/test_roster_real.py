"""The real roster (MODEL.md §7): UN members, membership by date, ASP regions, home and partners."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.roster import real_roster
from sim.data.tables import GROUPS, REGIONS
from sim.errors import UserError
from sim.model.params import Params
from sim.model.roster import build_roster

# Parties that are not UN member states, so never in the 193-state roster.
NOT_UN = {"COK": "2008-10-01", "PSE": "2015-04-01"}


def member(roster, code: str) -> bool:
    return bool(roster.member[roster.codes.index(code)])


def region(roster, code: str) -> str:
    return roster.region_names[roster.region[roster.codes.index(code)]]


@pytest.mark.parametrize("date, home, published, not_un", [
    ("2009-03-04", "SDN", 108, 1),  # al-Bashir warrant: 108 parties, Cook Islands among them
    ("2023-03-17", "RUS", 123, 2),  # Putin warrant: 123 parties, Cook Islands and Palestine among them
])
def test_member_count_at_warrant_dates(date, home, published, not_un):
    roster = real_roster(date, home, [])
    assert roster.n_states == 193
    assert roster.n_members == published - not_un


def test_regions_are_the_five_asp_groups():
    roster = real_roster("2023-03-17", "RUS", [])
    assert roster.region_names == REGIONS
    counts = dict(zip(REGIONS, np.bincount(roster.region, minlength=5)))
    # UN regional groups of the 193 members (Kiribati in Asia-Pacific, Türkiye and the US in WEOG)
    assert counts == {"Africa": 54, "Asia-Pacific": 54, "Eastern Europe": 23,
                      "Latin America and Caribbean": 33, "Western Europe and others": 29}
    expected = {"KEN": "Africa", "CYP": "Asia-Pacific", "KIR": "Asia-Pacific", "JPN": "Asia-Pacific",
                "UKR": "Eastern Europe", "RUS": "Eastern Europe", "BRA": "Latin America and Caribbean",
                "TUR": "Western Europe and others", "USA": "Western Europe and others",
                "DEU": "Western Europe and others", "SDN": "Africa"}
    assert {c: region(roster, c) for c in expected} == expected


def test_names_and_codes():
    roster = real_roster("2023-03-17", "RUS", [])
    assert len(roster.codes) == len(set(roster.codes)) == 193
    assert roster.names[roster.home] == "Russia" and roster.codes[roster.home] == "RUS"
    assert all(len(c) == 3 and c.isupper() for c in roster.codes)


@pytest.mark.parametrize("code, before, effective", [
    ("BDI", "2017-10-26", "2017-10-27"),
    ("PHL", "2019-03-16", "2019-03-17"),
    ("HUN", "2026-06-01", "2026-06-02"),
])
def test_withdrawals_take_effect_on_their_date(code, before, effective):
    assert member(real_roster(before, "RUS", []), code)
    assert not member(real_roster(effective, "RUS", []), code)
    assert not member(real_roster("2030-01-01", "RUS", []), code)  # never rejoins


def test_pending_withdrawal_is_still_a_member():
    # Hungary notified on 2025-06-02; the duty lasts until 2026-06-02
    assert member(real_roster("2025-12-01", "RUS", []), "HUN")


@pytest.mark.parametrize("code", ["GMB", "ZAF"])
def test_revoked_withdrawals_never_took_effect(code):
    assert member(real_roster("2018-01-01", "RUS", []), code)


def test_membership_starts_at_entry_into_force():
    # Ukraine: entry into force 2025-01-01; Armenia: 2024-02-01
    assert not member(real_roster("2024-12-31", "RUS", []), "UKR")
    assert member(real_roster("2025-01-01", "RUS", []), "UKR")
    assert not member(real_roster("2024-01-31", "RUS", []), "ARM")
    assert member(real_roster("2024-02-01", "RUS", []), "ARM")


def test_partner_group_excludes_home():
    roster = real_roster("2023-03-17", "RUS", ["csto"])
    assert {roster.codes[i] for i in np.flatnonzero(roster.partner)} == {"ARM", "BLR", "KAZ", "KGZ", "TJK"}
    assert not roster.partner[roster.home] and not roster.member[roster.home]


def test_partners_mix_groups_and_codes():
    roster = real_roster("2009-03-04", "SDN", ["arab_league", "CHN", "ERI"])
    partners = {roster.codes[i] for i in np.flatnonzero(roster.partner)}
    assert {"CHN", "ERI", "EGY", "SAU", "JOR"} <= partners and "SDN" not in partners
    assert len(partners) == 20 + 2  # 21 Arab League members less Sudan, plus China and Eritrea


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_resolves(group):
    import csv
    from pathlib import Path

    with open(Path(__file__).resolve().parent.parent / "sim" / "data" / "un_members.csv", newline="") as f:
        flagged = {row["iso3"] for row in csv.DictReader(f) if row[group] == "1"} - {"RUS"}
    roster = real_roster("2023-03-17", "RUS", [group])
    assert {roster.codes[i] for i in np.flatnonzero(roster.partner)} == flagged
    assert flagged


def test_home_that_is_a_party_is_refused():
    with pytest.raises(UserError, match=r"scenario.home UGA \(Uganda\) is a state party on 2009-03-04"):
        real_roster("2009-03-04", "UGA", [])


def test_home_that_withdrew_is_accepted():
    roster = real_roster("2020-01-01", "PHL", [])
    assert roster.codes[roster.home] == "PHL" and not roster.member[roster.home]


@pytest.mark.parametrize("home, hint", [("Russia", "did you mean RUS"), ("RUSS", "did you mean RUS"),
                                        ("rus", "did you mean RUS")])
def test_unknown_home_gets_a_suggestion(home, hint):
    with pytest.raises(UserError, match=hint):
        real_roster("2023-03-17", home, [])


@pytest.mark.parametrize("partner, hint", [("CSTO", "did you mean csto"), ("arab-league", "did you mean arab_league"),
                                           ("Belarus", "did you mean BLR"), ("BLRR", "did you mean BLR")])
def test_unknown_partner_gets_a_suggestion(partner, hint):
    with pytest.raises(UserError, match=hint) as info:
        real_roster("2023-03-17", "RUS", [partner])
    assert "\n" not in str(info.value)


def test_build_roster_uses_the_scenario_parameters():
    params = Params({"scenario.roster": "real", "scenario.date": "2009-03-04", "scenario.home": "SDN",
                     "scenario.partners": ["au"]})
    roster = build_roster(params)
    assert roster.codes[roster.home] == "SDN" and roster.n_members == 107
    assert roster.partner.sum() == 53  # 54 AU members among UN members, less Sudan


def test_bad_home_through_params_is_one_line():
    with pytest.raises(UserError, match="unknown scenario.home 'XYZ'"):
        build_roster(Params({"scenario.roster": "real", "scenario.home": "XYZ"}))


@settings(max_examples=40, deadline=None)
@given(day=st.dates(dt.date(2002, 7, 1), dt.date(2030, 12, 31)),
       home=st.sampled_from(["RUS", "USA", "CHN", "ISR", "IND", "SDN"]),
       groups=st.lists(st.sampled_from(GROUPS), max_size=3))
def test_roster_invariants(day, home, groups):
    roster = real_roster(day.isoformat(), home, groups)
    assert roster.n_states == 193 and roster.codes[roster.home] == home
    assert not roster.member[roster.home] and not roster.partner[roster.home]
    assert roster.member.dtype == bool and roster.partner.dtype == bool
    assert set(np.unique(roster.region)) <= set(range(5))
    assert 66 <= roster.n_members + sum(day.isoformat() >= eif for eif in NOT_UN.values()) <= 125
