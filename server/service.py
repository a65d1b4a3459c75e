"""The SCIM service: each operation validates through the pure rules, reads or writes storage in one
transaction, and shapes the result. Routes and bulk operations both call this; it never sees Flask."""
from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from dataclasses import replace as with_changes

from server.contract import Contract
from server.members import Members
from server.scim import normalise, patch, rules
from server.scim.errors import ScimError, invalid_value, not_found, uniqueness
from server.scim.filter import matches_element, parse_filter
from server.scim.projection import Selection, project
from server.scim.responses import etag, list_response, paging, precondition_holds, with_reference_urls
from server.scim.schema import ResourceType
from server.storage import Store, now_timestamp
from server.storage_filter import compile_filter

NAME_ATTRIBUTE = {"User": "userName", "Group": "displayName"}
LINK_ATTRIBUTE = {"User": "groups", "Group": "members"}  # kept in group_members, not in `data`


@dataclass
class Outcome:
    """A resource in wire shape (projected, so maybe without `meta`), its ETag and location, plus what the
    contract dropped from the request that produced it."""
    resource: dict
    etag: str
    location: str
    dropped: list[str] = field(default_factory=list)


class ScimService:
    def __init__(self, store: Store, contract: Contract):
        self.store = store
        self.contract = contract
        self.members = Members(store)  # workspace access follows each User; hooks run in our transactions

    # --- reads -----------------------------------------------------------------------------------

    def get(self, workspace_id: str, rtype: ResourceType, resource_id: str, base_url: str,
            selection: Selection = Selection()) -> Outcome:
        row = self._require(workspace_id, rtype, resource_id)
        whole = self._wire(row, rtype, base_url, selection)
        meta = whole["meta"]
        return Outcome(project(whole, rtype, selection), meta["version"], meta["location"])

    def search(self, workspace_id: str, rtypes: list[ResourceType], filter_text: str | None, start_index,
               count, base_url: str, selection: Selection = Selection()) -> dict:
        """Filter and page one or more resource types (several for a root-level /.search), in SQL."""
        start, wanted = paging(start_index, count, self.contract.limits)
        conditions = self._conditions(filter_text, rtypes)
        total, page = 0, []
        for rtype, (where, params) in conditions:
            skip = max(start - 1 - total, 0)  # rows of this type that fall before the page
            found, rows = self.store.search(workspace_id, rtype.name, where, params, skip + 1, wanted - len(page))
            total += found
            page += [project(r, rtype, selection) for r in self._wire_many(rows, rtype, base_url, selection)]
        return list_response(page, total, start)

    @staticmethod
    def _conditions(filter_text: str | None, rtypes: list[ResourceType]) -> list[tuple]:
        """The filter compiled for each resource type; at the root, a type whose schema lacks an attribute the
        filter names simply has no matches, unless no type knows it."""
        if not filter_text:
            return [(rtype, ("", [])) for rtype in rtypes]
        node = parse_filter(filter_text)
        compiled, last_error = [], None
        for rtype in rtypes:
            try:
                compiled.append((rtype, compile_filter(node, rtype)))
            except ScimError as error:
                last_error = error
        if not compiled:
            raise last_error
        return compiled

    # --- writes ----------------------------------------------------------------------------------

    def create(self, workspace_id: str, rtype: ResourceType, body: dict, base_url: str,
               selection: Selection = Selection()) -> Outcome:
        clean = normalise.normalise_resource(body, rtype)
        members = clean.data.pop("members", [])
        resource_id = uuid.uuid4().hex
        stamp = now_timestamp()
        with self.store.transaction() as db:
            self._check_unique(db, workspace_id, rtype, clean.data)
            self._insert(db, workspace_id, rtype, resource_id, clean.data, stamp)
            self._replace_members(db, workspace_id, resource_id, members)
        return with_changes(self.get(workspace_id, rtype, resource_id, base_url, selection), dropped=clean.dropped)

    def replace(self, workspace_id: str, rtype: ResourceType, resource_id: str, body: dict, base_url: str,
                if_match: str | None = None, selection: Selection = Selection()) -> Outcome:
        with self.store.transaction() as db:
            row = self._require(workspace_id, rtype, resource_id, db, if_match)
            clean = rules.apply_put(row["data"], body, rtype)
            members = clean.data.pop("members", [])  # a full replace: no members listed means none
            rules.check_primary_email_unchanged(row["data"], clean.data, self.contract.policies)
            self._check_unique(db, workspace_id, rtype, clean.data, resource_id)
            if rtype.core.attribute("members"):
                self._replace_members(db, workspace_id, resource_id, members)
            self._update(db, row, clean.data)
        return with_changes(self.get(workspace_id, rtype, resource_id, base_url, selection), dropped=clean.dropped)

    def patch(self, workspace_id: str, rtype: ResourceType, resource_id: str, body: dict, base_url: str,
              if_match: str | None = None, selection: Selection = Selection()) -> Outcome:
        with self.store.transaction() as db:
            row = self._require(workspace_id, rtype, resource_id, db, if_match)
            result = patch.apply_patch({**row["data"], "id": row["id"]}, body, rtype)
            result.data.pop("id", None)
            rules.check_primary_email_unchanged(row["data"], result.data, self.contract.policies)
            self._check_unique(db, workspace_id, rtype, result.data, resource_id)
            members_changed = self._apply_member_ops(db, workspace_id, resource_id, result.member_ops)
            if result.changed or members_changed:
                self._update(db, row, result.data)
        return with_changes(self.get(workspace_id, rtype, resource_id, base_url, selection), dropped=result.dropped)

    def delete(self, workspace_id: str, rtype: ResourceType, resource_id: str, if_match: str | None = None) -> None:
        with self.store.transaction() as db:
            row = self._require(workspace_id, rtype, resource_id, db, if_match)
            self.store.delete_resource(db, resource_id)
            self.members.on_resource_deleted(db, row)

    # --- helpers ---------------------------------------------------------------------------------

    def _require(self, workspace_id: str, rtype: ResourceType, resource_id: str, db=None,
                 if_match: str | None = None) -> dict:
        row = self.store.get_resource(workspace_id, rtype.name, resource_id, db)
        if row is None:
            raise not_found(f"{rtype.name} '{resource_id}' not found.")
        if not precondition_holds(if_match, row["version"]):
            raise ScimError(412, f"{rtype.name} '{resource_id}' has changed: its ETag is now "
                                 f"{etag(row['version'])}, not {if_match}.")
        return row

    def _check_unique(self, db, workspace_id: str, rtype: ResourceType, data: dict, except_id: str = "") -> None:
        attribute = NAME_ATTRIBUTE[rtype.name]
        name = data.get(attribute)
        if self.store.name_taken(db, workspace_id, rtype.name, name.casefold(), except_id):
            raise uniqueness(f"A {rtype.name} with {attribute} '{name}' already exists in this workspace "
                             f"({attribute} is unique regardless of case).")

    def _existing_members(self, db, workspace_id: str, ids: list[str], group_id: str) -> dict[str, str]:
        if group_id in ids:
            raise invalid_value(f"Group '{group_id}' cannot be a member of itself.")
        found = self.store.existing_ids(db, workspace_id, ids)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise invalid_value("Unknown member id(s): " + ", ".join(f"'{m}'" for m in missing) +
                                ". Members must be users or groups of this workspace.")
        return {member_id: found[member_id] for member_id in ids}

    def _replace_members(self, db, workspace_id: str, group_id: str, members: list[dict]) -> None:
        member_types = self._existing_members(db, workspace_id, [m["value"] for m in members], group_id)
        self.store.clear_members(db, group_id)
        self.store.add_members(db, workspace_id, group_id, member_types)

    def _apply_member_ops(self, db, workspace_id: str, group_id: str, member_ops: list) -> bool:
        ids = patch.member_ids_referenced(member_ops)
        member_types = self._existing_members(db, workspace_id, ids, group_id) if ids else {}
        for op in member_ops:
            if isinstance(op, patch.AddMembers):
                ids = [m["value"] for m in op.members]
                self.store.add_members(db, workspace_id, group_id, {i: member_types[i] for i in ids})
            elif isinstance(op, patch.RemoveMembers):
                self.store.remove_members(db, group_id, list(op.ids))
            elif isinstance(op, patch.RemoveAllMembers):
                self.store.clear_members(db, group_id)
            else:  # RemoveMatchingMembers: rare filter shapes, evaluated on the member rows
                members_attribute = self.contract.resource_type("Group").resolve(None, "members").attribute
                current = self.store.members([group_id])[group_id]
                doomed = [m["value"] for m in current
                          if matches_element(op.value_filter, {"value": m["value"], "type": m["type"]},
                                             members_attribute)]
                self.store.remove_members(db, group_id, doomed)
        return bool(member_ops)

    def _row(self, workspace_id: str, rtype: ResourceType, resource_id: str, data: dict) -> dict:
        return {
            "id": resource_id, "workspace_id": workspace_id, "resource_type": rtype.name,
            "name_key": data[NAME_ATTRIBUTE[rtype.name]].casefold(),
            "external_id": data.get("externalId"),
            "active": None if rtype.name != "User" else int(data.get("active", True)),
            "data": data,
        }

    def _insert(self, db, workspace_id: str, rtype: ResourceType, resource_id: str, data: dict, stamp: str):
        row = self._row(workspace_id, rtype, resource_id, data)
        try:
            self.store.insert_resource(db, {**row, "created": stamp, "last_modified": stamp, "version": 1})
        except sqlite3.IntegrityError:  # a concurrent create won the race for the same name
            raise uniqueness(f"A {rtype.name} with that {NAME_ATTRIBUTE[rtype.name]} already exists.") from None
        self.members.on_resource_written(db, row)

    def _update(self, db, old: dict, data: dict) -> None:
        rtype = self.contract.resource_type(old["resource_type"])
        row = self._row(old["workspace_id"], rtype, old["id"], data)
        self.store.update_resource(db, {**row, "last_modified": now_timestamp(), "version": old["version"] + 1})
        self.members.on_resource_written(db, row)

    def _wire(self, row: dict, rtype: ResourceType, base_url: str, selection: Selection) -> dict:
        return self._wire_many([row], rtype, base_url, selection)[0]

    def _wire_many(self, rows: list[dict], rtype: ResourceType, base_url: str, selection: Selection) -> list[dict]:
        links = self._links(rtype, [r["id"] for r in rows], base_url, selection)
        return [self._shape(row, rtype, base_url, links) for row in rows]

    def _links(self, rtype: ResourceType, ids: list[str], base_url: str, selection: Selection) -> dict:
        """Group members, or a User's groups when the contract has that attribute: both live in group_members and
        are read only when the response will show them (`excludedAttributes=members` never loads a member).
        No `display`: it is readOnly and unstored, and echoing a name the client never sent breaks round trips."""
        name = LINK_ATTRIBUTE[rtype.name]
        if rtype.core.attribute(name) is None or not selection.wants("", name):
            return {}
        if rtype.name == "Group":
            found = self.store.members(ids)
            return {owner: {name: [{**m, "$ref": self._url(base_url, m["type"], m["value"])} for m in members]}
                    for owner, members in found.items()}
        return {owner: {name: [{"value": g, "$ref": self._url(base_url, "Group", g), "type": "direct"}
                               for g in groups]}
                for owner, groups in self.store.groups_of(ids).items()}

    def _shape(self, row: dict, rtype: ResourceType, base_url: str, links: dict) -> dict:
        data = with_reference_urls(row["data"], rtype, lambda type_name, rid: self._url(base_url, type_name, rid))
        location = f"{base_url}{rtype.endpoint}/{row['id']}"
        resource = {"schemas": [rtype.core.id, *(e.id for e in rtype.extensions if e.id in data)],
                    "id": row["id"], **data}
        resource.update({name: values for name, values in links.get(row["id"], {}).items() if values})
        resource["meta"] = {"resourceType": rtype.name, "created": row["created"],
                            "lastModified": row["last_modified"], "location": location,
                            "version": etag(row["version"])}
        return resource

    def _url(self, base_url: str, type_name: str, resource_id: str) -> str | None:
        rtype = next((rt for rt in self.contract.resource_types if rt.name == type_name), None)
        return f"{base_url}{rtype.endpoint}/{resource_id}" if rtype else None
