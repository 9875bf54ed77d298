"""Configurations and seeds: parsing, canonical hashes, strict checking."""

from __future__ import annotations

import pytest

from thpsim.campaign.spec import load_campaign_file, make_config, parse_seeds
from thpsim.cliutil import UsageError


@pytest.mark.parametrize("text,seeds", [
    ("3", [0, 1, 2]), ("1-4", [1, 2, 3, 4]), ("1,5,9", [1, 5, 9]),
    ("7-8,1,7", [7, 8, 1]), (" 2 ", [0, 1]), ("5-5", [5]),
])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "0", "x", "1-", "-3", "4-2", "1,,2", "1.5", "1-2-3"])
def test_parse_seeds_rejects(text):
    with pytest.raises(UsageError, match="--seeds"):
        parse_seeds(text)


def test_same_settings_same_hash():
    """Defaults spelt out, switches as bool or int: one configuration, one hash. A size,
    a switch or a left-out path makes another."""
    a = make_config({"profile": "seed", "rounds": 4})
    b = make_config({"rounds": 4, "switches": {}, "user_threads": 2, "without": []})
    assert a.hash == b.hash and a.config == b.config and a.label == "seed"
    c = make_config({"rounds": 4, "switches": {"bug_b3_pmd_migration_no_flush": True}})
    d = make_config({"rounds": 4, "switches": {"bug_b3_pmd_migration_no_flush": 1}})
    assert c.hash == d.hash != a.hash
    assert c.label == "seed+bug_b3_pmd_migration_no_flush=1"
    assert make_config({"rounds": 5}).hash != a.hash
    assert make_config({"rounds": 4, "without": ["hotplug"]}).hash != a.hash
    assert make_config({"rounds": 4}).stress_config().rounds == 4


def test_kernel_version_profile_resolves():
    """--profile 7.2 is mainline with the oracle's switch set; its label stays 7.2."""
    c = make_config({"profile": "7.2"})
    assert c.config["stress"]["profile"] == "mainline" and c.label == "7.2"


@pytest.mark.parametrize("settings,match", [
    ({"roundz": 3}, "unknown key 'roundz'"),
    ({"rounds": 0}, "rounds = 0"),
    ({"rounds": True}, "rounds = True"),
    ({"policy": "fifo"}, "policy"),
    ({"profile": "nope"}, "unknown profile"),
    ({"switches": {"no_such_switch": 1}}, "unknown profile switch"),
    ({"without": ["swap"]}, "without 'swap'"),
    ({"without": "hotplug"}, "expected a list"),
])
def test_make_config_rejects(settings, match):
    with pytest.raises(UsageError, match=match):
        make_config(settings, "f.toml [[config]] #1")


def test_campaign_file(tmp_path):
    """Top-level keys are defaults; a [[config]] table wins; name and seeds come back."""
    f = tmp_path / "c.toml"
    f.write_text('name = "two"\nseeds = "0-3"\nrounds = 3\n'
                 '[[config]]\nprofile = "seed"\n'
                 '[[config]]\nname = "ml"\nprofile = "mainline"\nrounds = 6\n')
    name, seeds, tables = load_campaign_file(str(f))
    assert (name, seeds) == ("two", "0-3")
    assert tables == [{"rounds": 3, "profile": "seed"},
                      {"rounds": 6, "name": "ml", "profile": "mainline"}]


@pytest.mark.parametrize("text,match", [
    ("name = \n", "not valid TOML"),
    ("[[config]]\nprofil = 'seed'\n", r"unknown key 'profil' in \[\[config\]\] #1"),
    ("colour = 1\n", "unknown key 'colour' at the top level"),
    ("config = 3\n", r"\[\[config\]\] tables"),
])
def test_campaign_file_rejects(tmp_path, text, match):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(UsageError, match=match):
        load_campaign_file(str(f))
