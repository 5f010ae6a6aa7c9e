"""The one Config: precedence, types, unknown keys, secrets, and that only config.py reads the environment."""

import re
from pathlib import Path

import pytest

from hepmini import config
from hepmini.errors import ConfigError


def test_precedence_defaults_files_env_flags(tmp_path):
    assert config.resolve(environ={}, cwd=tmp_path).scale == 1.0
    (tmp_path / "setup.cfg").write_text("[hepmini]\nscale = 0.5\nseed = 3\njobs = 2\n")
    (tmp_path / "hepmini.cfg").write_text("[hepmini]\nscale = 0.25   # a comment\n")
    cfg = config.resolve(environ={}, cwd=tmp_path)
    assert (cfg.scale, cfg.seed, cfg.jobs) == (0.25, 3, 2)          # hepmini.cfg over setup.cfg
    cfg = config.resolve(environ={"HEPMINI_SCALE": "0.1"}, cwd=tmp_path)
    assert cfg.scale == 0.1                                          # environment over files
    cfg = config.resolve({"scale": "0.05"}, environ={"HEPMINI_SCALE": "0.1"}, cwd=tmp_path)
    assert cfg.scale == 0.05 and cfg.seed == 3                       # flags over everything


def test_types_paths_and_booleans(tmp_path):
    cfg = config.resolve({"workdir": "~/w", "live": "yes", "data_dir": str(tmp_path)}, environ={}, cwd=tmp_path)
    assert cfg.workdir == Path.home() / "w" and cfg.live is True and cfg.data_dir == tmp_path
    assert cfg.solution_dir == cfg.workdir / "solution" and cfg.effective_data_dir == tmp_path
    with pytest.raises(ConfigError, match=r"setting jobs='two' is not a valid int"):
        config.resolve({"jobs": "two"}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="classifier must be auto, tabpfn or hgb"):
        config.resolve({"classifier": "xgb"}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="scale must be positive"):
        config.resolve({"scale": "0"}, environ={}, cwd=tmp_path)


def test_unknown_keys_get_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting 'scael' in --set \(did you mean scale\?\)"):
        config.parse_set(["scael=1"])
    with pytest.raises(ConfigError, match="needs the form key=value"):
        config.parse_set(["scale"])
    (tmp_path / "hepmini.cfg").write_text("[hepmini]\nclasifier = hgb\n")
    with pytest.raises(ConfigError, match="did you mean classifier"):
        config.resolve(environ={}, cwd=tmp_path)
    (tmp_path / "hepmini.cfg").write_text("not an ini file")
    with pytest.raises(ConfigError, match="cannot parse"):
        config.resolve(environ={}, cwd=tmp_path)


def test_keys_are_read_once_and_never_shown(tmp_path):
    env = {"OPENAI_API_KEY": "sk-planted-123", "GOOGLE_API_KEY": "g-planted-456", "PATH": "/bin",
           "HTTPS_PROXY": "http://user:pw@proxy", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    cfg = config.resolve(environ=env, cwd=tmp_path)
    assert cfg.keys["openai"] == "sk-planted-123" and cfg.keys["gemini"] == "g-planted-456"
    assert cfg.base_urls["openai"] == "http://127.0.0.1:9/v1"
    assert cfg.passthrough_env == {"PATH": "/bin"}                    # no key, no proxy credential
    for text in (repr(cfg), str(cfg.keys), repr(cfg.keys)):
        assert "planted" not in text


def test_only_config_reads_the_environment():
    package = Path(config.__file__).parent
    readers = sorted(p.name for p in package.glob("*.py")
                     if re.search(r"os\.environ|os\.getenv|environ\.get\(", p.read_text())
                     and p.name != "config.py")
    assert readers == [], readers
