"""Every failure a user can cause: one line on stderr, no traceback, the exit code of the table.

Each case runs through the real command line: a subprocess (`python -m bot`) where the failure
can be produced for real (a locked or corrupt database, a closed port, a refused token from a
loopback fake, a closed pipe, Ctrl-C), else `bot.cli.main.main()` in-process with the failure
injected at the one place the operating system would raise it (a full disk, a read-only file
system: this suite runs as root, which no permission bit stops).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import pytest
import respx

from bot.cli import top
from bot.cli.main import main
from bot.errors import ExitCode
from bot.store.tinydb import TinyStore
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_fake import SlackFake
from tests.fakes.threaded import threaded

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "data" / "demo-history.jsonl"
SYNTHETIC = ROOT / "tests" / "fixtures" / "recordings" / "synthetic-history.jsonl"
INTERNAL = re.compile(
    r"rankbot: internal error: \w+: .+ \(run with --debug for the traceback and report it\)"
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any rankbot, platform or source setting, plus `extra`."""
    secret = ("RANKBOT_", "SLACK_", "DISCORD_", "OPENROUTER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(secret)}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def rankbot(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[int, str]:
    """Run the real CLI; the exit code and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr


def one_line(stderr: str) -> str:
    """The single line a failure prints (and proof that it is one, with no traceback)."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def last_line(stderr: str) -> str:
    """`rankbot run` logs as it starts (INFO, on stderr): the failure is its last line."""
    assert "Traceback" not in stderr
    return stderr.strip().splitlines()[-1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with the demo history in it."""
    path = tmp_path / "db.json"
    code, err = rankbot("replay", str(DEMO), "--db", str(path))
    assert code == ExitCode.OK, err
    return path


def test_the_table_is_documented_number_for_number() -> None:
    doc = (ROOT / "docs" / "exit-codes.md").read_text()
    rows = dict(re.findall(r"^\| *(\d+) \| `(\w+)` \|", doc, flags=re.M))
    assert rows == {str(code.value): code.name for code in ExitCode}
    assert "docs/exit-codes.md" in (ROOT / "README.md").read_text()


def test_ok(db: Path) -> None:
    code, err = rankbot("top", "3", "--db", str(db))
    assert (code, err) == (ExitCode.OK, "")


# --- 2: usage and configuration --------------------------------------------------------------


def test_a_bad_argument(db: Path) -> None:
    code, err = rankbot("top", "99", "--db", str(db))
    assert code == ExitCode.USAGE
    assert "Traceback" not in err and err.splitlines()[-1].startswith("rankbot top: error:")


def test_a_bad_config_key(tmp_path: Path) -> None:
    config = tmp_path / "rankbot.toml"
    config.write_text("[detect]\ntopn = 5\n")
    code, err = rankbot("replay", str(DEMO), "--config", str(config))
    assert code == ExitCode.USAGE
    assert one_line(err) == "rankbot: error: [detect] topn: unknown key (did you mean 'top_n'?)"


def test_a_missing_environment_variable(tmp_path: Path) -> None:
    code, err = rankbot("poll", "--once", "--db", str(tmp_path / "db.json"))
    assert code == ExitCode.USAGE
    assert one_line(err).startswith("rankbot: error: OPENROUTER_API_KEY is not set")


def test_a_bad_history_file(tmp_path: Path) -> None:
    history = tmp_path / "bad.jsonl"
    history.write_text('{"as_of": "2026-01-05", "entries": []}\n')
    code, err = rankbot("replay", str(history))
    assert code == ExitCode.USAGE
    assert one_line(err) == f"rankbot: error: {history}:1: snapshot: no entries " + (
        "(an empty ranking is never stored)"
    )


def test_a_bad_template(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "grouped.j2").write_text("{% for e in events %}{{ e.kind }\n")
    config = tmp_path / "rankbot.toml"
    config.write_text(f'[templates]\ndir = "{tmp_path}"\n')
    code, err = rankbot("replay", str(DEMO), "--config", str(config))
    assert code == ExitCode.USAGE
    line = one_line(err)
    template = tmp_path / "text" / "grouped.j2"
    assert line.startswith(f"rankbot: error: template override {template} line 1 does not compile")


def test_slack_without_its_tokens(tmp_path: Path) -> None:
    config = tmp_path / "rankbot.toml"
    config.write_text('[slack]\nmode = "socket"\n')
    code, err = rankbot(
        "run", "--history", str(DEMO), "--config", str(config), "--db", str(tmp_path / "d.json")
    )
    assert code == ExitCode.USAGE
    assert "needs the environment variable(s) SLACK_BOT_TOKEN, SLACK_APP_TOKEN" in last_line(err)


# --- 3, 4, 5: the database -------------------------------------------------------------------


def test_a_database_in_use(db: Path) -> None:
    holder = TinyStore.open(db)
    try:
        code, err = rankbot("replay", str(DEMO), "--db", str(db))
    finally:
        holder.close_now()
    assert code == ExitCode.STORE_BUSY == 3
    assert "is in use by another rankbot process" in one_line(err)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "does not hold a rankbot database"),
        ('{"meta": {"1": {"schema": 99}}}', "has schema version 99"),
    ],
)
def test_an_unreadable_database(tmp_path: Path, content: str, why: str) -> None:
    db = tmp_path / "db.json"
    db.write_text(content)
    code, err = rankbot("top", "--db", str(db))
    assert code == ExitCode.STORE_UNREADABLE == 4
    assert why in one_line(err)


@pytest.mark.parametrize(
    ("number", "fix"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "the file system is read-only"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_the_disk_refuses_a_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    number: int,
    fix: str,
) -> None:
    def refuse(fd: int, data: bytes) -> int:
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, "write", refuse)  # the journal's append of the first commit
    code = main(["replay", str(DEMO), "--db", str(tmp_path / "db.json")])
    assert code == ExitCode.STORE_IO == 5
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"rankbot: error: cannot write the database {tmp_path / 'db.json'}: ")
    assert fix in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    code, err = rankbot("replay", str(DEMO), "--db", str(locked / "db.json"))
    locked.chmod(0o755)
    assert code == ExitCode.STORE_IO
    assert "permission denied" in one_line(err)


# --- 6, 7: platforms and the source at start-up ----------------------------------------------


def test_discord_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "rankbot.toml"
    config.write_text(f'[discord]\napi_base = "http://127.0.0.1:{closed_port()}/api/v10"\n')
    env = clean_env(DISCORD_BOT_TOKEN="discord-test-token")
    db = str(tmp_path / "d.json")
    code, err = rankbot("discord-sync", "--config", str(config), "--db", db, env=env)
    assert code == ExitCode.NETWORK == 6
    assert one_line(err).startswith("rankbot: error: cannot reach Discord at http://127.0.0.1:")


def test_slack_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "rankbot.toml"
    config.write_text(f'[slack]\napi_url = "http://127.0.0.1:{closed_port()}/api/"\n')
    env = clean_env(SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1")
    db = str(tmp_path / "d.json")
    code, err = rankbot("run", "--history", str(DEMO), "--config", str(config), "--db", db, env=env)
    assert code == ExitCode.NETWORK
    assert last_line(err).startswith("rankbot: error: cannot reach Slack at http://127.0.0.1:")


def test_discord_refuses_the_token(tmp_path: Path) -> None:
    env = clean_env(DISCORD_BOT_TOKEN="revoked-token")
    with threaded(FakeDiscord()) as fake:
        fake.fail_next("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
        config = tmp_path / "rankbot.toml"
        config.write_text(f'[discord]\napi_base = "{fake.api_base}"\n')
        db = str(tmp_path / "d.json")
        code, err = rankbot("discord-sync", "--config", str(config), "--db", db, env=env)
    assert code == ExitCode.CREDENTIALS == 7
    assert one_line(err) == "rankbot: error: Discord refused the bot token in DISCORD_BOT_TOKEN"


def test_slack_refuses_the_token(tmp_path: Path) -> None:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-revoked", SLACK_APP_TOKEN="xapp-1")
    with threaded(SlackFake()) as fake:
        fake.fail("auth.test", error="invalid_auth")
        config = tmp_path / "rankbot.toml"
        config.write_text(f'[slack]\napi_url = "{fake.api_url}"\n')
        argv = ["run", "--history", str(DEMO), "--config", str(config)]
        code, err = rankbot(*argv, "--db", str(tmp_path / "d.json"), env=env)
    assert code == ExitCode.CREDENTIALS
    assert last_line(err) == "rankbot: error: Slack refused SLACK_BOT_TOKEN (invalid_auth)"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        aiohttp.ServerDisconnectedError(),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    ],
)
def test_a_network_error_no_adapter_translated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    def unreachable(args: object) -> int:
        raise error

    monkeypatch.setattr(top, "cmd_top", unreachable)
    assert main(["top"]) == ExitCode.NETWORK
    assert one_line(capsys.readouterr().err).startswith("rankbot: error: network unreachable: ")


# --- 8: the source failed in `poll --once` ---------------------------------------------------


@respx.mock
def test_poll_once_when_the_source_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    respx.get("https://openrouter.test/api/v1/models").mock(
        return_value=httpx.Response(200, json={"data": []})
    )
    respx.get("https://openrouter.test/api/v1/datasets/rankings-daily").mock(
        return_value=httpx.Response(400, json={"error": {"message": "start_date too early"}})
    )
    config = tmp_path / "rankbot.toml"
    config.write_text('[source]\nbase_url = "https://openrouter.test"\n')
    code = main(["poll", "--once", "--config", str(config), "--db", str(tmp_path / "d.json")])
    assert code == ExitCode.SOURCE_FAILED == 8
    err = capsys.readouterr().err
    assert "Traceback" not in err  # the poll's own report (and the poller's warning) only
    last = err.splitlines()[-1]
    assert last.startswith("polled openrouter: 0 snapshot(s)")
    assert "source error: SourceError: backfill stopped" in last


# --- 1: a bug ----------------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(top, "cmd_top", broken)
    assert main(["top"]) == ExitCode.INTERNAL == 1
    line = one_line(capsys.readouterr().err)
    assert INTERNAL.fullmatch(line)
    assert line.startswith("rankbot: internal error: ZeroDivisionError: division by zero ")


@pytest.mark.parametrize("how", ["--debug", "RANKBOT_DEBUG"])
def test_debug_still_prints_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(top, "cmd_top", broken)
    argv = ["top"]
    if how == "--debug":
        argv.append("--debug")
    else:
        monkeypatch.setenv("RANKBOT_DEBUG", "1")
    assert main(argv) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in broken" in err
    assert INTERNAL.fullmatch(err.splitlines()[-1])


def test_debug_with_a_user_error_shows_its_traceback_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.json"
    db.write_text("{not json")
    assert main(["--debug", "top", "--db", str(db)]) == ExitCode.STORE_UNREADABLE
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("rankbot: error: ")


# --- 130 and 141 -------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_gracefully_on_sigint_and_sigterm(tmp_path: Path, sig: signal.Signals) -> None:
    # a service manager's stop is not a crash: `rankbot run` exits 0 with one line
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--history", str(DEMO), "--db", "d.json"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # wait until the bot runs
        if "rankbot running" in line or time.monotonic() > deadline:
            break
    proc.send_signal(sig)
    rest = proc.stderr.read()
    assert proc.wait(30) == ExitCode.OK
    assert "Traceback" not in rest
    assert f"{sig.name}: stopping" in rest
    assert len([line for line in rest.splitlines() if "rankbot stopped" in line]) == 1


def test_ctrl_c_in_a_one_shot_command_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(top, "cmd_top", interrupted)
    assert main(["top"]) == ExitCode.INTERRUPTED
    assert capsys.readouterr() == ("", "")


def test_top_into_a_pipe_closed_before_it_writes_exits_141(db: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "top", "10", "--db", str(db)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `rankbot top | true`: the reader is gone before the first byte
    err = proc.stderr.read()
    assert proc.wait(60) == ExitCode.PIPE_CLOSED
    assert err == b""


def test_a_closed_pipe_exits_141_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "replay", "--confirm", "1", "--top-n", "5", str(SYNTHETIC)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # `| head -1`: one line, then the reader goes away
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(60) == ExitCode.PIPE_CLOSED == 141
    assert err == b""
