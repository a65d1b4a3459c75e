"""Resource-type fixtures shared by the normalise/patch/rules tests: the seed contract's types and a User
type with the enterprise extension."""
from __future__ import annotations

import pytest

from server.contract import load_contract
from server.scim.schema import ENTERPRISE_USER, Attribute, ResourceType, Schema


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
