"""The web UI in a real headless browser (Debian's chromium and chromium-driver):
`legato server` runs embedded in its own process; the test starts a run from the
blueprint page, watches it complete, reads the rendered pages and saves
screenshots to $LEGATO_SCREENSHOTS (the README's: `LEGATO_SCREENSHOTS=docs/screenshots
python -m pytest tests/server/test_browser.py`), else to a temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.server.demo_nodes import BLUEPRINT, FAILING, WAITING

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(
    os.environ.get("LEGATO_SCREENSHOTS")
    or os.path.join(tempfile.gettempdir(), f"legato-screenshots-{os.getuid()}")
)
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("bp")
    files = []
    for doc in (BLUEPRINT, FAILING, WAITING):
        path = folder / f"{doc['id']}.yaml"
        path.write_text(yaml.safe_dump(doc))
        files += ["--blueprint", str(path)]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "legato",
            "server",
            "--port",
            str(port),
            "--import",
            "tests.server.demo_nodes",
            *files,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"legato server exited {proc.returncode}:\n{out}")
            try:
                with urllib.request.urlopen(url + "/api/v1/workers", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        message = "needs chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,860",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, css: str, text: str | None = None) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    if text is not None:
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def shoot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))


def node_class(driver: Any, node: str) -> str:
    return str(wait_for(driver, f'g[data-node="{node}"]').get_attribute("class"))


def test_start_a_run_and_watch_it_complete(server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/#/blueprints/demo/1")
    box = wait_for(browser, "#start-input")
    box.clear()
    box.send_keys('{"n": 5}')
    browser.find_element(By.ID, "start").click()
    wait_for(browser, "#run-status", "completed")
    assert node_class(browser, "double") == "node completed"
    assert node_class(browser, "add_one") == "node completed"
    row = wait_for(browser, 'tr[data-step="add_one"]')
    assert '"n": 11' in row.text and '"n": 10' in row.text and "done" in row.text
    assert "run_completed" in browser.find_element(By.ID, "history").text
    shoot(browser, "run")
    run_id = browser.find_element(By.ID, "run-id").text

    browser.get(f"{server}/#/runs")
    row = wait_for(browser, f'tr[data-run="{run_id}"]')
    assert "demo v1" in row.text and "completed" in row.text
    shoot(browser, "runs")


def test_a_failed_run_shows_the_error_and_the_failed_node(server: str, browser: Any) -> None:
    body = b'{"blueprint": "failing", "input": {"n": 3}, "run_id": "ui-failed"}'
    request = urllib.request.Request(f"{server}/api/v1/runs", body, method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    browser.get(f"{server}/#/runs/ui-failed")
    wait_for(browser, "#run-status", "failed")
    assert node_class(browser, "explode") == "node failed"
    assert node_class(browser, "double") == "node completed"
    failed = wait_for(browser, 'tr[data-step="explode"]').text
    assert "attempt 1: NonRetryableError: db down for n=6" in failed
    assert "Traceback" in failed and "in explode" in failed
    shoot(browser, "failed-run")
    browser.get(f"{server}/#/runs?status=failed")
    wait_for(browser, 'tr[data-run="ui-failed"]')
    assert len(browser.find_elements("css selector", "#runs tr[data-run]")) == 1


def post(server: str, path: str, body: bytes = b"{}") -> int:
    request = urllib.request.Request(f"{server}/api/v1{path}", body, method="POST")
    with urllib.request.urlopen(request) as response:
        return int(response.status)


def test_pause_resume_and_retry_a_run_from_its_page(server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    assert post(server, "/runs", b'{"blueprint": "waiting", "run_id": "ui-wait"}') == 201
    browser.get(f"{server}/#/runs/ui-wait")
    wait_for(browser, "#run-status", "running")
    wait_for(browser, "#pause").click()
    wait_for(browser, "#run-status", "paused")
    assert wait_for(browser, "#resume") and not browser.find_elements(By.ID, "pause")
    browser.find_element(By.ID, "resume").click()
    wait_for(browser, "#run-status", "running")
    assert post(server, "/runs/ui-wait/signal", b'{"name": "approval", "data": {"n": 4}}') == 200
    wait_for(browser, "#run-status", "completed")
    history = browser.find_element(By.ID, "history").text
    assert "run_paused" in history and "run_resumed" in history

    body = b'{"blueprint": "failing", "input": {"n": 1}, "run_id": "ui-retry"}'
    assert post(server, "/runs", body) == 201
    browser.get(f"{server}/#/runs/ui-retry")
    wait_for(browser, "#run-status", "failed")
    wait_for(browser, "#retry").click()
    wait_for(browser, "#history", "run_retried")  # and explode fails again
    wait_for(browser, "#run-status", "failed")
    assert browser.find_element(By.ID, "action-error").text == ""


def test_the_schedules_page_lists_and_pauses_a_schedule(server: str, browser: Any) -> None:
    body = b'{"name": "nightly", "blueprint": "demo", "cron": "0 3 * * *"}'
    assert post(server, "/schedules", body) == 201
    browser.get(f"{server}/#/schedules")
    row = wait_for(browser, 'tr[data-schedule="nightly"]')
    assert "demo v1" in row.text and "0 3 * * * (UTC)" in row.text and "skip" in row.text
    row.find_element("css selector", "button.steer").click()
    wait_for(browser, 'tr[data-schedule="nightly"]', "paused")
    shoot(browser, "schedules")


def test_blueprints_and_workers_pages(server: str, browser: Any) -> None:
    browser.get(f"{server}/#/blueprints")
    assert "active" in wait_for(browser, 'tr[data-blueprint="demo@1"]').text
    wait_for(browser, 'tr[data-blueprint="failing@1"]')
    shoot(browser, "blueprints")
    browser.get(f"{server}/#/workers")
    row = wait_for(browser, "#workers tr[data-worker]")
    assert "embedded" in row.text and "16" in row.text
    shoot(browser, "workers")
