"""environment.yml (conda) and pyproject.toml (pip) install the same packages with the same versions:
environment.yml is generated from pyproject.toml by scripts/make_environment.py, and this test fails when
someone edits one without the other."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def make_environment():
    spec = importlib.util.spec_from_file_location("make_environment", REPO / "scripts" / "make_environment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _environment_packages() -> dict[str, str]:
    """name → the line's requirement text, from both the conda and the pip parts of environment.yml."""
    found = {}
    for line in (REPO / "environment.yml").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*- ([A-Za-z0-9_.\-]+[^\s]*)$", line)
        skip = ("pip", "pip:", "-e", "conda-forge")
        if match and match.group(1) not in skip and not match.group(1).startswith("python"):
            req = match.group(1)
            found[re.split(r"[<>=!~\[]", req, maxsplit=1)[0].lower()] = req
    return found


def test_environment_yml_is_generated_from_pyproject(make_environment):
    assert (REPO / "environment.yml").read_text(encoding="utf-8") == make_environment.render(), \
        "environment.yml is out of date: run python scripts/make_environment.py"


def test_every_pip_requirement_is_in_the_conda_environment_with_a_compatible_version(make_environment):
    env = _environment_packages()
    for text in make_environment.requirements():
        req = Requirement(text)
        name = req.name.lower()
        assert name in env, f"{name} is in pyproject.toml but not in environment.yml"
        pinned = re.fullmatch(rf"{re.escape(name)}==(.+)", env[name])
        if pinned:                                 # an exact pin (torch) must satisfy pyproject's range
            assert req.specifier.contains(pinned.group(1), prereleases=True), (name, env[name], text)
        else:
            assert Requirement(env[name]).specifier == req.specifier, (name, env[name], text)
    extra = set(env) - {Requirement(t).name.lower() for t in make_environment.requirements()}
    assert not extra, f"in environment.yml but not in pyproject.toml: {sorted(extra)}"


def test_torch_pins_are_the_ones_setup_installs(make_environment):
    pins = make_environment.torch_pins()
    assert set(pins) == {"torch", "torchvision"}
    env = _environment_packages()
    assert env["torch"] == f"torch=={pins['torch']}" and env["torchvision"] == f"torchvision=={pins['torchvision']}"
