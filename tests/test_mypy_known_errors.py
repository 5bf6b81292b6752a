"""The mypy override that ignores "modules with known errors" may only shrink.

pyproject.toml lists, with ``ignore_errors = true``, the modules that still have mypy errors.
This runs mypy once over the project with that override left out, and fails when a listed
module has no error any more (take it off the list, so it stays clean), when a module was
added to the list (fix its errors instead), or when any other module has an error.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (it comes with the test extra: pip install -e '.[test]')",
)

# The list when mypy came in. Modules leave it as they are fixed; none may join it.
FIRST_LIST = {
    "portal.accounts.views",
    "portal.gatherings.views",
    "portal.grants.phase_views",
    "portal.grants.project_views",
    "portal.grants.reviews",
    "portal.learning.views",
    "portal.main.views",
    "portal.notifications.views",
    "portal.remuneration.claim_views",
    "portal.remuneration.finance_views",
    "portal.remuneration.rate_views",
    "portal.stories.member_views",
    "portal.stories.public_views",
    "portal.stories.staff_views",
}

_ERROR_LINE = re.compile(r"^(?P<path>[^:\n]+\.py):\d+(?::\d+)?: error: ", re.MULTILINE)


def _mypy_config() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["mypy"]
    return config


def _known_errors_override(config: dict[str, Any]) -> dict[str, Any]:
    found = [o for o in config.get("overrides", []) if o.get("ignore_errors")]
    assert len(found) == 1, "pyproject.toml should have one mypy override with ignore_errors = true"
    return found[0]


def _modules(override: dict[str, Any]) -> list[str]:
    module = override["module"]
    return [module] if isinstance(module, str) else list(module)


def _path_of(module: str) -> Path:
    assert "*" not in module, f"{module}: list modules one by one, not with a pattern"
    path = ROOT / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _toml_value(value: Any) -> str:
    # Strings, booleans, numbers and lists of them are written the same in JSON and TOML.
    assert isinstance(value, str | bool | int | list), f"cannot copy the mypy setting {value!r}"
    return json.dumps(value)


def _config_without(config: dict[str, Any], dropped: dict[str, Any]) -> str:
    """pyproject's [tool.mypy], the same in every way except that one override."""
    lines = ["[tool.mypy]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.items() if key != "overrides"]
    for override in config.get("overrides", []):
        if override is not dropped:
            lines += ["", "[[tool.mypy.overrides]]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in override.items()]
    return "\n".join(lines) + "\n"


def test_the_list_of_modules_with_known_errors_only_shrinks(tmp_path: Path) -> None:
    config = _mypy_config()
    override = _known_errors_override(config)
    modules = _modules(override)
    added = sorted(set(modules) - FIRST_LIST)
    assert not added, f"fix the mypy errors in {added} instead of listing them as known errors"
    paths = {module: _path_of(module) for module in modules}
    gone = [module for module, path in paths.items() if not path.is_file()]
    assert not gone, f"{gone} no longer exist: take them off the known-errors list in pyproject.toml"

    config_file = tmp_path / "mypy.toml"
    config_file.write_text(_config_without(config, override))
    # One run over the project's files (``files`` in the config); the project's own cache makes
    # it quick after the first.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config_file), "--cache-dir", ".mypy_cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), f"mypy did not run:\n{result.stdout}\n{result.stderr}"

    with_errors = {Path(match["path"]).as_posix() for match in _ERROR_LINE.finditer(result.stdout)}
    listed = {path.relative_to(ROOT).as_posix() for path in paths.values()}
    clean = [module for module, path in paths.items() if path.relative_to(ROOT).as_posix() not in with_errors]
    assert not clean, (
        f"mypy finds no error left in {clean}: take them off the known-errors list in pyproject.toml "
        "(and FIRST_LIST here), so they stay clean"
    )
    unlisted = sorted(with_errors - listed)
    assert not unlisted, f"mypy errors outside the known-errors list, in {unlisted}:\n{result.stdout}"
