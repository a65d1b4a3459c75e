"""Bulk operations (RFC 7644 §3.7): limits, bulkId references resolved across operations (group members
included), failOnErrors, and a per-operation status. Each operation runs through the same ScimService."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from server.contract import Contract
from server.scim.errors import ScimError, invalid_syntax, invalid_value
from server.service import ScimService

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
BULK_REFERENCE = re.compile(r"bulkId:([^\s\"/]+)")
METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Operation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    data: dict | None
    version: str | None

    @property
    def references(self) -> set[str]:
        text = self.path + (json.dumps(self.data) if self.data is not None else "")
        return set(BULK_REFERENCE.findall(text))


def parse_bulk_request(body: dict, contract: Contract) -> tuple[list[Operation], int | None]:
    """Validate the envelope and the operation list; returns the operations and failOnErrors."""
    raw_ops = body.get("Operations", body.get("operations"))
    if not isinstance(raw_ops, list):
        raise invalid_syntax("A bulk request needs an 'Operations' list.")
    limit = contract.limits.bulk_max_operations
    if len(raw_ops) > limit:
        raise ScimError(413, f"The bulk request has {len(raw_ops)} operations; at most {limit} are allowed. "
                             "Nothing was executed.")
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int)
                                       or fail_on_errors < 1):
        raise invalid_value("'failOnErrors' must be a positive integer.")
    return [_operation(i, op) for i, op in enumerate(raw_ops)], fail_on_errors


def _operation(index: int, raw) -> Operation:
    if not isinstance(raw, dict):
        raise invalid_syntax(f"Bulk operation {index} is not an object.")
    method = str(raw.get("method", "")).upper()
    path = raw.get("path")
    if method not in METHODS:
        raise invalid_syntax(f"Bulk operation {index} has method {raw.get('method')!r}; use POST, PUT, PATCH or DELETE.")
    if not isinstance(path, str) or not path.startswith("/"):
        raise invalid_syntax(f"Bulk operation {index} needs a 'path' such as '/Users'.")
    bulk_id = raw.get("bulkId")
    if method == "POST" and not bulk_id:
        raise invalid_syntax(f"Bulk operation {index} is a POST and needs a 'bulkId'.")
    data = raw.get("data")
    if method != "DELETE" and not isinstance(data, dict):
        raise invalid_syntax(f"Bulk operation {index} ({method}) needs a 'data' object.")
    return Operation(index, method, path, bulk_id, data, raw.get("version"))


class BulkRunner:
    def __init__(self, service: ScimService, workspace_id: str, base_url: str):
        self.service = service
        self.workspace_id = workspace_id
        self.base_url = base_url
        self.created: dict[str, str] = {}  # bulkId -> new resource id

    def run(self, operations: list[Operation], fail_on_errors: int | None) -> dict:
        results: dict[int, dict] = {}
        errors = 0
        for op in self._dependency_order(operations):
            if fail_on_errors is not None and errors >= fail_on_errors:
                break
            result = self._execute(op)
            results[op.index] = result
            errors += int(result["status"]) >= 400
        return {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}

    @staticmethod
    def _dependency_order(operations: list[Operation]) -> list[Operation]:
        """Operations in request order, except one waits for the POSTs whose bulkIds it references."""
        declared = {op.bulk_id for op in operations if op.bulk_id}
        done: set[str] = set()
        pending, ordered = list(operations), []
        while pending:
            ready = [op for op in pending if not (op.references & declared) - done]
            if not ready:  # a cycle or a reference to a failed/unknown bulkId: run the rest and let them fail
                ready = pending
            first = ready[0]
            ordered.append(first)
            pending.remove(first)
            if first.bulk_id:
                done.add(first.bulk_id)
        return ordered

    def _execute(self, op: Operation) -> dict:
        result = {"method": op.method}
        if op.bulk_id:
            result["bulkId"] = op.bulk_id
        try:
            path, data = self._resolve(op)
            outcome, status = self._dispatch(op.method, path, data, op.version)
            if outcome is not None:
                result["location"] = outcome.location
                result["version"] = outcome.etag
                if op.method == "POST":
                    self.created[op.bulk_id] = outcome.resource["id"]
            result["status"] = str(status)
        except ScimError as error:
            result["status"] = str(error.status)
            result["response"] = error.to_scim()
        return result

    def _resolve(self, op: Operation) -> tuple[str, dict | None]:
        def swap(match: re.Match) -> str:
            bulk_id = match.group(1)
            if bulk_id not in self.created:
                raise ScimError(409, f"bulkId '{bulk_id}' does not refer to a resource created earlier in this "
                                     "request.", "invalidValue")
            return self.created[bulk_id]

        path = BULK_REFERENCE.sub(swap, op.path)
        data = None if op.data is None else json.loads(BULK_REFERENCE.sub(swap, json.dumps(op.data)))
        return path, data

    def _dispatch(self, method: str, path: str, data: dict | None, version: str | None):
        parts = path.strip("/").split("/")
        rtype = self.service.contract.resource_type_for_endpoint(parts[0])
        if rtype is None or len(parts) > 2 or (method == "POST") != (len(parts) == 1):
            raise ScimError(404, f"Bulk path '{path}' does not name a resource endpoint this operation can use.")
        ws, base = self.workspace_id, self.base_url
        if method == "POST":
            return self.service.create(ws, rtype, data, base), 201
        if method == "PUT":
            return self.service.replace(ws, rtype, parts[1], data, base, version), 200
        if method == "PATCH":
            return self.service.patch(ws, rtype, parts[1], data, base, version), 200
        self.service.delete(ws, rtype, parts[1], version)
        return None, 204
