"""Text stays text: a client and a social worker trade well over a hundred XSS vectors, and
nothing of them runs or becomes markup, in the live chat on both sides, in the staff's
printable transcript, or in the client's own transcript download.

The pages have a strict CSP (no inline script), so a dialog or `window.__xss` would only
show an injection that also got past CSP. The DOM checks catch the injection itself: no
dangerous element, no event-handler attribute, only text and server-vetted http(s) links
in a message body, and every body's text exactly as sent. CSP violations are recorded too:
one means injected markup reached the DOM and tried to load or run something.
"""

from __future__ import annotations

import base64
import re
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login
from tests.browser.flows import (
    accept_first_waiting,
    client_log,
    client_send,
    open_console,
    start_chat,
    stored_conversation,
    worker_log,
    worker_send,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_LENGTH = 4000  # settings.CHAT_MESSAGE_MAX_LENGTH
# Per socket the server allows 5 frames/s (burst 20); besides messages each page sends
# "seen" and "typing" frames, so each side writes at most about three messages a second.
MIN_SEND_INTERVAL = 0.34

# --- the corpus ------------------------------------------------------------------------------
# Every vector, if it ran, would set window.__xss and open a dialog.
JS = "window.__xss=1;alert(1)"
JS_B64 = base64.b64encode(f"<script>{JS}</script>".encode()).decode()
EVAL_B64 = base64.b64encode(JS.encode()).decode()
SVG_ONLOAD = f"<svg xmlns='http://www.w3.org/2000/svg' onload='{JS}'/>"


def _entities(text: str, fmt: str) -> str:
    return "".join(fmt.format(ord(ch)) for ch in text)


SCRIPT_TAGS = [
    f"<script>{JS}</script>",
    f"<SCRIPT>{JS}</SCRIPT>",
    f"<ScRiPt>{JS}</sCrIpT>",
    f'"><script>{JS}</script>',
    f"'><script>{JS}</script>",
    f"</textarea><script>{JS}</script>",
    f"</title><script>{JS}</script>",
    f"</script><script>{JS}</script>",
    f"<scr<script>ipt>{JS}</scr</script>ipt>",
    f'<script type="module">{JS}</script>',
    f'<script src="data:text/javascript,{JS}"></script>',
    f"<script>eval(atob('{EVAL_B64}'))</script>",
    "<script>alert(String.fromCharCode(88,83,83));window.__xss=1</script>",
    f"<script\n>{JS}</script\n>",
    "<script>\\u0061lert(1);window.__xss=1</script>",
    f"<script/xss src=data:,{JS}></script>",
]

EVENT_HANDLERS = [
    f"<img src=x onerror={JS}>",
    f"<IMG SRC=x OnErRoR={JS}>",
    f'<img src="x" onerror="{JS}">',
    f"<img/src=x/onerror={JS}>",
    f"<img src onerror={JS}>",
    f"<img src=x\nonerror={JS}>",
    f"<img src=x\tonerror={JS}>",
    "<img src=x onerror=&#97;lert(1);window.__xss=1>",
    f'<img src=x onerror="{_entities(JS, "&#x{:x};")}">',
    "<img src=x:alert(alt) onerror=eval(src);window.__xss=1 alt=0>",
    f"<svg onload={JS}>",
    f"<svg/onload={JS}>",
    f"<svg><g onload={JS}></g></svg>",
    f"<body onload={JS}>",
    f"<body onpageshow={JS}>",
    f"<body onfocus={JS} autofocus>",
    f"<iframe onload={JS}></iframe>",
    f'<iframe src="javascript:{JS}"></iframe>',
    f"<details open ontoggle={JS}>",
    f"<details/open/ontoggle={JS}>",
    f"<video src=x onerror={JS}></video>",
    f"<video><source onerror={JS}></video>",
    f"<audio src=x onerror={JS}>",
    f"<input autofocus onfocus={JS}>",
    f"<select autofocus onfocus={JS}></select>",
    f"<textarea autofocus onfocus={JS}></textarea>",
    f"<marquee onstart={JS}>x</marquee>",
    f"<div onmouseover={JS}>hover me</div>",
    f"<xss id=x tabindex=1 onfocus={JS} autofocus>",
    f'<div style="animation-name:spin" onanimationstart={JS}>x</div>',
    f"<link rel=stylesheet href=x onerror={JS}>",
    f'<form><button formaction="javascript:{JS}">send</button></form>',
    f"<isindex type=image src=1 onerror={JS}>",
]

SVG = [
    f"<svg><animate onbegin={JS} attributeName=x dur=1s>",
    f'<svg><set attributeName="onmouseover" to="{JS}"/></svg>',
    f'<svg><a><set attributeName=href to="javascript:{JS}"/><text y=20>x</text></a></svg>',
    f"<svg><a><animate attributeName=href values=javascript:{JS} /><text y=20>x</text></a></svg>",
    f"<svg><script>{JS}</script></svg>",
    f"<svg><foreignObject><img src=x onerror={JS}></foreignObject></svg>",
    f'<svg><image href="x" onerror="{JS}"/></svg>',
    f'<svg><use href="data:image/svg+xml,{quote(SVG_ONLOAD)}#x"/></svg>',
]

EMBEDDING = [
    '<iframe srcdoc="<script>parent.__xss=1;parent.alert(1)</script>"></iframe>',
    '<iframe srcdoc="&lt;img src=x onerror=parent.__xss=1;alert(1)&gt;"></iframe>',
    f'<object data="javascript:{JS}"></object>',
    f'<object data="data:text/html;base64,{JS_B64}"></object>',
    f'<embed src="javascript:{JS}">',
    f'<embed src="data:image/svg+xml,{quote(SVG_ONLOAD)}">',
    f'<meta http-equiv="refresh" content="0;url=javascript:{JS}">',
    f'<meta http-equiv=refresh content="0; url=data:text/html,<script>{JS}</script>">',
    f'<base href="javascript:{JS}//"><a href="/x">x</a>',
    f'<base href="//evil.example/"><script src="/x.js"></script><img src=x onerror={JS}>',
    f'<style>body{{background:url("javascript:{JS}")}}</style>',
    f"<style>*{{x:expression({JS})}}</style>",
    f"<style>@import 'javascript:{JS}';</style>",
    f'<div style="width:expression({JS})">x</div>',
    f'<div style="background-image:url(javascript:{JS})">x</div>',
    f"<style onload={JS}></style>",
]

TEMPLATES = [
    "{{7*7}}{{constructor.constructor('window.__xss=1;alert(1)')()}}",
    "${window.__xss=1,alert(1)}",
    "#{window.__xss=1;alert(1)}",
    "<%= window.__xss=1;alert(1) %>",
    "{% debug %}{{ request }}{{7*7}}<script>window.__xss=1;alert(1)</script>",
    "[[${window.__xss=1}]]{{$on.constructor('alert(1)')()}}",
    "{{'a'.constructor.prototype.charAt=[].join;$eval('x=1} } };window.__xss=1;alert(1)//');}}",
    "`${alert(1)}${window.__xss=1}`",
]

ENCODINGS = [
    f"&lt;script&gt;{JS}&lt;/script&gt;",
    f"&lt;img src=x onerror={JS}&gt;",
    f"&#x3C;img src=x onerror={JS}&#x3E;",
    f"&#60;svg onload={JS}&#62;",
    f"&#0000060;script&#0000062;{JS}&#0000060;/script&#0000062;",
    f"\\u003cscript\\u003e{JS}\\u003c/script\\u003e",
    f"\\x3cscript\\x3e{JS}\\x3c/script\\x3e",
    f"%3Cscript%3E{JS}%3C%2Fscript%3E",
    f"%253Cscript%253E{JS}%253C%252Fscript%253E",
    f"+ADw-script+AD4-{JS}+ADw-/script+AD4-",
    f"＜script＞{JS}＜/script＞",
    f'<!--<img src="--><img src=x onerror={JS}//">',
    f"<![CDATA[<script>{JS}</script>]]>",
    f'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">{JS}</x:script>',
]

MUTATION = [
    f'<noscript><p title="</noscript><img src=x onerror={JS}>">',
    f"<svg><style><img src=x onerror={JS}>",
    f"<math><style><img src=x onerror={JS}>",
    f'<svg></p><style><a id="</style><img src=1 onerror={JS}>">',
    f"<form><math><mtext></form><form><mglyph><style></math><img src onerror={JS}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={JS}>",
    f'<xmp><p title="</xmp><img src=x onerror={JS}>">',
    f'<noembed><img title="</noembed><img src=x onerror={JS}>">',
    f'<noframes><p title="</noframes><img src=x onerror={JS}>">',
    f"<listing>&lt;img src=1 onerror={JS}&gt;</listing>",
    f"<template><img src=x onerror={JS}></template>",
    f"<textarea></textarea><img src=x onerror={JS}>",
    f"<title><img src=x onerror={JS}></title>",
]

# `javascript:`, `data:` and `vbscript:` URLs in many spellings.
JS_URLS = [
    f"javascript:{JS}",
    f"JaVaScRiPt:{JS}",
    f"JAVASCRIPT:{JS}",
    f" javascript:{JS}",
    f"java\tscript:{JS}",
    f"java\nscript:{JS}",
    f"\x01javascript:{JS}",
    f"java&#x09;script:{JS}",
    f"jav&#x0A;ascript:{JS}",
    f"&#106;avascript:{JS}",
    f"&#x6A;avascript:{JS}",
    f"{_entities('javascript:', '&#{};')}{JS}",
    f"javascript&colon;{JS}",
    f"%6Aavascript:{JS}",
    f"javascript%3A{JS}",
    f"javascript://%0A{JS}",
    f"javascript://example.org/%0A{JS}",
    f"javascript:http://example.org/%0A{JS}",
    f"data:text/html,<script>{JS}</script>",
    f"DATA:text/html,<script>{JS}</script>",
    f"data:text/html;base64,{JS_B64}",
    f"data:image/svg+xml,{quote(SVG_ONLOAD)}",
    f"da\tta:text/html,<script>{JS}</script>",
    f"data:text/html;charset=utf-7,+ADw-script+AD4-{JS}+ADw-/script+AD4-",
    "vbscript:alert(1):window.__xss=1",
    "VBScript:alert(1):window.__xss=1",
    "vbs\tcript:alert(1):window.__xss=1",
    "&#118;bscript:alert(1):window.__xss=1",
]
URL_CONTEXTS = [
    lambda url: f'<a href="{url}">click</a>',
    lambda url: url,
]
SCHEMES = [context(url) for url in JS_URLS for context in URL_CONTEXTS]

MARKDOWN = [
    f"[x](javascript:{JS})",
    f"[x](JaVaScRiPt:{JS})",
    f"[x](data:text/html;base64,{JS_B64})",
    f"![x](javascript:{JS})",
    f"[x]: javascript:{JS}",
    f"<javascript:{JS}>",
    f'[x](https://example.org "t\\" onmouseover=\\"{JS}")',
    f"[https://example.org](javascript:{JS})",
]

INVISIBLE = [
    f"\u202ejavascript:{JS}",
    f"java\u200bscript:{JS}",
    f"\u200djavascript:{JS}\u200d",
    f"\ufeffjavascript:{JS}",
    f"javascript\u2060:{JS}",
    f'<a href="java\u200bscript:{JS}">x</a>',
    f"\u202ehttps://example.org/\u202c javascript:{JS}",
    f"https://example.org/\u200b\u202ejavascript:{JS}",
]

LINKIFIED = [
    f'https://example.org/"onmouseover="{JS}',
    f"https://example.org/'onmouseover='{JS}'",
    f'https://example.org/"><script>{JS}</script>',
    f"https://example.org/?q=<img src=x onerror={JS}>",
    f'http://example.org/#"><svg onload={JS}>',
    f'www.example.org/"onfocus="{JS}"autofocus="',
    f'example.org/"><img src=x onerror={JS}>',
    f'HTTPS://EXAMPLE.ORG/"style="x:expression({JS})',
    f"(https://example.org/a)<img src=x onerror={JS}>",
    f'https://example.org/{"a" * 3000}"onmouseover="{JS}',
]

LONG = [
    f'<img src=x alt="{"A" * 3500}" onerror={JS}>',
    f'<a href="javascript:{JS}" title="{"B" * 3000}">x</a>',
    f'<div title="{"<" * 2000}" onclick={JS}>x</div>',
    f"<svg onload={JS} {'x=1 ' * 700}>",
]

POLYGLOTS = [
    "javascript:/*--></title></style></textarea></script></xmp>"
    "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1);window.__xss=1//'>",
    f"'-alert(1)-';{JS}//",
    f'";{JS};//',
    f"</script><img src=x onerror={JS}>",
    f"<a href=javas&#99;ript:{JS}>x</a>",
    "<img src=x onerror=\\u0061lert(1);window.__xss=1>",
    f'<a href="javascript:void(0)" onclick="{JS}">x</a>',
]

VECTORS = (
    SCRIPT_TAGS
    + EVENT_HANDLERS
    + SVG
    + EMBEDDING
    + TEMPLATES
    + ENCODINGS
    + MUTATION
    + SCHEMES
    + MARKDOWN
    + INVISIBLE
    + LINKIFIED
    + LONG
    + POLYGLOTS
)

# --- what the pages may hold -----------------------------------------------------------------
DANGEROUS = "script, iframe, object, embed, svg, img, meta, base, style"

# Markup inside `root` that must never come from a message.
INSPECT_JS = """(root, dangerous) => ({
    dangerous: Array.from(root.querySelectorAll(dangerous)).map(e => e.outerHTML.slice(0, 200)),
    handlers: Array.from(root.querySelectorAll('*')).flatMap(e => Array.from(e.attributes)
        .filter(a => /^on/i.test(a.name) || /^\\s*(javascript|data|vbscript):/i.test(a.value))
        .map(a => `${e.tagName} ${a.name}=${a.value.slice(0, 80)}`)),
    links: Array.from(root.querySelectorAll('a')).map(a => ({
        href: a.getAttribute('href') || '',
        protocol: a.protocol,
        rel: a.getAttribute('rel') || '',
        text: a.textContent,
    })),
})"""

# Message bodies of a live log, in order, and any child that is not text or a plain link.
LOG_BODIES_JS = """(log) => {
    const items = Array.from(log.querySelectorAll(
        ':scope > li.message[data-seq]:not(.message--system)'));
    const plainLink = (n) => n.nodeName === 'A'
        && Array.from(n.childNodes).every(c => c.nodeType === Node.TEXT_NODE);
    return {
        bodies: items.map(li => li.querySelector('.body').textContent),
        foreign: items.flatMap(li => Array.from(li.querySelector('.body').childNodes)
            .filter(n => n.nodeType !== Node.TEXT_NODE && !plainLink(n))
            .map(n => n.nodeName)),
    };
}"""

# Message texts of the printable transcript: linebreaksbr turns "\\n" into <br>, so a <br>
# reads back as "\\n"; anything else that is not text shows as <TAG>.
TRANSCRIPT_TEXTS_JS = """(rows) => Array.from(rows.querySelectorAll(
    ':scope > li:not(.transcript__system):not(.transcript__note) .transcript__text'))
    .map(span => Array.from(span.childNodes).map(n =>
        n.nodeName === 'BR' ? '\\n' : n.nodeType === Node.TEXT_NODE ? n.data : `<${n.nodeName}>`
    ).join(''))"""

# Recorded before any page script runs: what CSP blocked (injected markup trying to run).
CSP_WATCH = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});"""


def _assert_clean(page: Page, root_selector: str, where: str) -> None:
    """No dangerous element, handler or script URL under the root; links are vetted."""
    root = page.locator(root_selector)
    expect(root).to_have_count(1)
    found = root.evaluate(INSPECT_JS, DANGEROUS)
    assert found["dangerous"] == [], f"{where}: elements from messages: {found['dangerous']}"
    assert found["handlers"] == [], f"{where}: handler or script attributes: {found['handlers']}"
    for link in found["links"]:
        assert re.match(r"https?://", link["href"], re.IGNORECASE), f"{where}: {link}"
        assert link["protocol"] in ("http:", "https:"), f"{where}: {link}"
        rel = set(link["rel"].split())
        assert {"noopener", "noreferrer", "nofollow"} <= rel, f"{where}: {link}"


def _assert_nothing_ran(page: Page, dialogs: list[str], where: str) -> None:
    assert dialogs == [], f"dialogs opened: {dialogs}"
    assert page.evaluate("typeof window.__xss") == "undefined", f"{where}: window.__xss is set"
    violations = page.evaluate("window.__cspViolations || []")
    assert violations == [], f"{where}: CSP blocked injected content: {violations}"


def _send_all(client: Page, worker: Page, vectors: list[str]) -> None:
    """The client wrote vectors[0] as the first message; the rest alternate worker, client,
    … Each waits until the sender's page shows it stored, so seqs follow the list."""
    last_sent = {"client": 0.0, "worker": 0.0}
    for index, body in enumerate(vectors[1:], start=1):
        side = "worker" if index % 2 else "client"
        page, log = (
            (worker, worker_log(worker)) if side == "worker" else (client, client_log(client))
        )
        wait = last_sent[side] + MIN_SEND_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        (worker_send if side == "worker" else client_send)(page, body)
        last_sent[side] = time.monotonic()
        expect(log.locator("li.message--pending")).to_have_count(0)
        expect(log.locator("li.message[data-seq]:not(.message--system)")).to_have_count(index + 1)


def test_xss_vectors_stay_text_everywhere(live_server, personas, client_context, worker_context):
    started = time.monotonic()
    vectors = list(VECTORS)
    assert len(vectors) >= 100, len(vectors)
    assert len(set(vectors)) == len(vectors), "duplicate vectors"
    for vector in vectors:
        assert 0 < len(vector) <= MAX_LENGTH and vector.strip(), vector[:80]
        assert "\x00" not in vector and "\r" not in vector, vector[:80]
        assert not vector.startswith("/"), vector[:80]  # "/" opens the console's canned replies
    print(f"\n{len(vectors)} XSS vectors")

    base = live_server.url
    dialogs: list[str] = []
    for context in (client_context, worker_context):
        context.add_init_script(CSP_WATCH)

    def watch(page: Page) -> Page:
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        return page

    client = watch(client_context.new_page())
    worker = watch(worker_context.new_page())

    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    start_chat(client, base, vectors[0])
    accept_first_waiting(worker)
    expect(client.locator("body")).to_have_attribute("data-state", "active")

    _send_all(client, worker, vectors)

    # Both sides show every message, in order, exactly as typed.
    for page, log, root, where in (
        (client, client_log(client), "#log", "client page"),
        (worker, worker_log(worker), ".conversation .log", "console"),
    ):
        expect(log.locator("li.message[data-seq]:not(.message--system)")).to_have_count(
            len(vectors)
        )
        expect(log.locator("li.message--pending")).to_have_count(0)
        shown = log.evaluate(LOG_BODIES_JS)
        assert shown["foreign"] == [], f"{where}: markup in message bodies: {shown['foreign']}"
        for position, (body, vector) in enumerate(zip(shown["bodies"], vectors, strict=True)):
            assert body == vector, f"{where}: message {position} shows {body!r}, sent {vector!r}"
        _assert_clean(page, root, where)
        _assert_nothing_ran(page, dialogs, where)
    # The quoted URLs were linkified, so the link checks above were not vacuous.
    assert client_log(client).locator("a").count() > 0
    assert worker_log(worker).locator("a").count() > 0

    stored = stored_conversation()
    assert stored.bodies == vectors, "the database does not hold the vectors as typed"

    # The staff's printable transcript.
    transcript = watch(worker_context.new_page())
    response = transcript.goto(f"{base}/console/conversations/{stored.conversation_id}/transcript/")
    assert response is not None and response.ok, response
    rows = transcript.locator(".transcript__rows")
    texts = rows.evaluate(TRANSCRIPT_TEXTS_JS)
    assert len(texts) == len(vectors), texts
    for position, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        assert text == vector, f"transcript: row {position} shows {text!r}, sent {vector!r}"
    _assert_clean(transcript, ".transcript__rows", "transcript")
    _assert_nothing_ran(transcript, dialogs, "transcript")

    # The client's own transcript: plain text, every vector verbatim (indented by lines).
    token = client.evaluate("JSON.parse(sessionStorage.getItem('cc.client')).token")
    csrf = client.locator("#transcript-form input[name=csrfmiddlewaretoken]").input_value()
    download = client.request.post(
        f"{base}/transcript/",
        form={"token": token, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}/"},
    )
    assert download.ok, download.status
    headers = download.headers
    assert headers["content-type"].startswith("text/plain"), headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("content-disposition", "").startswith("attachment"), headers
    # Each line of user text comes isolated for direction (U+2068 ... U+2069).
    text = download.text().replace("\u2068", "").replace("\u2069", "")
    missing = [
        vector
        for vector in vectors
        if "\n".join("    " + line for line in vector.splitlines()) not in text
    ]
    assert missing == [], f"client transcript lacks {len(missing)} vectors: {missing[:3]}"

    for page, where in ((client, "client page"), (worker, "console")):
        _assert_nothing_ran(page, dialogs, where)
    print(f"{len(vectors)} XSS vectors checked in {time.monotonic() - started:.1f}s")
