"""A chat through `make cluster`, by hand: a client and a worker in Chromium, through nginx.

    .venv/bin/python scripts/cluster_smoke.py [--base http://127.0.0.1:8000]
        [--shots DIR] [--kill PID]

The worker (demo login cecilia) signs in and chooses available, a client starts a chat in
Våld i nära relationer (open around the clock), the worker accepts, both write. With
`--kill PID` (one of the cluster's daphne processes) that process is killed with SIGKILL
after the first exchange, and the chat must go on: the pages reconnect through nginx to
another process and resend what they wrote meanwhile. Screenshots of both pages go to DIR.
Exits non-zero if a step fails.
Needs Debian's /usr/bin/chromium (scripts/ensure-chromium.sh) and the demo data.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
UNIT = "Våld i nära relationer"  # the demo unit open around the clock
WORKER = "cecilia"  # a demo worker of that unit


def bodies(log) -> list[str]:
    return log.locator(
        "li.message:not(.message--pending):not(.message--system) .body"
    ).all_inner_texts()


def worker_log(page: Page):
    return page.locator("#conversation-panels .conversation:not([hidden]) ol.log")


def worker_send(page: Page, text: str) -> None:
    box = page.locator("#conversation-panels .conversation:not([hidden]) textarea")
    box.fill(text)
    box.press("Enter")


def client_send(page: Page, text: str) -> None:
    page.locator("#composer-body").fill(text)
    page.locator("#composer-body").press("Enter")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--shots", default="cluster-screens")
    parser.add_argument("--kill", type=int, help="a daphne of the cluster to SIGKILL mid-chat")
    options = parser.parse_args()
    shots = Path(options.shots)
    shots.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=20_000)
    said: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        worker = browser.new_context(
            locale="sv-SE", viewport={"width": 1280, "height": 800}
        ).new_page()
        client = browser.new_context(
            locale="sv-SE", viewport={"width": 390, "height": 844}
        ).new_page()

        worker.goto(f"{options.base}/console/")
        worker.locator("#id_username").fill(WORKER)
        worker.locator("#id_password").fill("demo-password")
        worker.locator("#id_password").press("Enter")
        expect(worker).to_have_url(re.compile(r"/console/$"))
        expect(worker.locator("#connection")).to_be_hidden()
        status = worker.locator("#presence-status")
        expect(status).to_be_enabled()
        status.select_option("available")
        expect(status).to_have_value("available")

        client.goto(f"{options.base}/")
        client.get_by_role("radio", name=UNIT).check()
        # Words of this run alone, to find this client among others on the console.
        said.append(f"Hej, jag behöver prata med någon ({time.strftime('%H:%M:%S')}).")
        client.locator("#first-message").fill(said[-1])
        client.locator("#start-form button[type=submit]").click()
        # The demo unit hands a waiting client to an available worker by itself; without
        # that, the worker accepts this client's row (its preview shows their words).
        waiting = worker.locator("#waiting li", has_text=said[-1]).first
        mine = worker.locator("#conversation-tabs li", has_text=said[-1]).first
        expect(waiting.or_(mine)).to_be_visible()
        if waiting.is_visible():
            waiting.locator("button.accept").click()
        expect(client.locator("body")).to_have_attribute("data-state", "active")
        mine.click()
        expect(worker_log(worker).locator(".message--client .body").first).to_have_text(said[0])
        said.append("Hej! Jag heter Cecilia. Berätta mer.")
        worker_send(worker, said[-1])
        said.append("Det har varit jobbigt hemma.")
        client_send(client, said[-1])
        expect(worker_log(worker).locator(".message--client .body").last).to_have_text(said[-1])
        print("chat through nginx: ok")

        if options.kill:
            os.kill(options.kill, signal.SIGKILL)
            killed_at = time.monotonic()
            print(f"killed daphne {options.kill}")
            said.append("Skrivet medan en server dog.")
            client_send(client, said[-1])
            said.append("Jag ser det, vi fortsätter.")
            worker_send(worker, said[-1])
            expect(client.locator("#connection")).to_be_hidden(timeout=30_000)
            expect(worker.locator("#connection")).to_be_hidden(timeout=30_000)
            print(f"both pages connected again {time.monotonic() - killed_at:.1f} s after the kill")

        for page in (client, worker):
            log = client.locator("#log") if page is client else worker_log(worker)
            expect(log.locator("li.message--pending")).to_have_count(0, timeout=30_000)
        client_bodies, worker_bodies = bodies(client.locator("#log")), bodies(worker_log(worker))
        print("client sees:", client_bodies)
        print("worker sees:", worker_bodies)
        client.screenshot(path=shots / "client.png", full_page=True)
        worker.screenshot(path=shots / "worker.png", full_page=True)
        # The client ends the chat, so the worker has room for the next run.
        client.locator("#end-button").click()
        expect(client.locator("body")).to_have_attribute("data-state", "ended")
        browser.close()
    ok = sorted(client_bodies) == sorted(said) == sorted(worker_bodies)
    ok = ok and client_bodies == worker_bodies and len(set(client_bodies)) == len(said)
    print("every message once on both pages:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
