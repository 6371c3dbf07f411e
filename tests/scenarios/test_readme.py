"""The README's top section, followed literally: its "Put it in your Slack" and "Put it in your
Discord" command blocks, run in order in a fresh copy of the repository, get to a delivered
test post, against the loopback fakes.

The only substitutions are the ones a fake must make: the copy's `config.example.toml`
points OpenRouter's address at its fake, `[ops] listen` at a free port, and gets a
`[discord]` or `[slack]` table naming the fake's address; the OpenRouter key the README
exports is replaced by the one the fake accepts. `rankbot run` is started in the background
(as a second terminal would) and every other line must exit 0. The chat step (`/rankbot
subscribe`) is typed in Slack or Discord, not in a shell, so it is not in a command block;
the test post does not need it. The quick start's two scripts are not run here: the demo is
pinned by tests/scenarios/test_recordings.py and the test script is this suite itself.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.openrouter_api import KEY, history
from tests.fakes.openrouter_http import OpenRouterHttpFake
from tests.fakes.slack_fake import SlackFake
from tests.fakes.threaded import threaded

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def command_lines(text: str) -> list[str]:
    """The lines of every ```sh block, in order (comments and blank lines left out)."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for raw in block.replace("\\\n", " ").splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def test_the_quick_start_names_both_scripts_and_they_exist() -> None:
    assert command_lines(section("Quick start")) == [
        "bash scripts/demo.sh     # set up and replay the early-2026 story: no tokens, no network",
        "bash scripts/test.sh     # set up and run the checks and tests (ruff, import layers, "
        "mypy, pytest)",
    ]
    assert (ROOT / "scripts" / "demo.sh").exists() and (ROOT / "scripts" / "test.sh").exists()


def fresh_copy(target: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored), with this
    checkout's `.venv` linked in (nothing is installed again)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.executable).parents[1])
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def follow(
    lines: list[str], clone: Path, env: dict[str, str], port: int
) -> subprocess.Popen[bytes]:
    """Run the README's lines as a person would in one shell: `export` sets a variable,
    `rankbot run` goes to the background until `/readyz` says it is up, everything else must
    succeed. Returns the running bot."""
    bot: subprocess.Popen[bytes] | None = None
    for line in lines:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value
            if name == "OPENROUTER_API_KEY":
                env[name] = KEY  # the key the fake accepts, for the README's placeholder
            continue
        if " run " in f"{line} ":
            log = (clone / "run.log").open("wb")
            bot = subprocess.Popen(["bash", "-c", line], cwd=clone, env=env, stdout=log, stderr=log)
            try:
                wait_ready(port, bot, clone / "run.log")
            except BaseException:
                stop(bot)  # never leave the bot running after a failed test
                raise
            continue
        done = subprocess.run(["bash", "-c", line], cwd=clone, env=env, capture_output=True)
        output = (done.stdout + done.stderr).decode()
        if done.returncode != 0 and bot is not None:
            stop(bot)
        assert done.returncode == 0, f"{line}\n{output}"
    assert bot is not None, "the README never starts the bot"
    return bot


def wait_ready(port: int, bot: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert bot.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the bot never got ready:\n{log.read_text()}")


def stop(bot: subprocess.Popen[bytes]) -> None:
    bot.send_signal(signal.SIGINT)
    try:
        bot.wait(30)
    except subprocess.TimeoutExpired:
        bot.kill()
        bot.wait(10)


@pytest.fixture
def openrouter() -> Iterator[OpenRouterHttpFake]:
    yesterday = date.today() - timedelta(days=1)
    with threaded(OpenRouterHttpFake(history(yesterday - timedelta(days=20), yesterday))) as fake:
        yield fake


def clone_for(
    tmp_path: Path, openrouter: OpenRouterHttpFake, platform: str
) -> tuple[Path, dict[str, str], int]:
    """A fresh copy whose example config points at the fakes: OpenRouter's `base_url` and
    the listener's port replaced, and the platform's table (commented out in the example,
    defaults only) added with the fake's addresses."""
    clone = fresh_copy(tmp_path / "rankbot")
    port = free_port()
    example = clone / "config.example.toml"
    text = example.read_text()
    for real, fake in {
        '"https://openrouter.ai"': f'"{openrouter.base_url}"',
        "127.0.0.1:9464": f"127.0.0.1:{port}",
    }.items():
        assert real in text, real
        text = text.replace(real, fake)
    example.write_text(f"{text}\n{platform}\n")
    secret = ("RANKBOT_", "SLACK_", "DISCORD_", "OPENROUTER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(secret)}
    home = tmp_path / "home"
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "c"))
    return clone, env, port


def test_put_it_in_your_discord_gets_to_a_delivered_test_post(
    tmp_path: Path, openrouter: OpenRouterHttpFake
) -> None:
    lines = command_lines(section("Put it in your Discord"))
    assert any(line.startswith(".venv/bin/rankbot send-test discord:") for line in lines)
    with threaded(FakeDiscord()) as discord:
        table = f'[discord]\napi_base = "{discord.api_base}"\ngateway_url = "{discord.gateway_url}"'
        clone, env, port = clone_for(tmp_path, openrouter, table)
        bot = follow(lines, clone, env, port)
        try:
            channel = re.search(r"send-test discord:\d+:(\d+)", "\n".join(lines))
            assert channel is not None
            posts = discord.channel_messages(channel.group(1))
            assert len(posts) == 1
            assert "rankbot test post" in str(posts[0].json)
        finally:
            stop(bot)


def test_put_it_in_your_slack_gets_to_a_delivered_test_post(
    tmp_path: Path, openrouter: OpenRouterHttpFake
) -> None:
    lines = command_lines(section("Put it in your Slack"))
    assert any(line.startswith(".venv/bin/rankbot send-test slack:") for line in lines)
    with threaded(SlackFake()) as slack:
        table = f'[slack]\napi_url = "{slack.api_url}"'
        clone, env, port = clone_for(tmp_path, openrouter, table)
        bot = follow(lines, clone, env, port)
        try:
            assert (clone / "manifest.json").read_text().startswith("{")
            channel = re.search(r"send-test slack:\w+:(\w+)", "\n".join(lines))
            assert channel is not None
            posts: list[Any] = [
                c for c in slack.called("chat.postMessage") if c.params["channel"] == channel[1]
            ]
            assert len(posts) == 1
            assert "rankbot test post" in str(posts[0].params)
        finally:
            stop(bot)
