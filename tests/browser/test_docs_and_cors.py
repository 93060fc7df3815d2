"""In a real browser: the docs page's "Try it out" predicts, and a page of another origin
calls the API with fetch() when (and only when) KOSPRICE_CORS_ORIGINS lets it."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import StaticPage
from tests.factories import LISTING

pytestmark = [pytest.mark.gunicorn, pytest.mark.browser]

PREDICT = "#operations-predictions-post_predict__region_"


def test_try_it_out_on_the_docs_page_shows_a_price(page, api, artifacts):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(api.url + "/docs/")
    page.click(f"{PREDICT} .opblock-summary")
    try_out = page.locator(f"{PREDICT} button.try-out__btn")
    if try_out.inner_text().strip() == "Try it out":  # the docs may open in try-out mode
        try_out.click()
    page.select_option(f'{PREDICT} tr[data-param-name="region"] select', "yogyakarta")
    page.click(f"{PREDICT} button.execute")
    body = page.locator(f"{PREDICT} .live-responses-table .response-col_description pre")
    body.first.wait_for(timeout=30_000)
    status = page.locator(
        f"{PREDICT} .live-responses-table tr.response td.response-col_status").first
    assert status.inner_text().strip() == "200"
    answer = json.loads(body.first.inner_text())
    assert answer["region"] == "yogyakarta" and answer["predicted_price"] > 0
    page.screenshot(path=str(artifacts / "docs-try-it-out.png"), full_page=True)
    # Swagger UI's scripts, styles and the document all came from the service itself.
    assert requested and all(url.startswith(api.url) for url in requested), requested


FETCH_PAGE = """<!doctype html><meta charset="utf-8"><title>frontend</title>
<pre id="result"></pre>
<script>
fetch("{api}/predict/yogyakarta", {{method: "POST",
      headers: {{"Content-Type": "application/json", "X-Request-ID": "from-the-browser"}},
      body: JSON.stringify({listing})}})
  .then(r => r.json().then(body => ({{status: r.status, body,
                                       requestId: r.headers.get("X-Request-ID")}})))
  .then(result => document.getElementById("result").textContent = JSON.stringify(result))
  .catch(error => document.getElementById("result").textContent = "blocked: " + error);
</script>"""


def fetch_result(page, api, port: int | None = None) -> str:
    with StaticPage(FETCH_PAGE.format(api=api.url, listing=json.dumps(LISTING)),
                    port=port) as frontend:
        page.goto(frontend.url)
        page.wait_for_function("document.getElementById('result').textContent !== ''",
                               timeout=30_000)
        return page.inner_text("#result")


def test_a_page_of_an_allowed_origin_gets_a_price_with_fetch(page, api, frontend_port):
    result = json.loads(fetch_result(page, api, frontend_port))
    assert result["status"] == 200 and result["body"]["predicted_price"] > 0
    assert result["requestId"] == "from-the-browser"  # exposed to the page by CORS


def test_a_page_of_another_origin_is_blocked_by_the_browser(page, api):
    assert re.match(r"blocked: TypeError", fetch_result(page, api))
