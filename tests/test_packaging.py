"""The conda environment and pyproject.toml declare the same dependencies and bounds."""

import re
import tomllib

import yaml

from conftest import REPO

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _parse(requirement: str) -> tuple[str, str]:
    name, spec = _REQ.match(requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_parse(r) for r in reqs)


def _conda_requirements() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep["pip"])
        else:
            name, spec = _parse(dep)
            if name not in {"python", "pip"}:
                conda[name] = spec
    return conda, pip


#: Only on PyPI: the conda file's pip section (``-e .``) installs them with this repository.
PIP_ONLY = {"django-static-mathjax"}


def test_conda_list_matches_pyproject():
    conda, _ = _conda_requirements()
    expected = {k: v for k, v in _pyproject_requirements().items() if k not in PIP_ONLY}
    assert conda == expected


def test_pip_only_packages_are_named_in_the_conda_file():
    text = (REPO / "environment.yml").read_text()
    for name in PIP_ONLY:
        assert name in _pyproject_requirements() and name in text


def test_conda_pip_section_installs_this_repo_with_dev_extra():
    _, pip = _conda_requirements()
    assert pip == ['-e ".[dev]"']


def test_python_floor_is_the_same():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_python = next(
        d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")
    )
    assert conda_python == "python" + project["requires-python"]
