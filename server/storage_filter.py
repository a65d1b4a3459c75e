"""The filter AST compiled to a SQLite WHERE fragment over `resources r` (and group_members): filters meet SQL only here.
Also the SQL functions (scim_fold, scim_instant, scim_present) that every storage connection must register."""
from __future__ import annotations

import itertools
import json
import re
import sqlite3
from dataclasses import dataclass, replace

from server.scim.errors import invalid_filter
from server.scim.filter import (
    STRING_TYPES, And, AttrPath, Compare, Node, Not, Or, Present, ValuePath, bind, comparison_key, is_present,
    normalise_instant,
)
from server.scim.schema import Attribute, Resolved, ResourceType

Fragment = tuple[str, list]

# Multi-valued attributes kept in group_members instead of `data`: (resource type, attribute) →
# (column holding the owner's id, sub-attribute → column). Other sub-attributes are not stored there.
_LINKS = {
    ("Group", "members"): ("group_id", {"value": "member_id", "type": "member_type"}),
    ("User", "groups"): ("member_id", {"value": "group_id"}),
}
_META_COLUMNS = {"created": "r.created", "lastModified": "r.last_modified", "resourceType": "r.resource_type"}


# ---------------------------------------------------------------- SQL functions

def _fold(text: object) -> object:
    return text.casefold() if isinstance(text, str) else text


def _present_json(text: str | None) -> int:
    return 0 if text is None else int(is_present(json.loads(text)))


def register_functions(connection: sqlite3.Connection) -> None:
    """scim_fold(text) = casefold (NULL passes), scim_instant(text) = normalise_instant,
    scim_present(json) = is_present: the Python rules the compiled SQL relies on."""
    connection.create_function("scim_fold", 1, _fold, deterministic=True)
    connection.create_function("scim_instant", 1, normalise_instant, deterministic=True)
    connection.create_function("scim_present", 1, _present_json, deterministic=True)


# ---------------------------------------------------------------- SQL building blocks

def json_path(*keys: str) -> str:
    """`$."a"."b"`: quoted so URN keys (colons, dots) and `$ref` are single labels."""
    return "$" + "".join(f'."{key}"' for key in keys)


@dataclass(frozen=True)
class _Scalar:
    """One stored value as SQL. `keyed`: already in comparison_key form (name_key, timestamp columns).
    `as_json`: the value rendered as JSON text, for scim_present; None for plain columns."""
    sql: str
    params: tuple = ()
    keyed: bool = False
    as_json: Fragment | None = None

    def key(self, attribute: Attribute) -> _Scalar:
        if self.keyed:
            return self
        if attribute.type in STRING_TYPES and not attribute.case_exact:
            return replace(self, sql=f"scim_fold({self.sql})", keyed=True)
        if attribute.type == "dateTime":
            return replace(self, sql=f"scim_instant({self.sql})", keyed=True)
        return self


_PLACEHOLDER = re.compile(r"\{x\}|\?")


def _fill(template: str, x: _Scalar, values: tuple = ()) -> Fragment:
    """Expand `{x}` (may repeat, with its own params) and `?` (the values, in order) keeping params in text order."""
    params, pending = [], iter(values)

    def expand(match: re.Match) -> str:
        if match.group() == "?":
            params.append(next(pending))
            return "?"
        params.extend(x.params)
        return x.sql

    return _PLACEHOLDER.sub(expand, template), params


_TESTS = {
    "eq": "{x} = ?", "ne": "{x} <> ?", "gt": "{x} > ?", "ge": "{x} >= ?", "lt": "{x} < ?", "le": "{x} <= ?",
    # instr/substr rather than LIKE: LIKE has wildcards and folds ASCII only.
    "co": "instr({x}, ?) > 0", "sw": "substr({x}, 1, ?) = ?", "ew": "substr({x}, length({x}) - ? + 1) = ?",
}


def _holds(x: _Scalar, op: str, key: object) -> Fragment:
    """`x op key`, false rather than NULL when x is NULL, so NOT stays two-valued like the Python evaluator."""
    values = (len(key), key) if op in ("sw", "ew") else (key,)
    return _fill(f"({{x}} IS NOT NULL AND {_TESTS[op]})", x, values)


def _differs(x: _Scalar, key: object) -> Fragment:
    """Single-valued `ne`: true when absent, as in the Python evaluator."""
    return _fill("({x} IS NULL OR {x} <> ?)", x, (key,))


def _present(x: _Scalar) -> Fragment:
    if x.as_json is not None:
        return f"scim_present({x.as_json[0]})", list(x.as_json[1])
    return _fill("({x} IS NOT NULL AND {x} <> '')", x)


def _joined(parts: list[Fragment], glue: str) -> Fragment:
    return "(" + glue.join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]


# ---------------------------------------------------------------- where a path's values live

@dataclass(frozen=True)
class _Rows:
    """A multi-valued attribute as rows: `source` is a FROM item aliased `alias`, `correlation` ties it to r."""
    alias: str
    source: Fragment
    correlation: str

    def exists(self, condition: Fragment) -> Fragment:
        sql = f"EXISTS (SELECT 1 FROM {self.source[0]} WHERE {self.correlation} AND {condition[0]})"
        return sql, list(self.source[1]) + condition[1]


@dataclass(frozen=True)
class _JsonArray(_Rows):
    """Elements of an array in `data`, via json_each."""
    path: str = ""

    def element(self, sub: Attribute | None, parent: str) -> _Scalar:
        a = self.alias
        if sub is None:
            return _Scalar(f"{a}.value")
        key = json_path(sub.name)
        return _Scalar(f"CASE WHEN {a}.type = 'object' THEN json_extract({a}.value, ?) END", (key,),
                       as_json=(f"CASE WHEN {a}.type = 'object' THEN {a}.value -> ? END", [key]))

    def whole_present(self) -> Fragment:
        return "scim_present(r.data -> ?)", [self.path]


@dataclass(frozen=True)
class _LinkRows(_Rows):
    """Members (of a Group) or groups (of a User) in group_members; only some sub-attributes are columns."""
    columns: tuple[tuple[str, str], ...] = ()

    def element(self, sub: Attribute | None, parent: str) -> _Scalar:
        column = dict(self.columns).get(sub.name if sub else "value")
        if column is None:
            raise invalid_filter(f"'{parent}.{sub.name}' cannot be used in a filter")
        return _Scalar(f"{self.alias}.{column}")

    def whole_present(self) -> Fragment:
        return self.exists(("1", []))


class _RowScope:
    """Paths at the top of the resource: a column, a value in `data`, or rows for a multi-valued attribute."""

    def __init__(self, resource_type: ResourceType, aliases: itertools.count):
        self.resource_type, self.aliases = resource_type, aliases

    def locate(self, path: AttrPath) -> _Scalar | _Rows:
        found = path.resolved
        column = self.column(found, path)
        if column is not None:
            return column
        link = _LINKS.get((self.resource_type.name, found.attribute.name)) if not found.urn else None
        if link is not None:
            alias = f"m{next(self.aliases)}"
            own, columns = link
            return _LinkRows(alias, (f"group_members AS {alias}", []),
                             f"{alias}.workspace_id = r.workspace_id AND {alias}.{own} = r.id",
                             tuple(columns.items()))
        keys = data_keys(found)
        if found.attribute.multi_valued:
            alias, path_text = f"e{next(self.aliases)}", json_path(*keys)
            return _JsonArray(alias, (f"json_each(r.data, ?) AS {alias}", [path_text]), "1", path_text)
        return _data_value(keys, found.sub)

    def column(self, found: Resolved, path: AttrPath) -> _Scalar | None:
        if found.urn:
            return None
        name, sub = found.attribute.name, found.sub.name if found.sub else None
        if name == "id":
            return _Scalar("r.id")
        if name == "externalId":
            return _Scalar("r.external_id")
        if name == "meta":
            if sub not in _META_COLUMNS:
                raise invalid_filter(f"'{path}' cannot be used in a filter")
            return _Scalar(_META_COLUMNS[sub], keyed=sub != "resourceType")  # timestamps stored normalised
        key_attribute = {"User": "userName", "Group": "displayName"}.get(self.resource_type.name)
        if name == key_attribute and not found.attribute.case_exact:
            return _Scalar("r.name_key", keyed=True)  # casefolded and indexed
        if name == "active" and self.resource_type.name == "User":
            return _Scalar("r.active")
        return None


def data_keys(found: Resolved) -> tuple[str, ...]:
    """Keys of the attribute in `data`: extension attributes sit under their schema URN."""
    return ((found.urn,) if found.urn else ()) + (found.attribute.name,)


def _data_value(keys: tuple[str, ...], sub: Attribute | None) -> _Scalar:
    path_text = json_path(*keys, *((sub.name,) if sub else ()))
    return _Scalar("json_extract(r.data, ?)", (path_text,), as_json=("r.data -> ?", [path_text]))


class _ElementScope:
    """Inside `attr[...]` over rows: every path is a sub-attribute of the same row."""

    def __init__(self, rows: _Rows, parent: str):
        self.rows, self.parent = rows, parent

    def locate(self, path: AttrPath) -> _Scalar:
        return self.rows.element(path.resolved.sub, self.parent)


class _ObjectScope:
    """Inside `attr[...]` for a single-valued complex attribute in `data`."""

    def __init__(self, keys: tuple[str, ...]):
        self.keys = keys

    def locate(self, path: AttrPath) -> _Scalar:
        return _data_value(self.keys, path.resolved.sub)


# ---------------------------------------------------------------- compiler

class _Compiler:
    def __init__(self, resource_type: ResourceType):
        self.aliases = itertools.count()
        self.rows = _RowScope(resource_type, self.aliases)

    def node(self, node: Node, scope, negated: bool = False) -> Fragment:
        """Compile `node` (or its negation). Every fragment is two-valued, so NOT moves to the leaves by
        De Morgan; with deepest operands first that keeps SQLite's parser stack to about one entry per level."""
        if isinstance(node, Not):
            return self.node(node.operand, scope, not negated)
        if isinstance(node, (And, Or)):
            glue = " AND " if isinstance(node, And) != negated else " OR "
            operands = sorted(node.operands, key=_nesting, reverse=True)
            return _joined([self.node(n, scope, negated) for n in operands], glue)
        sql, params = self.leaf(node, scope)
        return (f"NOT {sql}", params) if negated else (sql, params)

    def leaf(self, node: Present | Compare | ValuePath, scope) -> Fragment:
        if isinstance(node, Present):
            return self.present(node.path, scope)
        if isinstance(node, Compare):
            return self.compare(node, scope)
        return self.value_path(node, scope)

    def present(self, path: AttrPath, scope) -> Fragment:
        where = scope.locate(path)
        if isinstance(where, _Scalar):
            return _present(where)
        if path.resolved.sub is None:
            return where.whole_present()
        return where.exists(_present(where.element(path.resolved.sub, path.name)))

    def compare(self, node: Compare, scope) -> Fragment:
        target = node.path.resolved.target
        key = comparison_key(node.value, target)
        where = scope.locate(node.path)
        if isinstance(where, _Scalar):
            x = where.key(target)
            return _differs(x, key) if node.op == "ne" else _holds(x, node.op, key)
        x = where.element(node.path.resolved.sub, node.path.name).key(target)
        if node.op != "ne":
            return where.exists(_holds(x, node.op, key))
        # Multi-valued ne: no value at all, or some value differs (as the Python evaluator).
        none_sql, none_params = where.exists(_fill("{x} IS NOT NULL", x))
        differs_sql, differs_params = where.exists(_holds(x, "ne", key))
        return f"(NOT {none_sql} OR {differs_sql})", none_params + differs_params

    def value_path(self, node: ValuePath, scope) -> Fragment:
        found = node.path.resolved
        if not found.urn and found.attribute.name == "meta":
            raise invalid_filter(f"'{node.path}[...]' cannot be used in a filter")
        where = scope.locate(node.path)
        if isinstance(where, _Rows):
            return where.exists(self.node(node.filter, _ElementScope(where, node.path.name)))
        keys = data_keys(found)
        inner_sql, inner_params = self.node(node.filter, _ObjectScope(keys))
        return f"(json_type(r.data, ?) = 'object' AND {inner_sql})", [json_path(*keys)] + inner_params


def _nesting(node: Node) -> int:
    if isinstance(node, (And, Or)):
        return 1 + max(_nesting(n) for n in node.operands)
    if isinstance(node, Not):
        return _nesting(node.operand)
    return 1 if isinstance(node, ValuePath) else 0


def compile_filter(node: Node, resource_type: ResourceType) -> Fragment:
    """A WHERE fragment over `resources r` plus its parameters (values are never interpolated). Binds first, so
    unknown attributes raise invalidFilter, as do the few that storage does not keep filterably
    (meta.location, meta.version, members.display, members.$ref, groups.display/type)."""
    compiler = _Compiler(resource_type)
    return compiler.node(bind(node, resource_type), compiler.rows)
