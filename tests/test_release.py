"""Release metadata: CITATION.cff (Citation File Format 1.2.0, as Zenodo reads it) and CHANGELOG.md."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import sim

ROOT = Path(__file__).resolve().parents[1]
CFF_KEYS = {"cff-version", "message", "type", "title", "abstract", "authors", "version", "license", "keywords",
            "doi", "date-released", "repository-code", "url", "identifiers", "references", "preferred-citation",
            "commit", "contact", "license-url", "repository", "repository-artifact"}  # the schema's top level


def test_citation_file_is_cff_1_2_0_with_the_release_metadata():
    doc = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert doc["cff-version"] == "1.2.0" and doc["type"] == "software"
    assert set(doc) <= CFF_KEYS, set(doc) - CFF_KEYS
    for key in ("message", "title", "abstract"):
        assert isinstance(doc[key], str) and doc[key].strip(), key
    assert doc["authors"] == [{"name": "tribunal-sim contributors"}]  # an entity, not a person
    assert doc["version"] == sim.__version__  # a string, as the schema wants
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert doc["license"] == "MIT" == project["license"]["text"]
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert not re.search(r"TODO|FIXME|example\.(com|org)|<[a-z -]+>", text)  # no placeholder left in


def test_changelog_keeps_a_changelog_with_an_unreleased_section_first():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n") and "keepachangelog.com" in text
    versions = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert versions and versions[0] == "Unreleased"
    kinds = set(re.findall(r"^### (\w+)", text, re.M))
    assert kinds and kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_notebook_extra_brings_jupyterlab_and_the_readme_says_how_to_open_the_tutorial():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(r.startswith("jupyterlab") for r in project["optional-dependencies"]["notebook"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[notebook]'\njupyter lab notebooks/01_tutorial.ipynb\n" in readme
    assert (ROOT / "notebooks" / "01_tutorial.ipynb").is_file()
