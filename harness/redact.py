"""The `redact` command: replaces the personal data in a trace (names, emails, userNames, ids, phone numbers,
externalIds, hosts) consistently with made-up values of the same shape, and refuses to write if any original remains.

Shape kept: each word keeps its length, case pattern and script (Latin, accented Latin, Cyrillic, CJK...), digits stay
digits and hex ids stay hex; separators stay, so plus-addressing, dots and domain structure survive; a word maps to
the same made-up word everywhere, whatever its case, so `Contoso.com` and `contoso.com` stay one domain."""
from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import secrets
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import quote_plus, unquote_plus, urlsplit

from harness.trace import FORMAT, TraceError, dumps_line, read_lines

# Attributes whose string values are personal data or identifiers, wherever they sit (lower-cased).
PERSONAL_KEYS = frozenset({
    "username", "displayname", "externalid", "id", "nickname", "givenname", "familyname", "middlename", "formatted",
    "honorificprefix", "honorificsuffix", "employeenumber", "streetaddress", "locality", "postalcode", "display",
    "subject", "profileurl"})
# Multi-valued or reference attributes whose `value` is personal data or an id.
VALUE_PARENTS = frozenset({"emails", "phonenumbers", "ims", "photos", "members", "manager", "groups", "addresses"})
# Keys whose strings are protocol, not data: never rewritten (a group called "User" must not rename resourceType).
STRUCTURAL_KEYS = frozenset({"schemas", "op", "method", "purpose", "response_content_type", "resourcetype",
                             "status", "scimtype", "type", "format", "version", "source", "time", "created",
                             "request_headers", "primary", "active"})
UNSCANNED_KEYS = frozenset({"time", "created", "elapsed_ms"})     # the harness's own timestamps
PUBLIC_LABELS = frozenset({"com", "net", "org", "edu", "gov", "io", "co", "uk", "de", "fr", "nl", "au", "ca", "jp",
                           "us", "eu", "info", "biz", "app", "dev", "onmicrosoft", "example", "test", "local",
                           "localhost", "invalid", "scim", "api", "www"})
FILTER_VALUE = re.compile(r'([\w.:$-]+)(\s+(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
MIN_FREE_TEXT = 3      # shorter originals are replaced only where they stand alone (a field, a path segment)
WORD = re.compile(r"\w+")
HEX = re.compile(r"[0-9a-fA-F]+")


class Pseudonyms:
    """Made-up words for real ones: same length, case pattern and script; one per word, case-insensitively."""

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self._words: dict[tuple[str, bool], str] = {}
        self._taken: set[str] = set()

    def text(self, text: str, *, hex_ids: bool = False) -> str:
        """Every word of `text` replaced; in the part after an `@` (or a host name) public labels such as `com`
        and `onmicrosoft` are kept so the domain's structure stays recognisable."""
        domain_from = text.rfind("@") + 1 if "@" in text else (0 if _looks_like_host(text) else len(text) + 1)
        return WORD.sub(lambda m: m.group(0) if m.start() >= domain_from and m.group(0).lower() in PUBLIC_LABELS
                        else self.word(m.group(0), hex_ids and bool(HEX.fullmatch(m.group(0)))), text)

    def word(self, word: str, hex_word: bool = False) -> str:
        key = (word.casefold(), hex_word)
        if key not in self._words:
            attempt = 0
            while True:
                made_up = self._generate(key[0], hex_word, attempt)
                attempt += 1
                if made_up not in self._taken and (made_up != key[0] or attempt > 20):
                    break
            self._taken.add(made_up)
            self._words[key] = made_up
        return _with_case_of(word, self._words[key])

    def _generate(self, word: str, hex_word: bool, attempt: int) -> str:
        stream = _stream(self.salt, f"{attempt}:{hex_word}:{word}")
        return "".join(_like(char, next(stream), hex_word) for char in word)


def _stream(salt: bytes, text: str) -> Iterator[int]:
    counter = 0
    while True:
        yield from hmac.new(salt, f"{counter}:{text}".encode(), hashlib.sha256).digest()
        counter += 1


def _like(char: str, draw: int, hex_word: bool) -> str:
    """A character of the same class as `char`, lower-case (case is applied afterwards)."""
    if char.isdigit() and char.isascii():
        return str(draw % 10)
    if hex_word:
        return "0123456789abcdef"[draw % 16]
    if char.isascii() and char.isalpha():
        return "abcdefghijklmnopqrstuvwxyz"[draw % 26]
    if not char.isalpha():
        return char
    script = unicodedata.name(char, "").split(" ")[0]
    # A letter of the same script near the original: accents stay accents, Cyrillic stays Cyrillic, kanji kanji.
    for offset in range(48):
        candidate = chr(max(ord(char) - 24 + (draw + offset * 7) % 48, 0xC0))
        if (candidate.isalpha() and not candidate.isascii() and candidate != char
                and unicodedata.name(candidate, "").split(" ")[0] == script):
            return candidate.lower()
    return char


def _with_case_of(original: str, made_up: str) -> str:
    if len(original) != len(made_up):
        return made_up
    return "".join(m.upper() if o.isupper() else m for o, m in zip(original, made_up))


def _looks_like_host(text: str) -> bool:
    return bool(re.fullmatch(r"[\w-]+(\.[\w-]+)+(:\d+)?", text)) and not re.fullmatch(r"[\d.:]+", text)


@dataclass
class Redactor:
    """Collects the personal values of a whole trace first, then rewrites every string that holds one."""
    pseudonyms: Pseudonyms
    originals: dict[str, bool] = field(default_factory=dict)   # value -> is an id (hex kept)
    _is_id: dict[str, bool] = field(default_factory=dict)      # the same, by case-folded value
    _pattern: re.Pattern | None = None

    # -- collecting ------------------------------------------------------------------------------------------------
    def collect_record(self, record: dict[str, Any]) -> None:
        location, _, query = str(record.get("path", "")).partition("?")
        if location.split("/")[1:2] not in (["Schemas"], ["ResourceTypes"], ["ServiceProviderConfig"]):
            for key in ("request_body", "response_body"):     # discovery documents hold protocol, not people
                self._collect(record.get(key), None)
        if record.get("subject"):
            self._add(record["subject"], is_id=True)
        for url in (record.get("base_url"),):
            if url:
                self._add(urlsplit(url).hostname or "", is_id=False)
        for segment in location.split("/")[2:]:
            self._add(unquote_plus(segment), is_id=True)
        self._collect_filters(unquote_plus(query))

    def _collect(self, node: Any, parent: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                self._collect(item, parent)
        elif isinstance(node, dict):
            if {"op", "path"} <= {k.lower() for k in node} and isinstance(node.get("path"), str):
                self._collect_operation(node)
            for key, value in node.items():
                lowered = key.lower().rpartition(":")[2]
                if isinstance(value, str):
                    if lowered in PERSONAL_KEYS or (lowered == "value" and parent in VALUE_PARENTS):
                        self._add(value, is_id=lowered in ("id", "value") and parent not in ("emails", "phonenumbers"))
                    elif lowered in ("$ref", "location"):
                        self._add(urlsplit(value).hostname or "", is_id=False)
                    elif lowered == "filter":
                        self._collect_filters(value)
                else:
                    self._collect(value, lowered)

    def _collect_operation(self, operation: dict) -> None:
        attribute = re.split(r"[\[.]", operation["path"].rpartition(":")[2])[0].lower()
        self._collect_filters(operation["path"])
        value = operation.get("value")
        if isinstance(value, str) and (attribute in PERSONAL_KEYS | VALUE_PARENTS or "name" in attribute):
            self._add(value, is_id=attribute in ("members", "manager", "groups"))
        elif isinstance(value, (dict, list)):
            self._collect(value, attribute)

    def _collect_filters(self, text: str) -> None:
        for attribute, _, value in FILTER_VALUE.findall(text):
            name = re.split(r"[\[.]", attribute.rpartition(":")[2])[-1].lower()
            if name in PERSONAL_KEYS or name in VALUE_PARENTS or name == "value":
                self._add(value, is_id=name in ("id", "value", "members"))

    def _add(self, value: str, is_id: bool) -> None:
        if value and value.lower() not in PUBLIC_LABELS and not value.startswith("urn:ietf:params:scim:"):
            self.originals.setdefault(value, is_id)
            self._is_id.setdefault(value.casefold(), is_id)
            self._pattern = None

    # -- rewriting -------------------------------------------------------------------------------------------------
    def redact_record(self, record: Any, key: str | None = None) -> Any:
        if isinstance(record, dict):
            return {k: v if k.lower() in STRUCTURAL_KEYS else
                    self.redact_path(v) if k == "path" and isinstance(v, str) and v.startswith("/") else
                    self.redact_record(v, k) for k, v in record.items()}
        if isinstance(record, list):
            return [self.redact_record(item, key) for item in record]
        if isinstance(record, str):
            return self.redact_text(record)
        return record

    def redact_text(self, text: str) -> str:
        if text in self.originals:
            return self._pseudonym(text)
        if self._pattern is None:
            longest_first = sorted((v for v in self.originals if len(v) >= MIN_FREE_TEXT), key=len, reverse=True)
            self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, longest_first)) + r")(?!\w)",
                                       re.IGNORECASE) if longest_first else re.compile(r"(?!x)x")
        return self._pattern.sub(lambda m: self._pseudonym(m.group(0)), text)

    def redact_path(self, path: str) -> str:
        location, mark, query = path.partition("?")
        segments = [self.redact_text(unquote_plus(s)) if s else s for s in location.split("/")]
        pairs = [pair.partition("=") for pair in query.split("&")] if query else []
        query = "&".join(f"{name}{eq}{quote_plus(self.redact_text(unquote_plus(value)))}" for name, eq, value in pairs)
        return "/".join(quote_plus(s, safe="@:$,;+=!*'()") for s in segments) + mark + query

    def _pseudonym(self, matched: str) -> str:
        return self.pseudonyms.text(matched, hex_ids=self._is_id.get(matched.casefold(), False))

    # -- checking --------------------------------------------------------------------------------------------------
    def leaks(self, records: list[Any]) -> list[str]:
        """Originals (at least MIN_FREE_TEXT long) still present anywhere in the redacted records."""
        text = "\n".join(_strings(records))
        return sorted(v for v in self.originals if len(v) >= MIN_FREE_TEXT
                      and re.search(r"(?<!\w)" + re.escape(v) + r"(?!\w)", text, re.IGNORECASE))


def _strings(node: Any, key: str | None = None) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k not in UNSCANNED_KEYS:
                yield from _strings(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, key)
    elif isinstance(node, str):
        yield node
        if key == "path":
            yield unquote_plus(node)


def redact_trace(header: dict, records: list[dict], salt: bytes) -> tuple[dict, list[dict], list[str]]:
    """The redacted header and records, and the originals that survived (empty when the redaction is complete)."""
    redactor = Redactor(Pseudonyms(salt))
    redactor.collect_record({"base_url": header.get("base_url")})
    for record in records:
        redactor.collect_record(record)
    new_header = {**header, "source": f"redact {header.get('source', '')}".strip()}
    if header.get("base_url"):
        host = urlsplit(header["base_url"]).hostname or ""
        new_header["base_url"] = header["base_url"].replace(host, redactor.redact_text(host), 1)
    redacted = [redactor.redact_record(record) for record in records]
    return new_header, redacted, redactor.leaks([new_header, *redacted])


def handle(args: argparse.Namespace) -> int:
    try:
        header, records = read_lines(args.input)
    except (OSError, TraceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    header.pop("authorization", None)
    salt = args.seed.encode() if args.seed else secrets.token_bytes(32)
    new_header, redacted, leaks = redact_trace(header, records, salt)
    if leaks:
        print(f"error: {len(leaks)} original value(s) would remain, not writing {args.out}:", file=sys.stderr)
        for leak in leaks[:20]:
            print(f"  {leak[:60]}", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8") as out:
        for record in (new_header, *redacted):
            out.write(dumps_line(record))
    print(f"redacted {len(records)} exchanges to {args.out}; no original value remains")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "redact", help="replace personal data in a trace with consistent made-up values",
        description=f"Rewrite a {FORMAT} so it can be attached to a bug report: names, emails, userNames, ids, "
                    "phone numbers, externalIds and host names become made-up values of the same shape (length, "
                    "case pattern, script, digits, hex, separators, plus-addressing, domain structure), the same "
                    "value always the same made-up one. The result is scanned for every original value; if any "
                    "remains, nothing is written and the exit status is 1.")
    parser.add_argument("input", metavar="IN", help="trace to redact")
    parser.add_argument("--out", required=True, metavar="OUT")
    parser.add_argument("--seed", metavar="TEXT",
                        help="make the made-up values reproducible (default: random per run, so they cannot be "
                             "reversed by hashing guesses)")
    parser.set_defaults(handler=handle)
