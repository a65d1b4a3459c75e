"""The service provider's promises as data: schemas, resource types, limits and policies, loaded once.
The seed workspace's capability table is the default; `--contract FILE` swaps in another provider's."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from server.scim.schema import ResourceType, Schema

CONTRACTS_DIR = Path(__file__).parent / "contracts"
DEFAULT_CONTRACT = "seed"


@dataclass(frozen=True)
class Limits:
    bulk_max_operations: int = 100
    bulk_max_payload_size: int = 1_048_576
    max_results: int = 1000
    default_count: int = 100


@dataclass(frozen=True)
class Policies:
    primary_email_immutable: bool = True
    sorting: str = "ignored"
    patch_response: int = 200  # 200 with the resource, or 204 with no body
    etag: bool = True


@dataclass(frozen=True)
class Contract:
    name: str
    description: str
    schemas: tuple[Schema, ...]
    resource_types: tuple[ResourceType, ...]
    limits: Limits
    policies: Policies
    documentation_uri: str = ""

    def resource_type(self, name: str) -> ResourceType:
        return next(rt for rt in self.resource_types if rt.name == name)

    def resource_type_for_endpoint(self, endpoint: str) -> ResourceType | None:
        wanted = endpoint.strip("/").lower()
        return next((rt for rt in self.resource_types if rt.endpoint.strip("/").lower() == wanted), None)

    def schema(self, schema_id: str) -> Schema | None:
        wanted = schema_id.lower()
        return next((s for s in self.schemas if s.id.lower() == wanted), None)

    def service_provider_config(self, location: str) -> dict:
        documentation = {"documentationUri": self.documentation_uri} if self.documentation_uri else {}
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            **documentation,
            "patch": {"supported": True},
            "bulk": {"supported": True, "maxOperations": self.limits.bulk_max_operations,
                     "maxPayloadSize": self.limits.bulk_max_payload_size},
            "filter": {"supported": True, "maxResults": self.limits.max_results},
            "changePassword": {"supported": False},
            "sort": {"supported": self.policies.sorting != "ignored"},
            "etag": {"supported": self.policies.etag},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
                "description": "The workspace's SCIM bearer token, shown once when generated.",
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": location},
        }


def load_contract(name_or_path: str | Path = DEFAULT_CONTRACT) -> Contract:
    """Load a contract by shipped name (`seed`, `full`) or from a JSON file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONTRACTS_DIR / f"{name_or_path}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    schemas = tuple(Schema.from_scim(s) for s in data["schemas"])
    by_id = {s.id: s for s in schemas}
    resource_types = tuple(
        ResourceType(
            name=rt["name"], endpoint=rt["endpoint"], description=rt.get("description", ""),
            core=by_id[rt["schema"]],
            extensions=tuple(by_id[e["schema"]] for e in rt.get("schemaExtensions", ())),
            required_extensions=frozenset(e["schema"] for e in rt.get("schemaExtensions", ()) if e.get("required")),
        )
        for rt in data["resourceTypes"]
    )
    limits, policies = data.get("limits", {}), data.get("policies", {})
    return Contract(
        name=data["name"], description=data.get("description", ""), schemas=schemas,
        resource_types=resource_types,
        limits=Limits(
            bulk_max_operations=limits.get("bulkMaxOperations", 100),
            bulk_max_payload_size=limits.get("bulkMaxPayloadSize", 1_048_576),
            max_results=limits.get("maxResults", 1000),
            default_count=limits.get("defaultCount", 100),
        ),
        policies=Policies(
            primary_email_immutable=policies.get("primaryEmailImmutable", True),
            sorting=policies.get("sorting", "ignored"),
            patch_response=policies.get("patchResponse", 200),
            etag=policies.get("etag", True),
        ),
        documentation_uri=data.get("documentationUri", ""),
    )
