"""The real roster (MODEL.md §7): UN members, membership by date, ASP regions, home and partners."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.data import real
from sim.data.real import check_scenario, group_members, states_at
from sim.data.tables import GROUPS, REGIONS
from sim.errors import UserError
from sim.model.params import Params
from sim.model.roster import build_roster, real_roster


def member(roster, code: str) -> bool:
    return bool(roster.member[roster.codes.index(code)])


def region(roster, code: str) -> str:
    return roster.region_names[roster.region[roster.codes.index(code)]]


def partners(roster) -> set[str]:
    return {roster.codes[i] for i in np.flatnonzero(roster.partner)}


@pytest.mark.parametrize("date, home, states, published", [
    ("2009-03-04", "SDN", 193, 108),  # al-Bashir warrant: 192 UN members and the Cook Islands; 108 parties
    ("2023-03-17", "RUS", 195, 123),  # Putin warrant: 193 UN members, the Cook Islands and Palestine; 123 parties
])
def test_member_count_at_warrant_dates(date, home, states, published):
    roster = real_roster(date, home, [])
    assert roster.n_states == states
    assert roster.n_members == published


def test_simulate_on_the_real_roster_keeps_the_court_s_counts():
    """sim.simulate's members_final equals the parties on the date when withdrawal and accession are off."""
    import sim

    for date, home, published in (("2009-03-04", "SDN", 108), ("2023-03-17", "RUS", 123)):
        params = Params({"scenario.roster": "real", "scenario.date": date, "scenario.home": home,
                         "scenario.partners": [], "states.withdrawal_rate": 0.0, "scenario.horizon_months": 3})
        for engine in ("mesa", "vectorized"):
            frame = sim.simulate(params, replicates=2, seed=3, engine=engine)
            assert (frame["members_final"] == published).all(), (date, engine)


@pytest.mark.parametrize("code, before, on, un_member_from", [
    ("SSD", "2011-07-13", "2011-07-14", "2011-07-14"),  # South Sudan: UN admission
    ("TLS", "2002-09-26", "2002-09-27", "2002-09-27"),  # Timor-Leste: UN admission (a party only from 2002-12-01)
    ("COK", "2008-09-30", "2008-10-01", None),  # the Cook Islands: a party, never a UN member
    ("PSE", "2015-03-31", "2015-04-01", None),  # Palestine: a party, never a UN member
])
def test_a_state_enters_the_roster_when_it_joins_the_un_or_the_statute(code, before, on, un_member_from):
    assert code not in states_at(before)["iso3"].tolist()
    now = states_at(on).set_index("iso3")
    assert code in now.index and bool(now.at[code, "un_member"]) == (un_member_from == on)


def test_parties_before_un_admission_are_in_the_roster():
    # Switzerland: a party from 2002-07-01, a UN member from 2002-09-10; Montenegro: a party from its
    # independence (2006-06-03), a UN member from 2006-06-28.
    for code, party_day, un_day in (("CHE", "2002-07-01", "2002-09-10"), ("MNE", "2006-06-03", "2006-06-28")):
        early = states_at(party_day).set_index("iso3")
        assert bool(early.at[code, "member"]) and not bool(early.at[code, "un_member"])
        assert bool(states_at(un_day).set_index("iso3").at[code, "un_member"])


def test_roster_order_is_un_members_then_the_other_parties():
    roster = real_roster("2023-03-17", "RUS", [])
    assert roster.codes[-2:] == ("COK", "PSE") and roster.codes[0] == "AFG"
    found = real.real_roster("2023-03-17", "RUS", [])
    assert found.un_member.sum() == 193 and not found.un_member[-2:].any()


def test_regions_are_the_five_asp_groups():
    roster = real_roster("2023-03-17", "RUS", [])
    assert roster.region_names == REGIONS
    counts = dict(zip(REGIONS, np.bincount(roster.region, minlength=5)))
    # UN regional groups of the 193 members (Kiribati in Asia-Pacific, Türkiye and the US in WEOG), with the
    # Cook Islands and Palestine in the ASP's Asia-Pacific group
    assert counts == {"Africa": 54, "Asia-Pacific": 56, "Eastern Europe": 23,
                      "Latin America and Caribbean": 33, "Western Europe and others": 29}
    parties = dict(zip(REGIONS, np.bincount(roster.region[roster.member], minlength=5)))
    assert parties == {"Africa": 33, "Asia-Pacific": 19, "Eastern Europe": 18,
                       "Latin America and Caribbean": 28, "Western Europe and others": 25}
    expected = {"KEN": "Africa", "CYP": "Asia-Pacific", "KIR": "Asia-Pacific", "JPN": "Asia-Pacific",
                "UKR": "Eastern Europe", "RUS": "Eastern Europe", "BRA": "Latin America and Caribbean",
                "TUR": "Western Europe and others", "USA": "Western Europe and others",
                "DEU": "Western Europe and others", "SDN": "Africa", "COK": "Asia-Pacific", "PSE": "Asia-Pacific"}
    assert {c: region(roster, c) for c in expected} == expected


def test_names_and_codes():
    roster = real_roster("2023-03-17", "RUS", [])
    assert len(roster.codes) == len(set(roster.codes)) == 195
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
    assert partners(roster) == {"ARM", "BLR", "KAZ", "KGZ", "TJK"}
    assert not roster.partner[roster.home] and not roster.member[roster.home]


def test_partners_mix_groups_and_codes():
    roster = real_roster("2009-03-04", "SDN", ["arab_league", "CHN", "ERI"])
    found = partners(roster)
    assert {"CHN", "ERI", "EGY", "SAU", "JOR"} <= found and "SDN" not in found and "PSE" not in found
    # 21 Arab League UN members less Sudan, plus China and Eritrea (Palestine, not yet a party, is not in the roster)
    assert len(found) == 20 + 2


@pytest.mark.parametrize("group, date, home, expected", [
    ("brics", "2023-03-17", "RUS", {"BRA", "CHN", "IND", "ZAF"}),
    ("brics", "2024-06-01", "RUS", {"BRA", "CHN", "IND", "ZAF", "EGY", "ETH", "IRN", "ARE"}),
    ("brics", "2025-02-01", "RUS", {"BRA", "CHN", "IND", "ZAF", "EGY", "ETH", "IRN", "ARE", "IDN"}),
    ("brics", "2010-06-01", "RUS", {"BRA", "CHN", "IND"}),
    ("sco", "2023-03-17", "RUS", {"CHN", "IND", "KAZ", "KGZ", "PAK", "TJK", "UZB"}),
    ("sco", "2024-07-04", "RUS", {"CHN", "IND", "KAZ", "KGZ", "PAK", "TJK", "UZB", "IRN", "BLR"}),
    ("csto", "2010-01-01", "RUS", {"ARM", "BLR", "KAZ", "KGZ", "TJK", "UZB"}),
    ("csto", "2012-12-19", "RUS", {"ARM", "BLR", "KAZ", "KGZ", "TJK"}),
    ("cis", "2009-08-17", "RUS", {"ARM", "AZE", "BLR", "KAZ", "KGZ", "MDA", "TJK", "UZB", "GEO"}),
    ("cis", "2009-08-18", "RUS", {"ARM", "AZE", "BLR", "KAZ", "KGZ", "MDA", "TJK", "UZB"}),
])
def test_organisations_have_their_members_of_the_date(group, date, home, expected):
    assert partners(real_roster(date, home, [group])) == expected


@pytest.mark.parametrize("group, code, outside, inside", [
    ("au", "MAR", "2017-01-30", "2017-01-31"),  # Morocco rejoined the African Union
    ("au", "SSD", "2011-07-25", "2011-07-26"),  # South Sudan admitted (a state of the roster from 2011-07-14)
    ("eu", "HRV", "2013-06-30", "2013-07-01"),
    ("nato", "FIN", "2023-04-03", "2023-04-04"),
    ("nato", "SWE", "2024-03-06", "2024-03-07"),
    ("arab_league", "PSE", "2015-03-31", "2015-04-01"),  # a member throughout, in the roster as a party from then
])
def test_a_membership_begins_on_its_date(group, code, outside, inside):
    assert code not in partners(real_roster(outside, "USA", [group]))
    assert code in partners(real_roster(inside, "USA", [group]))


def test_the_united_kingdom_left_the_eu_on_2020_02_01():
    assert "GBR" in partners(real_roster("2020-01-31", "USA", ["eu"]))
    assert "GBR" not in partners(real_roster("2020-02-01", "USA", ["eu"]))
    assert len(partners(real_roster("2009-03-04", "USA", ["eu"]))) == 27 and len(
        partners(real_roster("2013-07-01", "USA", ["eu"]))) == 28


def test_the_african_union_in_2009_has_neither_morocco_nor_south_sudan():
    roster = real_roster("2009-03-04", "SDN", ["au"])
    assert len(partners(roster)) == 51 and not {"MAR", "SSD"} & partners(roster)


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_resolves_to_its_2025_flags_at_the_end_of_2025(group):
    import csv
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "sim" / "data"
    flagged = set()
    for name in ("un_members.csv", "non_un_states.csv"):
        with open(folder / name, newline="", encoding="utf-8") as f:
            flagged |= {row["iso3"] for row in csv.DictReader(f) if row[group] == "1"}
    assert group_members(group, "2025-12-31") == flagged and flagged
    assert partners(real_roster("2025-12-31", "USA", [group])) == flagged - {"USA"}


def test_home_that_is_a_party_is_refused():
    with pytest.raises(UserError, match=r"scenario.home UGA \(Uganda\) is a state party on 2009-03-04"):
        real_roster("2009-03-04", "UGA", [])


def test_home_that_withdrew_is_accepted():
    roster = real_roster("2020-01-01", "PHL", [])
    assert roster.codes[roster.home] == "PHL" and not roster.member[roster.home]


@pytest.mark.parametrize("date, home, message", [
    ("2009-03-04", "SSD", (r"scenario.home SSD \(South Sudan\) is not a state of the roster on 2009-03-04: "
                           r"admitted to the UN on 2011-07-14")),
    ("2010-01-01", "PSE", (r"scenario.home PSE \(Palestine\) is not a state of the roster on 2010-01-01: not a UN "
                           r"member and a party only from 2015-04-01")),
    ("2023-03-17", "PSE", r"scenario.home PSE \(Palestine\) is a state party on 2023-03-17"),
    ("2009-03-04", "COK", r"scenario.home COK \(Cook Islands\) is a state party on 2009-03-04"),
])
def test_home_must_be_a_non_party_state_of_the_roster(date, home, message):
    with pytest.raises(UserError, match=message):
        real_roster(date, home, [])


def test_partner_must_be_a_state_of_the_roster_on_the_date():
    with pytest.raises(UserError, match=r"partner SSD \(South Sudan\) in scenario.partners is not a state of the "
                                        r"roster on 2009-03-04: admitted to the UN on 2011-07-14"):
        real_roster("2009-03-04", "SDN", ["SSD"])


def test_a_group_without_members_on_the_date_is_refused():
    with pytest.raises(UserError, match=r"partner group brics in scenario.partners has no member on 2005-01-01"):
        real_roster("2005-01-01", "USA", ["brics"])


@pytest.mark.parametrize("text", ["csto,brics", "csto, brics", "csto brics"])
def test_a_bare_text_of_several_partners_gets_the_toml_list_syntax(text):
    with pytest.raises(UserError) as info:
        Params({"scenario.roster": "real", "scenario.partners": text})
    message = str(info.value)
    assert "\n" not in message and "holds several names" in message
    assert """--set 'scenario.partners=["csto", "brics"]'""" in message and "did you mean" not in message


def test_a_bare_text_partner_from_the_command_line(capsys):
    from sim.cli import main

    assert main(["run", "--set", 'scenario.roster="real"', "--set", "scenario.partners=csto,brics"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and """scenario.partners=["csto", "brics"]""" in err[0]


def test_an_empty_partner_list_is_allowed():
    params = Params({"scenario.roster": "real", "scenario.partners": []})
    assert params["scenario.partners"] == [] and build_roster(params).partner.sum() == 0


@pytest.mark.parametrize("date, message", [("2002-06-30", "lies outside the sourced data, which cover 2002-07-01"),
                                           ("2026-06-03", "to 2026-06-02"), ("2023-02-30", "a date YYYY-MM-DD")])
def test_scenario_dates_outside_the_data_are_refused(date, message):
    with pytest.raises(UserError, match=message):
        check_scenario(date, "RUS", ())


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
    assert roster.codes[roster.home] == "SDN" and roster.n_members == 108
    assert roster.partner.sum() == 51  # the AU's 52 roster states in 2009 (no Morocco, no South Sudan), less Sudan


def test_bad_home_through_params_is_one_line():
    with pytest.raises(UserError, match=r"unknown scenario.home 'XYZ'"):
        build_roster(Params({"scenario.roster": "real", "scenario.home": "XYZ"}))


@settings(max_examples=40, deadline=None)
@given(day=st.dates(dt.date(2002, 7, 1), dt.date(2030, 12, 31)),
       home=st.sampled_from(["RUS", "USA", "CHN", "ISR", "IND", "SDN"]),
       groups=st.lists(st.sampled_from(("au", "arab_league", "sco", "cis", "eu", "nato", "oic")), max_size=3))
def test_roster_invariants(day, home, groups):
    roster = real_roster(day.isoformat(), home, groups)
    # 189 UN members on 2002-07-01 and Switzerland, up to the 193 and the two non-UN parties
    assert 190 <= roster.n_states <= 195 and roster.codes[roster.home] == home
    assert len(set(roster.codes)) == roster.n_states
    assert not roster.member[roster.home] and not roster.partner[roster.home]
    assert roster.member.dtype == bool and roster.partner.dtype == bool
    assert set(np.unique(roster.region)) <= set(range(5))
    assert 66 <= roster.n_members <= 125
    later = real_roster((day + dt.timedelta(days=400)).isoformat(), home, groups) if day.year < 2030 else roster
    assert set(roster.codes) <= set(later.codes)  # no state of the roster ever leaves it
