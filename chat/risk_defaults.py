"""The default risk rules this project ships: suicide risk, threats and violence, children
at risk, in Swedish and English, in the notation of chat/risk_match.py. Written for
chatcounsel and measured on chat/risk_corpus.tsv (`manage.py risk_hit_rate`). A unit's
supervisors change them on the risk rules page; the demo seeds them for every unit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DefaultRule:
    key: str  # names the rule in the corpus
    label: str
    action: str  # RiskRule.Action
    phrases: tuple[str, ...]


SUICIDE = DefaultRule(
    key="suicide",
    label="Självmordsrisk / suicide risk",
    action="urgent",
    phrases=(
        "självmord*",
        "suicid*",
        "ta|tar|tog|tagit livet av mig",
        "ta|tar mitt liv",
        "ta mitt eget liv",
        "avsluta|avslutar mitt liv",
        "göra slut på mig|allt|livet",
        "vill|ville ... dö",
        "vill inte leva",
        "orkar inte leva",
        "inte leva längre",
        "hänga mig",
        "skär|skära|skurit|skar mig",
        "kill|killing myself",
        "end|ending my life",
        "end it all",
        "take my own life",
        "want|wanna|wanted ... die",
        "don't|dont want to live",
        "hang myself",
        "cut|cutting myself",
        "overdos*",
    ),
)

THREAT = DefaultRule(
    key="threat",
    label="Hot om våld / threat of violence",
    action="urgent",
    phrases=(
        "döda|dödar|dödade mig|dig|oss|barnen|henne|honom",
        "slå|slår ihjäl",
        "hotar|hotade|hotat ... döda|skada|slå",
        "strypa|stryper|ströp|strypt mig",
        "kill|kills me|us|you|her|him",
        "kill|kills the kids|children",
        "threaten*|threatening ... kill|hurt",
        "strangl*",
        "choked|choking me",
        "har|hade en kniv|pistol|vapen",
        "has|had a knife|gun",
    ),
)

VIOLENCE = DefaultRule(
    key="violence",
    label="Våld / violence",
    action="alert",
    phrases=(
        "slår|slog|slagit|örfilade|sparkar|sparkade|sparkat mig",
        "misshandl*",
        "våldt*",
        "tvingade|tvingar mig att ha sex",
        "blåmärk*",
        "hits|hit|beats|beat|beaten|kicked|kicks me",
        "rape|raped",
        "bruises|bruised",
        "is|was|gets violent",
    ),
)

CHILDREN = DefaultRule(
    key="children",
    label="Barn i fara / children at risk",
    action="urgent",
    phrases=(
        "slår|slog|slagit barnen|barnet|sonen|dottern",
        "slår|slog|slagit min|vår son|dotter",
        "barnen|barnet är rädda|rädd",
        "barnen är inte säkra",
        "lämnar|lämnade barnen ensamma",
        "övergrepp*",
        "inget att äta",
        "hits|hit|beats|hurts the|my kids|children|son|daughter",
        "kids|children are scared",
        "left the kids|children alone",
        "abus* ... child|children|kids|son|daughter",
        "no food",
    ),
)

DEFAULT_RULES = (SUICIDE, THREAT, VIOLENCE, CHILDREN)

CORPUS = Path(__file__).with_name("risk_corpus.tsv")
# What the defaults keep on the corpus at least (tests/test_risk_corpus.py).
MIN_PRECISION = 0.9
MIN_RECALL = 0.9
