"""Scoring configuration: the versioned ICP file (`ml/config/icp.yml`) as a plain dictionary."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "config" / "icp.yml"
REQUIRED_SECTIONS = ("version", "icp", "features", "labels", "fallback", "tiers", "drift", "replies")


class ConfigError(ValueError):
    """The scoring config is missing a section or holds a value of the wrong kind."""


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the ICP/scoring config (default: the file shipped in `ml/config/icp.yml`).

    `overrides` is merged section by section on top (handy in tests: `{"fallback": {"min_labelled": 10}}`).
    """
    config_path = Path(path) if path else DEFAULT_CONFIG_PATH
    config = yaml.safe_load(config_path.read_text())
    if not isinstance(config, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level")
    missing = [s for s in REQUIRED_SECTIONS if s not in config]
    if missing:
        raise ConfigError(f"{config_path}: missing section(s) {', '.join(missing)}")
    config = copy.deepcopy(config)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    config["version"] = str(config["version"])
    return config


def config_fingerprint(config: dict[str, Any]) -> str:
    """A short hash of the whole config, so a score can be traced to the exact settings behind it."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
