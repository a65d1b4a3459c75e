"""Resource types beyond the seed contract, for filter tests: the enterprise extension and a User with `groups`."""
from dataclasses import replace

from server.contract import load_contract
from server.scim.schema import ENTERPRISE_USER, Attribute, Schema

TEST_EXTENSION = "urn:example:params:scim:schemas:extension:test:2.0:User"


def _string(name, **kw):
    return {"name": name, "type": "string", **kw}


def enterprise_user_type():
    """Seed User plus RFC 7643 §4.3's enterprise extension and a test extension with typed attributes."""
    enterprise = Schema.from_scim({"id": ENTERPRISE_USER, "name": "EnterpriseUser", "attributes": [
        _string("employeeNumber"), _string("costCenter"), _string("organization"), _string("division"),
        _string("department"),
        {"name": "manager", "type": "complex", "subAttributes": [
            _string("value", caseExact=True), {"name": "$ref", "type": "reference", "caseExact": True},
            _string("displayName")]},
    ]})
    typed = Schema.from_scim({"id": TEST_EXTENSION, "name": "Test", "attributes": [
        {"name": "hireDate", "type": "dateTime"},
        {"name": "level", "type": "integer"},
        {"name": "score", "type": "decimal"},
        {"name": "badge", "type": "binary"},
        _string("tags", multiValued=True),
        _string("code", caseExact=True),
    ]})
    user = load_contract().resource_type("User")
    return replace(user, extensions=(enterprise, typed))


def user_type_with_groups():
    """Seed User whose core schema also has RFC 7643's read-only `groups`."""
    user = load_contract().resource_type("User")
    groups = Attribute("groups", "complex", multi_valued=True, mutability="readOnly", sub_attributes=(
        Attribute("value", case_exact=True), Attribute("$ref", "reference", case_exact=True),
        Attribute("display"), Attribute("type")))
    core = replace(user.core, attributes=user.core.attributes + (groups,))
    return replace(user, core=core)
