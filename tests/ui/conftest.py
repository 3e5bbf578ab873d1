"""The UI in a real browser: Debian's Chromium driven by Playwright, against a real uvicorn
server on 127.0.0.1 over a store the tutorial's examples wrote (plus tests/ui/seed_extra.py).

One browser per test session; a fresh page (tab) per test. Screenshots of each page go to
tests/ui/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AUTOLOG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
EXAMPLES = ["basic_tracking.py", "compare_runs.py", "epoch_tracking.py", "nested_runs.py",
            "tagging.py", "artifact_logging.py"]


def _require_browser() -> None:
    require("playwright")
    require("starlette")
    require("uvicorn")
    if not os.path.exists(CHROMIUM):
        message = f"Chromium is not installed at {CHROMIUM} (run .ci/chromium.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(path: Path, tracking: Path) -> None:
    env = dict(os.environ, AUTOLOG_TRACKING_URI=str(tracking), MPLBACKEND="Agg",
               AUTOLOG_STRICT="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(path)], cwd=tracking.parent, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stderr}"


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory) -> Path:
    """A store after the tutorial's examples and the UI's own seed have run."""
    _require_browser()
    require("sklearn")
    tracking = tmp_path_factory.mktemp("ui") / "store"
    for name in EXAMPLES:
        run_script(ROOT / "examples" / name, tracking)
    run_script(Path(__file__).with_name("seed_extra.py"), tracking)
    return tracking


class Served:
    """A uvicorn server in a thread of this process, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the UI server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def ui_server(seeded_store):
    from autolog.server.ui import create_ui_app

    with Served(create_ui_app(str(seeded_store))) as served:
        yield served


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    """Save a full-page screenshot as tests/ui/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
