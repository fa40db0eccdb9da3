"""The dashboard in a real browser: Debian's chromium driven by Playwright.

A real server on loopback serves the HTTP channel of a scheduler on a SQLite
store, on the system clock. ``tests/run`` installs chromium when it is
missing; Playwright downloads no browser (it launches /usr/bin/chromium).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tickwork as tw
from tickwork.channels.http import HTTPChannel, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "dashboard-test-token-0123456789"
VIEWER = "dashboard-viewer-token-987654321"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "images"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed"),
]

playwright_api = pytest.importorskip("playwright.sync_api")


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.app = tw.App()

        @self.app.service("report")
        def report(request: tw.Request) -> str:
            return "done"

        @self.app.service("flaky")
        def flaky(request: tw.Request) -> None:
            raise RuntimeError("flaky failed <b>loudly</b>")

        self.store = tw.SQLiteStore(tmp_path / "jobs.db")
        self.sched = tw.Scheduler(self.app, store=self.store, tz="UTC")
        self.sched.add_job("nightly", "report", tw.Cron("30 2 * * *", tz="Europe/London"))
        self.sched.add_job("broken", "flaky", tw.Interval(hours=1))
        self.sched.add_job(
            "<img src=x id=xss>", "report", tw.Interval(hours=6), extra="<script>alert(1)</script>"
        )
        self.sched.start()
        self.channel = HTTPChannel(self.app, self.sched, token=TOKEN, read_only_token=VIEWER)
        self.server = serve(self.channel, host="127.0.0.1", port=0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/dashboard/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.sched.shutdown()
        self.store.close()
        self.app.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(
        timezone_id="America/New_York", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield opened
    context.close()
    # No script error and no CSP violation while the test ran (a 401 or 400
    # the test asked for is logged as a failed resource, not a script error).
    assert [e for e in errors if "Failed to load resource" not in e] == []


def log_in(page: Any, server: Server, token: str = TOKEN) -> None:
    page.goto(server.url)
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_a_wrong_token_is_refused(page: Any, server: Server) -> None:
    log_in(page, server, "not-the-token")
    playwright_api.expect(page.locator("#login-error")).to_have_text("That token is not accepted.")
    assert page.evaluate("sessionStorage.getItem('tickwork.token')") is None


def test_overview_shows_jobs_and_escapes_everything(page: Any, server: Server) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, server)
    page.wait_for_selector("#jobs tbody tr")
    assert page.locator("#tile-total .value").inner_text() == "3"
    names = page.locator("#jobs tbody tr td:nth-child(2)").all_inner_texts()
    assert names == ["<img src=x id=xss>", "broken", "nightly"]
    assert page.locator("#xss").count() == 0  # the name stayed text
    page.click("text=<img src=x id=xss>")
    page.wait_for_selector("#definition")
    assert page.locator("dd[data-field=extra]").inner_text() == "<script>alert(1)</script>"
    page.wait_for_selector("#runs")
    assert dialogs == []  # no script from the data ran
    assert page.locator("script").count() == 1  # the dashboard's own


def test_delete_asks_first(page: Any, server: Server) -> None:
    answers = iter([False, True])
    asked: list[str] = []

    def on_dialog(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("#jobs >> text=broken")
    page.wait_for_selector("#delete")
    page.click("#delete")  # dismissed: nothing happens
    assert [job.name for job in server.sched.jobs()].count("broken") == 1
    page.click("#delete")
    page.wait_for_selector("#flash:has-text('Deleted broken')")
    assert "broken" not in [job.name for job in server.sched.jobs()]
    assert asked == ["Delete job broken? Its history stays."] * 2


def test_create_jobs_with_the_forms_and_see_the_cron_preview(page: Any, server: Server) -> None:
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("text=New job")
    page.fill("#f-name", "every-ten")
    page.select_option("#f-service", "report")
    page.select_option("#f-kind", "interval")
    page.fill("#f-minutes", "10")
    page.fill("#f-extra", "region=eu")
    page.click("#save")
    page.wait_for_selector("#definition")
    assert page.locator("dd[data-field=trigger]").inner_text() == "every 10 minutes"
    assert server.sched.get_job("every-ten").extra == "region=eu"

    page.click("text=New job")
    page.fill("#f-name", "weekday-nine")
    page.select_option("#f-kind", "cron")
    page.fill("#f-expr", "0 9 * * 1-5")
    page.wait_for_selector("#cron-words")
    assert "09:00" in page.locator("#cron-words").inner_text()
    assert page.locator("#cron-preview li").count() == 5
    page.click("#save")
    page.wait_for_selector("#definition")
    job = server.sched.get_job("weekday-nine")
    assert job.trigger.to_dict()["tz"] == "America/New_York"  # the browser's zone


def test_a_bad_cron_expression_shows_a_field_error(page: Any, server: Server) -> None:
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("text=New job")
    page.fill("#f-name", "bad")
    page.select_option("#f-kind", "cron")
    page.fill("#f-expr", "61 * * * *")
    page.wait_for_selector("#cron-preview .field-error")
    page.click("#save")
    error = page.locator("#error-expr")
    error.wait_for()
    assert "minute field '61'" in error.inner_text()
    assert "bad" not in [job.name for job in server.sched.jobs()]


def test_execute_now_pause_and_resume(page: Any, server: Server, tmp_path: Path) -> None:
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("#jobs >> text=nightly")
    page.wait_for_selector("#definition")
    page.click("#execute")
    page.wait_for_selector("#runs tbody tr")  # the page refreshes and shows the run
    cid = page.locator("#runs tbody tr").first.get_attribute("data-cid")
    assert cid in {run.cid for run in server.sched.history("nightly")}
    page.click("#pause")
    page.wait_for_selector("#resume")
    assert not server.sched.get_job("nightly").active
    assert page.locator("dd[data-field=status]").inner_text() == "paused"
    page.click("#resume")
    page.wait_for_selector("#pause")
    assert server.sched.get_job("nightly").active
    page.screenshot(path=str(tmp_path / "job-page.png"), full_page=True)


def test_changing_the_time_zone_changes_the_times(page: Any, server: Server) -> None:
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("#jobs >> text=nightly")
    page.wait_for_selector("#next tbody tr")
    new_york = page.locator("#next tbody tr td").first.inner_text()
    page.click("text=Settings")
    page.select_option("#tz", "Asia/Tokyo")
    page.click("#save-settings")
    page.wait_for_selector("#jobs")
    assert page.locator("#zone-label").inner_text() == "Times in Asia/Tokyo"
    page.click("#jobs >> text=nightly")
    page.wait_for_selector("#next tbody tr")
    tokyo = page.locator("#next tbody tr td").first.inner_text()
    assert new_york != tokyo
    # 02:30 London is 10:30 or 11:30 in Tokyo (BST or GMT), 21:30 or 22:30 in New York.
    assert re.search(r" (10|11):30:00$", tokyo)
    assert re.search(r" (21|22):30:00$", new_york)


def test_screenshots(page: Any, server: Server, tmp_path: Path) -> None:
    for _ in range(3):
        server.sched.execute_now("nightly")
        server.sched.execute_now("broken")
    log_in(page, server)
    page.wait_for_selector("#jobs tbody tr")
    page.wait_for_selector("#runs tbody tr")
    shots = [tmp_path / "overview.png"]
    page.screenshot(path=str(shots[0]), full_page=True)
    page.click("#jobs >> text=nightly")
    page.wait_for_selector("#next tbody tr")
    shots.append(tmp_path / "job-page.png")
    page.screenshot(path=str(shots[1]), full_page=True)
    for shot in shots:
        assert shot.stat().st_size > 10_000
    if os.environ.get("TICKWORK_DOCS_SCREENSHOTS"):  # refresh the ones in docs/
        DOCS.mkdir(exist_ok=True)
        for shot in shots:
            shutil.copy(shot, DOCS / f"dashboard-{shot.name}")


def test_a_viewer_token_sees_but_cannot_change(page: Any, server: Server) -> None:
    log_in(page, server, VIEWER)
    page.wait_for_selector("#jobs tbody tr")
    assert page.locator("nav a[href='#/new']").is_hidden()
    page.click("#jobs >> text=nightly")
    page.wait_for_selector("#definition")
    for button in ("#execute", "#pause", "#edit", "#delete"):
        assert page.locator(button).is_hidden()
    assert page.locator("#next tbody tr").count() == 10


def test_the_job_page_marks_fire_times_a_dst_rule_moved(page: Any, server: Server) -> None:
    # 02:30 New York does not exist on 2027-03-14: that fire runs at 03:00.
    trigger = tw.Cron("30 2 * * *", tz="America/New_York", start="2027-03-10T00:00:00")
    server.sched.add_job("spring", "report", trigger)
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("#jobs >> text=spring")
    page.wait_for_selector("#next tbody tr")
    rows = page.locator("#next tbody tr")
    marked = [
        rows.nth(i).locator("td").first.inner_text()
        for i in range(rows.count())
        if rows.nth(i).locator(".dst-mark").count()
    ]
    assert marked == ["2027-03-14 03:00:00"]  # the browser's zone is New York
    mark = page.locator(".dst-mark").first.get_attribute("title")
    assert "sprang forward" in (mark or "")


def test_ranges_tabs_and_updates_without_reload(page: Any, server: Server) -> None:
    log_in(page, server)
    page.wait_for_selector("#runs")
    assert page.locator("#runs tbody tr").count() == 0
    page.click("button[data-range='2592000']")
    playwright_api.expect(page.locator("button[data-range='2592000']")).to_have_attribute(
        "aria-pressed", "true"
    )
    cid = server.sched.execute_now("nightly")  # from outside the page
    # The page polls the API: the run shows up without a reload.
    playwright_api.expect(page.locator(f"#runs tr[data-cid='{cid}']")).to_be_visible(timeout=15_000)
    page.click("#tab-upcoming")
    page.wait_for_selector("#upcoming tbody tr")
    jobs = page.locator("#upcoming tbody tr td:nth-child(2)").all_inner_texts()
    assert set(jobs) >= {"nightly", "broken"}
    assert len(jobs) == 50


def test_a_one_time_job_is_entered_in_the_chosen_zone(page: Any, server: Server) -> None:
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("text=New job")
    page.fill("#f-name", "once")
    page.select_option("#f-kind", "onetime")
    page.fill("#f-at", "2030-07-01T09:00")
    page.click("#save")
    page.wait_for_selector("#definition")
    job = server.sched.get_job("once")
    assert job.next_fire_time is not None
    assert job.next_fire_time.isoformat() == "2030-07-01T13:00:00+00:00"  # 09:00 in New York
    assert page.locator("dd[data-field='next run']").inner_text() == "2030-07-01 09:00:00"


def test_saving_an_unchanged_form_keeps_the_schedule(page: Any, server: Server) -> None:
    """The form shows the trigger's instants as wall times in the chosen zone
    and sends them back with it: saving without a change moves nothing."""
    server.sched.add_job(
        "hourly/edit", "report", tw.Interval(hours=1, start="2026-01-01T10:20:30Z")
    )  # a name that looks like a route of its own
    before = server.sched.get_job("hourly/edit").next_fire_time
    log_in(page, server)
    page.wait_for_selector("#jobs")
    page.click("#jobs >> text=hourly/edit")
    page.click("#edit")
    page.wait_for_selector("#job-form")
    assert page.input_value("#f-start") == "2026-01-01T05:20:30"  # New York, EST
    page.click("#save")
    page.wait_for_selector("#definition")
    assert page.locator("h1").inner_text() == "hourly/edit"
    assert server.sched.get_job("hourly/edit").next_fire_time == before


def test_the_refresh_waits_while_the_filter_is_being_typed(page: Any, server: Server) -> None:
    log_in(page, server)
    page.wait_for_selector("#jobs tbody tr")
    page.click("#job-filter")
    page.keyboard.type("nigh")
    page.wait_for_timeout(6_000)  # past one refresh
    assert page.input_value("#job-filter") == "nigh"  # not redrawn under the typist
    assert page.evaluate("() => document.activeElement.id") == "job-filter"  # focus kept
    page.keyboard.type("tly")
    page.keyboard.press("Enter")
    playwright_api.expect(page.locator("#jobs tbody tr")).to_have_count(1)
    assert page.locator("#jobs tbody tr td:nth-child(2)").inner_text() == "nightly"
