"""SCIM schema model (RFC 7643 §7): attribute definitions and resource types, read from a contract.
Pure data with case-insensitive lookup; every rule that needs to know an attribute's type asks here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str = "string"
    multi_valued: bool = False
    case_exact: bool = False
    required: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    description: str = ""
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple["Attribute", ...] = ()

    def sub(self, name: str) -> Attribute | None:
        wanted = name.lower()
        return next((a for a in self.sub_attributes if a.name.lower() == wanted), None)

    @classmethod
    def from_scim(cls, data: dict) -> Attribute:
        return cls(
            name=data["name"],
            type=data.get("type", "string"),
            multi_valued=data.get("multiValued", False),
            case_exact=data.get("caseExact", False),
            required=data.get("required", False),
            mutability=data.get("mutability", "readWrite"),
            returned=data.get("returned", "default"),
            uniqueness=data.get("uniqueness", "none"),
            description=data.get("description", ""),
            canonical_values=tuple(data.get("canonicalValues", ())),
            reference_types=tuple(data.get("referenceTypes", ())),
            sub_attributes=tuple(cls.from_scim(s) for s in data.get("subAttributes", ())),
        )

    def to_scim(self) -> dict:
        out = {
            "name": self.name, "type": self.type, "multiValued": self.multi_valued,
            "description": self.description, "required": self.required, "caseExact": self.case_exact,
            "mutability": self.mutability, "returned": self.returned, "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            out["subAttributes"] = [s.to_scim() for s in self.sub_attributes]
        return out


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        wanted = name.lower()
        return next((a for a in self.attributes if a.name.lower() == wanted), None)

    @classmethod
    def from_scim(cls, data: dict) -> Schema:
        return cls(data["id"], data.get("name", ""), data.get("description", ""),
                   tuple(Attribute.from_scim(a) for a in data.get("attributes", ())))

    def to_scim(self, location: str) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id, "name": self.name, "description": self.description,
            "attributes": [a.to_scim() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


# RFC 7643 §3.1: attributes every resource has, defined outside any schema document.
META = Attribute("meta", "complex", mutability="readOnly", sub_attributes=(
    Attribute("resourceType", mutability="readOnly", case_exact=True),
    Attribute("created", "dateTime", mutability="readOnly"),
    Attribute("lastModified", "dateTime", mutability="readOnly"),
    Attribute("location", "reference", mutability="readOnly", case_exact=True),
    Attribute("version", mutability="readOnly", case_exact=True),
))
COMMON_ATTRIBUTES = (
    Attribute("id", mutability="readOnly", returned="always", case_exact=True, uniqueness="server"),
    Attribute("externalId", case_exact=True),
    META,
)


@dataclass(frozen=True)
class Resolved:
    """Where an attribute path lands: the schema URN it belongs to ('' for common attributes and the core
    schema's attributes live at the top level), the attribute and, when the path names one, its sub-attribute."""
    urn: str
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def target(self) -> Attribute:
        return self.sub or self.attribute


@dataclass(frozen=True)
class ResourceType:
    name: str
    endpoint: str
    description: str
    core: Schema
    extensions: tuple[Schema, ...] = ()
    required_extensions: frozenset[str] = field(default_factory=frozenset)

    @property
    def schema_ids(self) -> list[str]:
        return [self.core.id, *(e.id for e in self.extensions)]

    def attributes_by_schema(self) -> Iterator[tuple[str, Attribute]]:
        """Every top-level attribute with its schema key: '' for the core schema, the URN for an extension."""
        for attribute in self.core.attributes:
            yield "", attribute
        for schema in self.extensions:
            for attribute in schema.attributes:
                yield schema.id, attribute

    def extension(self, urn: str) -> Schema | None:
        wanted = urn.lower()
        return next((e for e in self.extensions if e.id.lower() == wanted), None)

    def top_level(self, name: str) -> Attribute | None:
        wanted = name.lower()
        common = next((a for a in COMMON_ATTRIBUTES if a.name.lower() == wanted), None)
        return common or self.core.attribute(name)

    def resolve(self, urn: str | None, name: str, sub: str | None = None) -> Resolved | None:
        """Find `[urn:]name[.sub]`; None when the contract does not know it."""
        if urn and urn.lower() != self.core.id.lower():
            schema = self.extension(urn)
            if schema is None:
                return None
            attribute, where = schema.attribute(name), schema.id
        else:
            attribute, where = self.top_level(name), ""
        if attribute is None:
            return None
        if sub is None:
            return Resolved(where, attribute)
        sub_attribute = attribute.sub(sub)
        return Resolved(where, attribute, sub_attribute) if sub_attribute else None

    def to_scim(self, location: str) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name, "name": self.name, "endpoint": self.endpoint, "description": self.description,
            "schema": self.core.id,
            "schemaExtensions": [{"schema": e.id, "required": e.id in self.required_extensions}
                                 for e in self.extensions],
            "meta": {"resourceType": "ResourceType", "location": location},
        }
