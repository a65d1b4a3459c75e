"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): the AST, the parser, schema binding, in-memory matching.
Pure functions over the schema model; server/storage_filter.py compiles the same bound AST to SQL."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable, Union

from server.scim.errors import ScimError, invalid_filter, invalid_path
from server.scim.schema import Attribute, Resolved, ResourceType

# Limits keep hostile input from costing recursion or SQL expression depth; real IdP filters are tiny.
MAX_LENGTH = 10_000
MAX_DEPTH = 50
MAX_TERMS = 200

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
ORDER_OPS = frozenset({"gt", "ge", "lt", "le"})
SUBSTRING_OPS = frozenset({"co", "sw", "ew"})
STRING_TYPES = frozenset({"string", "reference", "binary"})
NUMBER_TYPES = frozenset({"integer", "decimal"})


# ---------------------------------------------------------------- AST

@dataclass(frozen=True)
class AttrPath:
    """`[urn:]name[.sub]` as written. `bind` returns a copy spelled as the schema spells it, `urn` None for core
    and common attributes, and `resolved` set. Inside a value filter a bound path is the full path
    (`emails[type eq "x"]` binds `type` to `emails.type`), evaluated against one element at a time."""
    urn: str | None
    name: str
    sub: str | None = None
    resolved: Resolved | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        text = f"{self.name}.{self.sub}" if self.sub else self.name
        return f"{self.urn}:{text}" if self.urn else text


@dataclass(frozen=True)
class Compare:
    """`path op value`; op is lower-case, value a JSON scalar (str, int, float, bool; None only before bind,
    which turns `eq null`/`ne null` into Not(Present)/Present)."""
    path: AttrPath
    op: str
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Present:
    """`path pr`: the attribute has a value that is not null, "", [] or {} (see `is_present`)."""
    path: AttrPath


@dataclass(frozen=True)
class And:
    """All operands hold. N-ary so long chains do not become deep trees."""
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any operand holds."""
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class ValuePath:
    """`path[filter]`: some element of the complex attribute `path` satisfies `filter`, whose paths name
    sub-attributes of that same element."""
    path: AttrPath
    filter: Node


Node = Union[Compare, Present, And, Or, Not, ValuePath]


@dataclass(frozen=True)
class PatchPath:
    """RFC 7644 §3.5.2 PATH. `path` names the attribute and, optionally, the sub-attribute targeted
    (`emails[type eq "work"].value` → path `emails.value`); `filter`, when present, selects which
    elements of the attribute the operation applies to (bound relative to the attribute, like ValuePath)."""
    path: AttrPath
    filter: Node | None = None


# ---------------------------------------------------------------- lexer

@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, number, ( ) [ ] . end
    text: str
    value: object
    pos: int

    def describe(self) -> str:
        return "end of input" if self.kind == "end" else repr(self.text)


_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z$][A-Za-z0-9_$:.\-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"\$?[A-Za-z][A-Za-z0-9_\-]*")  # ATTRNAME; `$ref` is RFC 7643's one exception
_PUNCTUATION = "()[]."
_LITERALS = {"true": True, "false": False, "null": None}

ErrorFactory = Callable[[str], ScimError]


def _lex(text: str, error: ErrorFactory) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        if m := _SPACE.match(text, i):
            i = m.end()
        elif text[i] in _PUNCTUATION:
            tokens.append(_Token(text[i], text[i], None, i))
            i += 1
        elif text[i] == '"':
            tokens.append(_lex_string(text, i, error))
            i += len(tokens[-1].text)
        elif m := _NUMBER.match(text, i):
            number = json.loads(m.group())
            tokens.append(_Token("number", m.group(), number, i))
            i = m.end()
        elif m := _WORD.match(text, i):
            tokens.append(_Token("word", m.group(), None, i))
            i = m.end()
        else:
            hint = " (values are JSON strings in double quotes)" if text[i] == "'" else ""
            raise error(f"unexpected character {text[i]!r} at position {i}{hint}")
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def _lex_string(text: str, start: int, error: ErrorFactory) -> _Token:
    # The stdlib JSON scanner implements exactly the RFC 7159 string rule, escapes included.
    try:
        value, end = json.decoder.scanstring(text, start + 1, True)
    except json.JSONDecodeError as e:
        raise error(f"invalid string at position {e.pos}: {e.msg}") from None
    return _Token("string", text[start:end], value, start)


def _attr_path(token: _Token, error: ErrorFactory, noun: str) -> AttrPath:
    urn, _, rest = token.text.rpartition(":")
    parts = rest.split(".")
    if len(parts) > 2 or not all(_NAME.fullmatch(p) for p in parts):
        raise error(f"invalid attribute path {token.text!r} at position {token.pos} in {noun}")
    return AttrPath(urn or None, parts[0], parts[1] if len(parts) == 2 else None)


# ---------------------------------------------------------------- parser

class _Parser:
    """Recursive descent over RFC 7644 Figure 1 with precedence not > and > or."""

    def __init__(self, text: str, error: ErrorFactory, noun: str):
        self.error, self.noun = error, noun
        if len(text) > MAX_LENGTH:
            raise error(f"{noun} is longer than {MAX_LENGTH} characters")
        if not text.strip():
            raise error(f"empty {noun}")
        self.tokens = _lex(text, error)
        self.i = self.depth = self.terms = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += min(1, len(self.tokens) - 1 - self.i)  # stay on `end`
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "word" and token.text.lower() == word:
            self.take()
            return True
        return False

    def unexpected(self, token: _Token, expected: str = "") -> ScimError:
        found = f"unexpected {token.describe()} at position {token.pos}"
        return self.error(f"{found}, expected {expected}" if expected else found)

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())

    def filter(self, inner: bool = False) -> Node:
        operands = [self.conjunction(inner)]
        while self.keyword("or"):
            operands.append(self.conjunction(inner))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self, inner: bool) -> Node:
        operands = [self.unary(inner)]
        while self.keyword("and"):
            operands.append(self.unary(inner))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self, inner: bool) -> Node:
        if self.keyword("not"):
            if self.peek().kind != "(":
                raise self.unexpected(self.peek(), "'(' after 'not'")
            return Not(self.group(inner))
        if self.peek().kind == "(":
            return self.group(inner)
        return self.attribute_expression(inner)

    def group(self, inner: bool) -> Node:
        opening = self.enter()
        node = self.filter(inner)
        self.close(")", opening)
        return node

    def enter(self) -> _Token:
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"{self.noun} nests deeper than {MAX_DEPTH} levels at position {opening.pos}")
        return opening

    def close(self, bracket: str, opening: _Token) -> None:
        token = self.take()
        if token.kind != bracket:
            raise self.unexpected(token, f"{bracket!r} to close {opening.text!r} at position {opening.pos}")
        self.depth -= 1

    def attribute_expression(self, inner: bool) -> Node:
        token = self.take()
        if token.kind != "word" or token.text.lower() in ("and", "or"):
            raise self.unexpected(token, "an attribute name")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"{self.noun} has more than {MAX_TERMS} comparisons")
        path = _attr_path(token, self.error, self.noun)
        if inner and (path.urn or path.sub):
            raise self.error(f"inside [...] name a sub-attribute, not {token.text!r} (position {token.pos})")
        if self.peek().kind == "[":
            if inner:
                raise self.error(f"value filters cannot nest (position {self.peek().pos})")
            return self.value_path(path)
        return self.operator(path, token)

    def value_path(self, path: AttrPath) -> ValuePath:
        opening = self.enter()
        node = self.filter(inner=True)
        self.close("]", opening)
        return ValuePath(path, node)

    def operator(self, path: AttrPath, after: _Token) -> Node:
        token = self.take()
        if token.kind != "word":
            raise self.unexpected(token, f"an operator after {after.text!r}")
        op = token.text.lower()
        if op == "pr":
            return Present(path)
        if op not in COMPARE_OPS:
            raise self.error(f"unknown operator {token.text!r} at position {token.pos}")
        return Compare(path, op, self.value(token))

    def value(self, operator: _Token) -> object:
        token = self.take()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "word" and token.text.lower() in _LITERALS:
            return _LITERALS[token.text.lower()]
        if token.kind == "word":
            raise self.error(f"unquoted value {token.text!r} at position {token.pos}; strings need double quotes")
        raise self.unexpected(token, f"a value after {operator.text!r}")

    def patch_path(self) -> PatchPath:
        token = self.take()
        if token.kind != "word":
            raise self.unexpected(token, "an attribute name")
        path = _attr_path(token, self.error, self.noun)
        if self.peek().kind != "[":
            self.expect_end()
            return PatchPath(path)
        if path.sub:
            raise self.error(f"'[' must follow the attribute name, not {token.text!r} (position {self.peek().pos})")
        node = self.value_path(path).filter
        if self.peek().kind == ".":
            self.take()
            sub = self.take()
            if sub.kind != "word" or not _NAME.fullmatch(sub.text):
                raise self.unexpected(sub, "a sub-attribute name after '.'")
            path = replace(path, sub=sub.text)
        self.expect_end()
        return PatchPath(path, node)


def parse_filter(text: str) -> Node:
    """Parse a filter; malformed input raises ScimError 400 invalidFilter saying what and where (0-based)."""
    if not isinstance(text, str):  # a /.search body can carry any JSON
        raise invalid_filter(f"The filter must be a string, got {type(text).__name__}.")
    parser = _Parser(text, invalid_filter, "filter")
    node = parser.filter()
    parser.expect_end()
    return node


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH operation's path; malformed input raises ScimError 400 invalidPath."""
    return _Parser(text.strip(), invalid_path, "path").patch_path()


# ---------------------------------------------------------------- binding

Resolver = Callable[[AttrPath], AttrPath]


def _top_level_resolver(resource_type: ResourceType, error: ErrorFactory) -> Resolver:
    def resolve(path: AttrPath) -> AttrPath:
        if path.resolved is not None:
            return path
        found = resource_type.resolve(path.urn, path.name, path.sub)
        if found is None:
            raise error(f"unknown attribute '{path}'")
        return _bound_path(found)
    return resolve


def _element_resolver(parent: Resolved, error: ErrorFactory) -> Resolver:
    def resolve(path: AttrPath) -> AttrPath:
        if path.resolved is not None:
            return path
        sub = parent.attribute.sub(path.name) if not (path.urn or path.sub) else None
        if sub is None:
            raise error(f"unknown attribute '{parent.attribute.name}.{path}'")
        return _bound_path(Resolved(parent.urn, parent.attribute, sub))
    return resolve


def _bound_path(found: Resolved) -> AttrPath:
    return AttrPath(found.urn or None, found.attribute.name, found.sub.name if found.sub else None, found)


def bind(node: Node, resource_type: ResourceType) -> Node:
    """Resolve every path against the contract (canonical spelling, `resolved` set), apply RFC 7643 §2.4's
    implicit `.value`, and reject what cannot be evaluated: unknown attributes, operators the attribute's type
    does not support, mistyped values. Raises invalidFilter. Idempotent; `matches` and `compile_filter` call it."""
    return _bind(node, _top_level_resolver(resource_type, invalid_filter), invalid_filter)


def bind_path(path: PatchPath, resource_type: ResourceType) -> PatchPath:
    """Bind a PATCH path like `bind` does a filter; every failure is invalidPath."""
    resolve = _top_level_resolver(resource_type, invalid_path)
    if path.filter is None:
        return PatchPath(resolve(path.path))
    attribute = resolve(replace(path.path, sub=None, resolved=None))
    if attribute.resolved.attribute.type != "complex":
        raise invalid_path(f"'{attribute}' is not complex, so it takes no [filter]")
    node = _bind(path.filter, _element_resolver(attribute.resolved, invalid_path), invalid_path)
    return PatchPath(resolve(path.path), node)


def _bind(node: Node, resolve: Resolver, error: ErrorFactory) -> Node:
    if isinstance(node, And):
        return And(tuple(_bind(n, resolve, error) for n in node.operands))
    if isinstance(node, Or):
        return Or(tuple(_bind(n, resolve, error) for n in node.operands))
    if isinstance(node, Not):
        return Not(_bind(node.operand, resolve, error))
    if isinstance(node, Present):
        return Present(resolve(node.path))
    if isinstance(node, Compare):
        return _bind_compare(resolve(node.path), node.op, node.value, error)
    path = resolve(node.path)
    if path.resolved.target.type != "complex" or path.resolved.sub is not None:
        raise error(f"'{path}' is not a complex attribute, so it takes no [filter]")
    return ValuePath(path, _bind(node.filter, _element_resolver(path.resolved, error), error))


def _bind_compare(path: AttrPath, op: str, value: object, error: ErrorFactory) -> Node:
    if value is None:
        if op not in ("eq", "ne"):
            raise error(f"'{op}' cannot compare with null")
        return Present(path) if op == "ne" else Not(Present(path))
    found = path.resolved
    if found.sub is None and found.attribute.type == "complex":
        value_sub = found.attribute.sub("value") if found.attribute.multi_valued else None
        if value_sub is None:
            raise error(f"'{path}' is complex; compare one of its sub-attributes")
        path = _bound_path(Resolved(found.urn, found.attribute, value_sub))  # RFC 7643 §2.4
    _check_comparison(path, op, value, error)
    return Compare(path, op, value)


def _check_comparison(path: AttrPath, op: str, value: object, error: ErrorFactory) -> None:
    kind = path.resolved.target.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise error(f"'{path}' is boolean; compare it with true or false")
        if op not in ("eq", "ne"):
            raise error(f"'{op}' does not apply to boolean '{path}'")
    elif kind in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"'{path}' is a number; compare it with a number")
        if op in SUBSTRING_OPS:
            raise error(f"'{op}' does not apply to number '{path}'")
    elif kind == "dateTime":
        if op in SUBSTRING_OPS:
            raise error(f"'{op}' does not apply to dateTime '{path}'")
        if not isinstance(value, str) or normalise_instant(value) is None:
            raise error(f"'{path}' is a dateTime; {json.dumps(value)} is not an ISO 8601 date-time")
    elif kind in STRING_TYPES:
        if not isinstance(value, str):
            raise error(f"'{path}' is a string; compare it with a quoted value")
        if kind == "binary" and op in ORDER_OPS:
            raise error(f"'{op}' does not apply to binary '{path}'")
    else:
        raise error(f"'{path}' of type {kind} cannot be compared")


# ---------------------------------------------------------------- values shared with the SQL compiler

def normalise_instant(text: object) -> str | None:
    """ISO 8601 → fixed-width UTC 'YYYY-MM-DDTHH:MM:SS.ffffffZ' so text order is time order; None if unparseable.
    A value without an offset is taken as UTC."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    u = moment.astimezone(timezone.utc)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def comparison_key(value: object, attribute: Attribute) -> object:
    """The form both evaluators compare: casefolded when caseExact is false, dateTimes normalised;
    None when the value is not of the attribute's type (it then counts as absent)."""
    kind = attribute.type
    if kind in STRING_TYPES:
        if not isinstance(value, str):
            return None
        return value if attribute.case_exact else value.casefold()
    if kind == "dateTime":
        return normalise_instant(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in NUMBER_TYPES:
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return None


def is_present(value: object) -> bool:
    """RFC 7644 `pr`: not null, not "", and for lists and objects, some member present."""
    if value is None:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        return any(is_present(v) for v in value)
    if isinstance(value, dict):
        return any(is_present(v) for v in value.values())
    return True


# ---------------------------------------------------------------- in-memory evaluation

def _get(container: object, key: str) -> object:
    """Case-insensitive member lookup (attribute names are case-insensitive on the wire)."""
    if not isinstance(container, dict):
        return None
    if key in container:
        return container[key]
    wanted = key.lower()
    return next((v for k, v in container.items() if k.lower() == wanted), None)


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _flatten(values: list) -> list:
    return [v for item in values for v in _as_list(item)]


class _ResourceScope:
    """Reads bound paths from a resource in wire shape (extensions under their URN key)."""

    def __init__(self, resource: dict):
        self.resource = resource

    def attribute_value(self, found: Resolved) -> object:
        container = _get(self.resource, found.urn) if found.urn else self.resource
        return _get(container, found.attribute.name)

    def values(self, path: AttrPath) -> list:
        found = path.resolved
        items = _as_list(self.attribute_value(found))
        if found.sub is not None:
            items = _flatten([_get(item, found.sub.name) for item in items])
        return [v for v in items if v is not None]

    def elements(self, path: AttrPath) -> list[dict]:
        return [e for e in _as_list(self.attribute_value(path.resolved)) if isinstance(e, dict)]


class _ElementScope:
    """Reads a value filter's sub-attribute paths from one element of a complex attribute."""

    def __init__(self, element: object):
        self.element = element

    def values(self, path: AttrPath) -> list:
        return [v for v in _as_list(_get(self.element, path.resolved.sub.name)) if v is not None]

    def elements(self, path: AttrPath) -> list[dict]:
        raise AssertionError("value filters do not nest")  # the parser rejects nesting


_TESTS: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda a, b: a == b,
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _compare(values: list, op: str, value: object, attribute: Attribute) -> bool:
    keys = [k for k in (comparison_key(v, attribute) for v in values) if k is not None]
    wanted = comparison_key(value, attribute)
    if op == "ne":  # true when absent; for multi-valued, when some value differs (RFC 7644: ANY value matches)
        return not keys or any(k != wanted for k in keys)
    test = _TESTS[op]
    return any(test(k, wanted) for k in keys)


def _evaluate(node: Node, scope: _ResourceScope | _ElementScope) -> bool:
    if isinstance(node, And):
        return all(_evaluate(n, scope) for n in node.operands)
    if isinstance(node, Or):
        return any(_evaluate(n, scope) for n in node.operands)
    if isinstance(node, Not):
        return not _evaluate(node.operand, scope)
    if isinstance(node, Present):
        return any(is_present(v) for v in scope.values(node.path))
    if isinstance(node, Compare):
        return _compare(scope.values(node.path), node.op, node.value, node.path.resolved.target)
    return any(_evaluate(node.filter, _ElementScope(e)) for e in scope.elements(node.path))


def matches(node: Node, resource: dict, resource_type: ResourceType) -> bool:
    """Whether a resource (wire shape) satisfies the filter; binds first, so unknown attributes raise."""
    return _evaluate(bind(node, resource_type), _ResourceScope(resource))


def matches_element(filter_node: Node, element: dict, attribute: Attribute) -> bool:
    """Whether one element of complex `attribute` satisfies a value filter (`type eq "work"`), as PATCH needs."""
    bound = _bind(filter_node, _element_resolver(Resolved("", attribute), invalid_filter), invalid_filter)
    return _evaluate(bound, _ElementScope(element))
