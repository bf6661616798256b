"""Fixtures of the browser tests: the console served by uvicorn over a copy of the demo
database on a free loopback port, and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from booking_core import agents
from booking_core.actors import Actor
from booking_core.clock import FixedClock
from models.migrate import upgrade
from registratura.bootstrap import Container, bootstrap
from registratura.settings import Settings
from support import live_console

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "e2e-password-1"
TIMEOUT_MS = 15_000


def serving(container: Container):  # type: ignore[no-untyped-def]
    """The console app of ``container`` served by uvicorn on a free loopback port."""
    return live_console.serving(container, poll_interval=0.2, sse_max_seconds=10)


@pytest.fixture
def console_url(sqlite_container: Container) -> Iterator[str]:
    agents.create_agent(agents.NewAgent("registrar7", "agent", PASSWORD, Actor.system("e2e"),
                                        full_name="Смирнова Е. А."), sqlite_container.uow())
    with serving(sqlite_container) as url:
        yield url


@pytest.fixture
def empty_console(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[str, Container]]:
    """The console over a migrated but empty database (``serve --no-seed-demo``)."""
    container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}",  # type: ignore[arg-type]
                                  secret_key="e2e-secret-key-0123456789"), clock=clock)
    upgrade(container.engine)
    try:
        with serving(container) as url:
            yield url, container
    finally:
        container.dispose()


@pytest.fixture
def browser_page():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} missing: scripts/setup.sh --test installs it")
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="ru-RU")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: d.accept())  # "cancel this appointment?" -> yes
        yield page, problems
        context.close()
        browser.close()


@pytest.fixture
def registrar_password() -> str:
    """The password of ``registrar7``, the registrar ``console_url`` creates."""
    return PASSWORD


@pytest.fixture
def login(console_url: str, registrar_password: str):  # type: ignore[no-untyped-def]
    """``login(page, path="/queue")``: sign ``registrar7`` in and land on ``path``."""

    def sign_in(page, path: str = "/queue") -> None:  # type: ignore[no-untyped-def]
        page.goto(f"{console_url}/login?next={path}")
        page.fill("#username", "registrar7")
        page.fill("#password", registrar_password)
        page.press("#password", "Enter")
        page.wait_for_url(f"{console_url}{path}")

    return sign_in
