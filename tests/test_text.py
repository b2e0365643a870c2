"""chat/text.py: a body splits into text and link parts that join back to the exact body,
and only http(s) links are ever made."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.text import message_parts

# Fragments that look like links, markup or script to a careless reader.
TRICKY = [
    "https://example.com/a?b=1&c=2",
    "http://x.se/väg#frag",
    "www.socialtjanst.se",
    "kommun.se",
    "ftp://x.se",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,hi",
    "<script>alert(1)</script>",
    '<a href="https://x.se">x</a>',
    '<a href="javascript:alert(1)">klicka</a>',
    "<img src=x onerror=alert(1)>",
    "</a>",
    "<b>",
    '"',
    "'",
    ">",
    "AT&T",
    " ",
    "\n",
    "\t",
    "å",
    "😀",
]

# Any text at all, with fragments mixed in that give the link finder something to chew on.
bodies = st.one_of(
    st.text(),
    st.lists(
        st.one_of(
            st.text(),
            st.sampled_from([*TRICKY, "<", "&lt;", "&amp;", "<!-- x -->", '<a href="', "\x00"]),
        ),
        max_size=12,
    ).map("".join),
)


def joined(parts):
    return "".join(part["text"] for part in parts)


def hrefs(parts):
    return [part["href"] for part in parts if "href" in part]


@pytest.mark.parametrize(
    "body",
    [
        "Hej! Jag undrar över min ansökan.",
        "Rad ett\nRad två\n\n\tindrag",
        "Se https://example.com/a?b=1&c=2 och www.socialtjanst.se.",
        "AT&T, a & b, &&, &;",
        "<script>alert(1)</script>",
        "javascript:alert(1)",
        '<a href="https://x.se">x</a>',
        '<a href="javascript:alert(1)">klicka</a>',
        "<img src=x onerror=alert(1)>",
        'http://x.se"onmouseover=alert(1)',
        "😀 åäö ÅÄÖ \u2028 \ufeff",
    ],
)
def test_it_joins_the_parts_back_to_the_exact_body(body):
    assert joined(message_parts(body)) == body


def test_it_gives_no_parts_for_an_empty_body():
    assert message_parts("") == []


def test_it_makes_a_link_of_an_http_url_and_keeps_the_words_around_it():
    parts = message_parts("Läs https://example.com/a?b=1&c=2 först")
    assert parts == [
        {"text": "Läs "},
        {"text": "https://example.com/a?b=1&c=2", "href": "https://example.com/a?b=1&c=2"},
        {"text": " först"},
    ]


def test_it_links_a_bare_domain_over_http():
    assert message_parts("www.socialtjanst.se") == [
        {"text": "www.socialtjanst.se", "href": "http://www.socialtjanst.se"}
    ]


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        '<a href="javascript:alert(1)">klicka</a>',
        "<a href=javascript:alert(1)>klicka</a>",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://x.se",
        "mailto:a@b.se",
    ],
)
def test_it_keeps_markup_and_unsafe_schemes_as_text(body):
    parts = message_parts(body)
    assert parts == [{"text": body}]


def test_it_keeps_a_typed_anchor_tag_as_text_around_the_link_it_names():
    body = '<a href="https://x.se">x</a>'
    parts = message_parts(body)
    assert joined(parts) == body
    assert hrefs(parts) == ["https://x.se"]
    assert {"text": "https://x.se", "href": "https://x.se"} in parts


def test_it_does_not_let_a_quote_in_a_url_become_an_attribute():
    parts = message_parts('http://x.se"onmouseover=alert(1)')
    assert parts == [
        {"text": "http://x.se", "href": "http://x.se"},
        {"text": '"onmouseover=alert(1)'},
    ]


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_it_joins_the_parts_of_any_text_back_to_the_exact_text(body):
    parts = message_parts(body)
    assert joined(parts) == body
    assert all(part["text"] for part in parts)
    # Neighbouring text parts are merged: a link is what separates two text parts.
    assert not any("href" not in a and "href" not in b for a, b in itertools.pairwise(parts))


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_it_only_ever_makes_http_and_https_links(body):
    for href in hrefs(message_parts(body)):
        assert href.lower().startswith(("http://", "https://")), href


@pytest.mark.parametrize(
    "body",
    [
        "&lt;script&gt;",
        "Jag skrev &amp; i formuläret",
        "&copy; &#65; &#x27; &#0;",
        "hej <!-- x --> då",
        "<!-- hela meddelandet -->",
        "a <? b ?> c",
        "<!",
        "<![CDATA[x]]>",
        'Jag klistrade in <a href="',
        "</>",
        "sida\x0cbrytning",
        "\x01\x02\x7f",
        "rad\r\nrad",
    ],
)
def test_it_keeps_entities_comments_and_control_characters_as_typed(body):
    """Regression: bleach.clean used to decode entities, drop comments and unclosed tags
    and turn control characters into "?" (fixed in 00454e8)."""
    assert message_parts(body) == [{"text": body}]


@pytest.mark.parametrize(
    "body",
    ["ftp://x.se", "javascript://x.se/%0aalert(1)", "JavaScript://x.se", "file://x.se/etc"],
)
def test_it_does_not_link_a_host_that_follows_another_scheme(body):
    assert hrefs(message_parts(body)) == []
    assert joined(message_parts(body)) == body
