"""The test e-ID provider (deploy/oidc-test-provider, Node) as the tests run it: one process
per test session, started by the `oidc_provider` fixture (tests/conftest.py), and a
`requests` browser that plays the client at the provider."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROVIDER_SCRIPT = PROJECT_ROOT / "deploy" / "oidc-test-provider" / "provider.mjs"
CLIENT_ID, CLIENT_SECRET = "chatcounsel-test", "chatcounsel-test-secret"
START_TIMEOUT_SECONDS = 20
PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"

# The provider's test identities (provider.mjs).
TOLVAN = "test-subject-0001"  # Tolvan Tolvansson, 191212121212
TESTA = "test-subject-0002"  # Testa Testsson, 190001012384
NO_NUMBER = "test-subject-0004"  # no personal identity number
LOW_LEVEL = "test-subject-0005"  # signs in at LoA2 only


def free_port() -> int:
    """A free port, in TEST_PORTS when set (tests/browser/server.py `free_port`)."""
    from tests.browser.server import free_port as any_free_port

    return any_free_port()


def missing_reason() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (Debian: apt-get install nodejs npm)"
    if not (PROJECT_ROOT / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed: run `make node` (npm ci)"
    return None


@dataclass
class TestProvider:
    issuer: str
    rp_port: int  # the port the browser tests' server must listen on (its redirect URI)
    log_path: Path
    startup_seconds: float
    proc: subprocess.Popen[bytes] = field(repr=False)

    def settings(self) -> dict[str, object]:
        """Django settings that point the site at this provider."""
        return {
            "EID_OIDC_ISSUER": self.issuer,
            "EID_OIDC_DISCOVERY_URL": f"{self.issuer}/.well-known/openid-configuration",
            "EID_OIDC_CLIENT_ID": CLIENT_ID,
            "EID_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }

    def environment(self) -> dict[str, str]:
        """The same, as a server process's environment."""
        return {name: str(value) for name, value in self.settings().items()}

    def stop(self) -> None:
        self.proc.terminate()  # this one PID: provider.mjs closes its server and exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def start_provider(*, log_path: Path, rp_port: int) -> TestProvider:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    redirect_uris = [
        f"http://127.0.0.1:{rp_port}/eid/callback/",  # the browser tests' server
        "http://testserver/eid/callback/",  # Django's test client
    ]
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": " ".join(redirect_uris),
    }
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["node", str(PROVIDER_SCRIPT)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = started + START_TIMEOUT_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the test e-ID provider exited ({proc.returncode}); see {log_path}")
        try:
            url = f"{issuer}/.well-known/openid-configuration"
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own
                json.load(response)
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(
                    f"the test e-ID provider did not start; see {log_path}"
                ) from None
            time.sleep(0.05)
    return TestProvider(
        issuer=issuer,
        rp_port=rp_port,
        log_path=log_path,
        startup_seconds=time.monotonic() - started,
        proc=proc,
    )


def sign_in_at_provider(authorization_url: str, *, account: str | None) -> str:
    """Play the client's browser at the provider: follow its redirects, choose `account`
    (None: Cancel) and return the URL it sends the browser back to (our callback)."""
    browser = requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=10)
    while response.status_code in (302, 303) and "/interaction/" in response.headers["Location"]:
        response = browser.get(
            urljoin(authorization_url, response.headers["Location"]),
            allow_redirects=False,
            timeout=10,
        )
    assert response.status_code == 200, response.text[:300]
    if account is None:
        action = re.search(r'action="(/interaction/[^"]+/abort)"', response.text)
        assert action
        response = browser.post(
            urljoin(authorization_url, action.group(1)), allow_redirects=False, timeout=10
        )
    else:
        action = re.search(r'action="(/interaction/[^"]+/login)"', response.text)
        assert action
        response = browser.post(
            urljoin(authorization_url, action.group(1)),
            data={"account": account},
            allow_redirects=False,
            timeout=10,
        )
    # The provider resumes the authorization on its own URLs, then redirects to ours.
    issuer_netloc = urlsplit(authorization_url).netloc
    while response.status_code in (302, 303):
        location = urljoin(response.url, response.headers["Location"])
        if urlsplit(location).netloc != issuer_netloc:
            return location
        response = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider did not send the browser back: {response.status_code}")
