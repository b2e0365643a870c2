"""Risk rules in the browser: a client whose first message matches a rule jumps to the front
of the console's queue with the reason shown, the supervisor's dashboard shows it, a worker
lowers it again with a reason; the supervisor keeps the rules on their page. axe clean, at
360 px and by keyboard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, login
from tests.browser.flows import assert_axe_clean, open_console, start_chat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000
NARROW = {"width": 360, "height": 780}
# Screenshots for review go here too when RISK_SHOTS_DIR is set.
SHOTS = os.environ.get("RISK_SHOTS_DIR")


def snap(page: Page, name: str, shot) -> None:
    shot(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def no_wider_than_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@pytest.fixture
def supervisor(personas):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    sara = User.objects.create_user(
        username="sara",
        password=personas.password,
        first_name="Sara",
        last_name="Svensson",
        role=User.Role.SUPERVISOR,
    )
    sara.units.set([personas.unit])
    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)
    return sara


@pytest.fixture
def suicide_rule(personas):
    from chat.models import RiskRule
    from chat.risk_defaults import SUICIDE

    return RiskRule.objects.create(
        unit=personas.unit,
        label=SUICIDE.label,
        phrases="\n".join(SUICIDE.phrases),
        action=SUICIDE.action,
    )


def test_a_client_whose_first_message_matches_jumps_to_the_front_with_the_reason(
    live_server, personas, supervisor, suicide_rule, new_context, shot
):
    base = live_server.url
    worker = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    boss = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    errors: list[str] = []
    worker.on("pageerror", lambda error: errors.append(str(error)))
    worker.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    login(boss, base, "sara", personas.password)
    boss.goto(f"{base}/dashboard/")
    expect(boss.locator(f"#unit-{personas.unit.pk}")).to_be_visible(timeout=WAIT)

    # One client waits with an ordinary question; then one writes of suicide.
    first = new_context(viewport=NARROW, is_mobile=True, locale="sv-SE").new_page()
    start_chat(first, base, "Hej, jag har en fråga om hyran.")
    expect(worker.locator("#waiting li")).to_have_count(1, timeout=WAIT)
    second = new_context(viewport=NARROW, is_mobile=True, locale="sv-SE").new_page()
    start_chat(second, base, "Jag orkar inte mer, jag tänker ta livet av mig ikväll.")

    rows = worker.locator("#waiting li")
    expect(rows).to_have_count(2, timeout=WAIT)
    front = rows.first
    expect(front.locator(".urgent")).to_be_visible(timeout=WAIT)
    expect(front.locator(".risk-line__why")).to_contain_text("first in the queue")
    expect(front.locator(".risk-line__why")).to_contain_text("suicide risk")
    expect(front.locator(".risk-line mark")).to_have_text("ta livet av mig")
    expect(rows.nth(1).locator(".risk-line")).to_be_hidden()
    # The client's own page says nothing of it.
    expect(second.locator("body")).not_to_contain_text("risk")
    assert_axe_clean(worker)
    snap(worker, "console-waiting-risk", shot)

    # The dashboard: the row first, with the reason, and the live alert at the top.
    queue_rows = boss.locator(f"#unit-{personas.unit.pk} .queue-item")
    expect(queue_rows.first.locator(".risk-line mark")).to_have_text(
        "ta livet av mig", timeout=WAIT
    )
    expect(boss.locator("#risk-alerts")).to_be_visible(timeout=WAIT)
    expect(boss.locator("#risk-alert-list li")).to_have_count(1)
    assert_axe_clean(boss)
    snap(boss, "dashboard-risk-alert", shot)

    # The worker lowers it again, by keyboard, with a reason.
    front.locator(".risk-line__lower").focus()
    worker.keyboard.press("Enter")
    dialog = worker.locator("#risk-dialog")
    expect(dialog).to_be_visible()
    expect(worker.locator("#risk-reason")).to_be_focused()
    worker.keyboard.press("Tab")
    worker.keyboard.press("Enter")  # an empty reason is refused, in words
    expect(worker.locator("#risk-error")).not_to_be_empty()
    worker.locator("#risk-reason").fill("Spoke to the client on the phone, safe now")
    assert_axe_clean(worker)
    snap(worker, "console-lower-dialog", shot)
    worker.locator("#risk-form button[type=submit]").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    # Back in its place behind who waited longer, with who lowered it and why.
    expect(rows.first.locator(".risk-line")).to_be_hidden(timeout=WAIT)
    expect(rows.nth(1).locator(".risk-line__why")).to_contain_text(
        "Spoke to the client on the phone", timeout=WAIT
    )
    expect(boss.locator("#risk-alert-list li .risk-line__why")).to_contain_text(
        "Lowered to normal by", timeout=WAIT
    )

    assert errors == []

    from chat.models import RiskOverride

    override = RiskOverride.objects.get()
    assert override.reason == "Spoke to the client on the phone, safe now"
    assert override.actor == personas.anna

    # Accepted, the conversation shows what the rules found, lowered, with the reason.
    rows.nth(1).locator("button.accept").click()
    panel = worker.locator("#conversation-panels .conversation:not([hidden])")
    expect(panel.locator(".risk-line mark")).to_have_text("ta livet av mig", timeout=WAIT)
    expect(panel.locator(".risk-line__why")).to_contain_text("Lowered to normal")
    snap(worker, "console-conversation-risk", shot)

    # A live message that matches again flags the open conversation at once.
    second.locator("#composer-body").fill("Jag vill bara dö")
    second.locator("#composer-body").press("Enter")
    expect(panel.locator(".risk-line mark")).to_have_text("vill bara dö", timeout=WAIT)
    expect(panel.locator(".risk-line__why")).to_contain_text("first in the queue")


def test_a_supervisor_keeps_the_rules_of_their_units_at_360_px_by_keyboard(
    live_server, personas, supervisor, suicide_rule, new_context, shot
):
    base = live_server.url
    for locale in ("sv-SE", "en-GB"):
        page = new_context(viewport=NARROW, is_mobile=True, locale=locale).new_page()
        login(page, base, "sara", personas.password)
        page.goto(f"{base}/dashboard/risk-rules/")
        expect(page.locator("h1")).to_be_visible()
        assert_axe_clean(page)
        no_wider_than_the_screen(page)
        snap(page, f"risk-rules-360-{locale[:2]}", shot)

    page.goto(f"{base}/dashboard/risk-rules/")
    # A phrase outside the notation is refused in words, and nothing is lost.
    page.locator("#id_label").fill("Threats")
    page.locator("#id_phrases").fill("kill|kills me\ndö*")
    page.locator("#id_action").select_option("alert")
    page.locator("#id_phrases").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".form-error")).to_contain_text("at least 3 letters before *")
    expect(page.locator("#id_phrases")).to_have_value("kill|kills me\ndö*")
    assert_axe_clean(page)
    snap(page, "risk-rules-error", shot)

    page.locator("#id_phrases").fill("kill|kills me\nthreaten* ... kill")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.locator(".risk-rule h3")).to_have_count(2)

    # Trying a sentence shows what the rules in use find, and stores nothing.
    page.locator("#id_text").fill("He said he would kill me, but I would never kill myself")
    page.get_by_role("button", name="Try").click()
    tried = page.locator(".risk-tried li")
    expect(tried).to_have_count(2)
    expect(tried.nth(0)).to_contain_text("alerts the supervisors")
    expect(tried.nth(1)).to_contain_text("negated")
    no_wider_than_the_screen(page)
    assert_axe_clean(page)
    snap(page, "risk-rules-tried", shot)

    from chat.models import RiskRule

    assert RiskRule.objects.get(label="Threats").phrases == "kill|kills me\nthreaten* ... kill"


def test_the_reason_fits_a_phone_sized_console_and_dashboard(
    live_server, personas, supervisor, suicide_rule, new_context, shot
):
    base = live_server.url
    worker = new_context(viewport=NARROW, is_mobile=True, locale="sv-SE").new_page()
    boss = new_context(viewport=NARROW, is_mobile=True, locale="sv-SE").new_page()
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    login(boss, base, "sara", personas.password)
    boss.goto(f"{base}/dashboard/")
    client = new_context(viewport=NARROW, is_mobile=True, locale="sv-SE").new_page()
    start_chat(client, base, "Jag har haft självmordstankar hela veckan och orkar inte mer.")

    row = worker.locator("#waiting li").first
    expect(row.locator(".risk-line mark")).to_have_text("självmordstankar", timeout=WAIT)
    expect(row.locator(".risk-line__lower")).to_be_visible()
    no_wider_than_the_screen(worker)
    assert_axe_clean(worker)
    row.scroll_into_view_if_needed()
    snap(worker, "console-waiting-risk-360-sv", shot)

    expect(boss.locator("#risk-alert-list li .risk-line mark")).to_have_text(
        "självmordstankar", timeout=WAIT
    )
    no_wider_than_the_screen(boss)
    assert_axe_clean(boss)
    snap(boss, "dashboard-risk-alert-360-sv", shot)
