"""The run's environment (command, host, requirements, git state, allowed variables) and the
masking of secrets in what autolog records."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import autolog
from autolog import _context, _environment
from autolog._redact import mask_argv, mask_text
from autolog.client import Client

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture(autouse=True)
def environment_on():
    autolog.set_environment_logging()  # on, whatever tests/conftest.py's variable says
    yield
    _environment._parts.clear()
    _environment._variables = None
    _context.system_tags.cache_clear()


def _read(run_id: str, path: str) -> str:
    local = Client().download_artifacts(run_id, path)
    return Path(local).read_text()


def test_a_user_run_records_command_host_and_requirements():
    with autolog.start_run() as run:
        pass
    tags = autolog.get_run(run.info.run_id).data.tags
    assert tags["autolog.command"].startswith(sys.executable)
    assert tags["autolog.host"] and tags["autolog.os"]
    assert int(tags["autolog.cpu_count"]) == os.cpu_count()
    assert int(tags["autolog.memory_total_mb"]) > 100
    requirements = _read(run.info.run_id, _environment.REQUIREMENTS_FILE).splitlines()
    import sqlalchemy

    assert f"SQLAlchemy=={sqlalchemy.__version__}" in requirements
    assert requirements == sorted(requirements, key=lambda line: line.split("==")[0].lower())
    assert not any(k.startswith("autolog.env.") for k in tags)


def test_nested_runs_get_tags_but_not_the_files_again():
    with autolog.start_run() as outer:
        with autolog.start_run(nested=True) as inner:
            pass
    files = {f.path for f in Client().list_artifacts(inner.info.run_id)}
    assert files == set()
    assert "autolog.host" in autolog.get_run(inner.info.run_id).data.tags
    assert {f.path for f in Client().list_artifacts(outer.info.run_id)} == {"environment"}


def test_each_part_can_be_turned_off():
    autolog.set_environment_logging(command=False, host=False, git=False, git_diff=False,
                                    requirements=False, gpus=False)
    with autolog.start_run() as run:
        pass
    tags = autolog.get_run(run.info.run_id).data.tags
    assert "autolog.command" not in tags and "autolog.host" not in tags and "autolog.gpus" not in tags
    assert not [k for k in tags if k.startswith("autolog.source.git")]
    assert Client().list_artifacts(run.info.run_id) == []
    assert "autolog.user" in tags  # who ran it is not part of the environment switch


def test_environment_variables_only_from_the_allow_list_and_masked(monkeypatch):
    monkeypatch.setenv("AUTOLOG_TEST_PLAIN", "hello")
    monkeypatch.setenv("AUTOLOG_TEST_TOKEN", "s3cr3t-value")
    monkeypatch.setenv("AUTOLOG_TEST_URL", "postgresql://bob:hunter2@db.example/x")
    monkeypatch.setenv("AUTOLOG_TEST_HIDDEN", "not recorded")
    autolog.set_environment_logging(
        environment_variables=["AUTOLOG_TEST_PLAIN", "AUTOLOG_TEST_TOKEN", "AUTOLOG_TEST_URL"])
    with autolog.start_run() as run:
        pass
    tags = autolog.get_run(run.info.run_id).data.tags
    assert tags["autolog.env.AUTOLOG_TEST_PLAIN"] == "hello"
    assert tags["autolog.env.AUTOLOG_TEST_TOKEN"] == "***"
    assert tags["autolog.env.AUTOLOG_TEST_URL"] == "postgresql://bob:***@db.example/x"
    assert "autolog.env.AUTOLOG_TEST_HIDDEN" not in tags
    assert "hunter2" not in str(dict(tags))


def test_params_and_tags_naming_a_secret_are_masked_others_kept():
    with autolog.start_run(tags={"db_password": "pw", "source": f"https://x:{TOKEN}@h/r"}) as run:
        autolog.log_params({"api_key": "abc123", "max_tokens": 512, "token_pattern": r"\w+",
                            "HF_TOKEN": "hf_x", "note": f"uses {TOKEN}"})
        autolog.set_tag("auth_token", "Bearer abcdefgh12345")
    data = autolog.get_run(run.info.run_id).data
    assert data.params["api_key"] == "***" and data.params["HF_TOKEN"] == "***"
    assert data.params["max_tokens"] == "512" and data.params["token_pattern"] == r"\w+"
    assert data.params["note"] == "uses ***"
    assert data.tags["db_password"] == "***" and data.tags["auth_token"] == "***"
    assert data.tags["source"] == "https://x:***@h/r"


def test_mask_helpers():
    assert mask_text(f"https://{TOKEN}@github.com/a/b.git") == "https://***@github.com/a/b.git"
    assert mask_text("ssh://git@github.com/a/b.git") == "ssh://git@github.com/a/b.git"
    assert mask_text("key AKIAABCDEFGHIJKLMNOP here") == "key *** here"
    assert mask_argv(["t.py", "--api-key", "k", "--password=p", "--lr", "0.1"]) == [
        "t.py", "--api-key", "***", "--password=***", "--lr", "0.1"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_git_branch_remote_dirty_and_diff_with_secrets_masked(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "train.py"
    script.write_text(
        "import sys, autolog\n"
        "with autolog.start_run() as r:\n"
        "    autolog.log_param('api_key', 'abc123')\n"
        "print(r.info.run_id)\n")
    _git(repo, "init", "-q", "-b", "feature/x")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "x")
    _git(repo, "remote", "add", "origin", f"https://oauth2:{TOKEN}@gitlab.example/team/repo.git")
    commit = _git(repo, "rev-parse", "HEAD")
    script.write_text(script.read_text() + f"# changed, with a token {TOKEN}\n")
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "store"),
           "PYTHONPATH": str(ROOT), "AUTOLOG_ENVIRONMENT_EXCLUDE": ""}
    out = subprocess.run([sys.executable, str(script), "--token", "abc", "--seed=1"], cwd=repo,
                         env=env, capture_output=True, text=True, check=True)
    client = Client(str(tmp_path / "store"))
    run = client.get_run(out.stdout.strip())
    tags = run.data.tags
    assert tags["autolog.source.git.commit"] == commit
    assert tags["autolog.source.git.branch"] == "feature/x"
    assert tags["autolog.source.git.repoURL"] == "https://oauth2:***@gitlab.example/team/repo.git"
    assert tags["autolog.source.git.dirty"] == "true"
    assert tags["autolog.command"].endswith("train.py --token '***' --seed=1")
    assert run.data.params["api_key"] == "***"
    diff = Path(client.download_artifacts(run.info.run_id, _environment.DIFF_FILE)).read_text()
    assert "+# changed, with a token ***" in diff and TOKEN not in diff
    assert TOKEN not in str(dict(tags))


def _dirty_repo(tmp_path: Path, name: str, committed: str, changed: str) -> Path:
    """A repository with one committed file ``name``, changed since."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / name).write_text(committed)
    _git(repo, "add", name)
    _git(repo, "commit", "-qm", "x")
    (repo / name).write_text(changed)
    _environment.git_state.cache_clear()
    return repo


def test_no_subprocess_on_the_callers_thread(tmp_path, monkeypatch):
    repo = _dirty_repo(tmp_path, "f", "x", "y")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(_context, "source_name", lambda: "<interactive>")
    threads = []
    real_run = subprocess.run

    def spy(*args, **kwargs):  # the real subprocess.run, noting which thread called it
        threads.append(threading.current_thread().name)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    _context.system_tags.cache_clear()
    with autolog.start_run() as run:
        pass
    assert threads and set(threads) == {"autolog-writer"}
    assert autolog.get_run(run.info.run_id).data.tags["autolog.source.git.dirty"] == "true"
    assert "+y" in _read(run.info.run_id, _environment.DIFF_FILE)


def test_a_huge_diff_is_capped(tmp_path):
    repo = _dirty_repo(tmp_path, "big.txt", "a\n", "line of text that repeats\n" * 80_000)  # ~2 MB
    dirty, diff = _environment.git_state(str(repo))
    assert dirty is True and len(diff) <= _environment.MAX_DIFF_BYTES
    assert diff.endswith(b"# autolog: diff truncated at 1 MB\n")
