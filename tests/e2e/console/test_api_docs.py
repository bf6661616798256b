"""/docs renders the OpenAPI document in Chromium: operations listed, no "Unable to render"."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_swagger_ui_renders_the_openapi_document(console_url, browser_page, login, tmp_path):
    page, problems = browser_page
    login(page, "/docs")  # the docs are for console users only
    page.wait_for_function("document.querySelector('.opblock')"
                           " || document.body.innerText.includes('Unable to render')")
    page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
    text = page.inner_text("body")
    assert "Unable to render" not in text
    assert page.query_selector(".errors-wrapper") is None
    operations = page.query_selector_all(".opblock-summary-path")
    paths = {op.get_attribute("data-path") for op in operations}
    assert "/api/session" in paths and "/healthz" in paths
    assert page.query_selector(".opblock-summary-method") is not None
    assert problems == [], problems
