"""Test doubles for the PATCH path parser and filter matcher (the real ones live in server/scim/filter.py), and a
User resource type with the enterprise extension, shared by the normalise/patch/rules tests."""
from __future__ import annotations

import re

import pytest

from server.contract import load_contract
from server.scim.patch import PatchPath
from server.scim.schema import ENTERPRISE_USER, Attribute, ResourceType, Schema
from server.scim.errors import invalid_path

_VALUE_PATH = re.compile(r'^(?P<name>[\w$]+)\[(?P<attr>[\w$]+) eq (?:"(?P<text>[^"]*)"|(?P<bare>true|false))\]'
                         r'(?:\.(?P<sub>[\w$]+))?$', re.IGNORECASE)


def parse_path(text: str) -> PatchPath:
    """Handles `attr`, `attr.sub`, `urn:…:attr[.sub]`, `attr[sub eq "x"]`, `attr[sub eq "x"].sub2`."""
    urn = None
    if text.lower().startswith("urn:"):
        urn, _, text = text.rpartition(":")
    match = _VALUE_PATH.match(text)
    if match:
        wanted = match["text"] if match["text"] is not None else match["bare"].lower() == "true"
        return PatchPath(urn, match["name"], (match["attr"], wanted), match["sub"])
    if not re.fullmatch(r"[\w$]+(\.[\w$]+)?", text):
        raise invalid_path(f"Unsupported path in test double: {text!r}")
    name, _, sub = text.partition(".")
    return PatchPath(urn, name, None, sub or None)


def element_matches(value_filter, element: dict, attribute: Attribute) -> bool:
    name, wanted = value_filter
    sub = attribute.sub(name)
    actual = next((v for k, v in element.items() if k.lower() == name.lower()), None)
    if isinstance(wanted, str) and isinstance(actual, str) and not (sub and sub.case_exact):
        return actual.lower() == wanted.lower()
    return actual == wanted


def filter_equalities(value_filter) -> dict:
    name, wanted = value_filter
    return {name: wanted}


PATCH_HOOKS = {"parse_path": parse_path, "element_matches": element_matches, "filter_equalities": filter_equalities}


@pytest.fixture
def contract():
    return load_contract()


@pytest.fixture
def users(contract):
    return contract.resource_type("User")


@pytest.fixture
def groups(contract):
    return contract.resource_type("Group")


@pytest.fixture
def enterprise_users(contract):
    """Seed core User plus the enterprise extension (department, employeeNumber, manager) from RFC 7643 §4.3."""
    manager = Attribute("manager", "complex", sub_attributes=(
        Attribute("value", case_exact=True),
        Attribute("$ref", "reference", reference_types=("User",)),
        Attribute("displayName", mutability="readOnly"),
    ))
    enterprise = Schema(ENTERPRISE_USER, "EnterpriseUser", "Enterprise User", (
        Attribute("department"), Attribute("employeeNumber"), manager,
    ))
    core = contract.resource_type("User").core
    return ResourceType("User", "/Users", "User Account", core, (enterprise,))
