"""A hypothesis state machine interleaving user and group creates, PATCHes, PUTs, deletes and membership changes
(with stale ETags among them), checking the whole workspace against a plain model after every step."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from server.app import create_app
from server.storage import Store
from server.tokens import generate_token
from tests.conftest import ScimTestClient, patch_body
from tests.reliability_support import TALLY, load_profile, scale

load_profile()

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
NAMES = st.sampled_from(["ann@x.test", "ANN@x.test", "bob@x.test", "cy@x.test", "dee@x.test", "Zoë@x.test"])
GIVEN_NAMES = st.text(alphabet="abcXYZé0'-", min_size=1, max_size=8)
GROUP_NAMES = st.sampled_from(["Staff", "staff", "Admins", "Sales"])


class WorkspaceModel(RuleBasedStateMachine):
    """users: id -> {userName, active, given (name.givenName), email}; groups: id -> {displayName, members}."""
    users = Bundle("users")
    groups = Bundle("groups")

    def __init__(self):
        super().__init__()
        self._dir = tempfile.TemporaryDirectory(prefix="scimharness-model-")
        db_path = str(Path(self._dir.name) / "scim.db")
        app = create_app(db_path)
        self.client = ScimTestClient(app.test_client(), generate_token(Store(db_path), "model"))
        self.model_users: dict[str, dict] = {}
        self.model_groups: dict[str, dict] = {}
        self.emails = 0

    def teardown(self):
        self._dir.cleanup()

    def _name_taken(self, table: dict, key: str, name: str, except_id: str = "") -> bool:
        return any(v[key].casefold() == name.casefold() for k, v in table.items() if k != except_id)

    def _user_body(self, user: dict) -> dict:
        name = {"givenName": user["given"]} if user["given"] else {}
        return {"schemas": [USER], "userName": user["userName"], "active": user["active"], "name": name,
                "emails": [{"value": user["email"], "type": "work", "primary": True}]}

    # --- users ---------------------------------------------------------------------------------------------

    @rule(target=users, name=NAMES)
    def create_user(self, name):
        self.emails += 1
        user = {"userName": name, "active": True, "given": None, "email": f"e{self.emails}@x.test"}
        response = self.client.post("/Users", json=self._user_body(user))
        if self._name_taken(self.model_users, "userName", name):
            assert response.status_code == 409, response.get_json()
            return "missing"
        assert response.status_code == 201, response.get_json()
        user_id = response.get_json()["id"]
        self.model_users[user_id] = user
        return user_id

    @rule(user_id=users, active=st.booleans(), given=GIVEN_NAMES)
    def patch_user(self, user_id, active, given):
        response = self.client.patch(f"/Users/{user_id}", json=patch_body(
            {"op": "replace", "value": {"active": active}}, {"op": "replace", "path": "name.givenName", "value": given}))
        if user_id not in self.model_users:
            assert response.status_code == 404
            return
        assert response.status_code == 200, response.get_json()
        self.model_users[user_id].update(active=active, given=given)

    @rule(user_id=users, name=NAMES, given=st.none() | GIVEN_NAMES)
    def put_user(self, user_id, name, given):
        current = self.model_users.get(user_id)
        replacement = {**(current or {"active": True, "email": "ghost@x.test"}), "userName": name, "given": given}
        response = self.client.put(f"/Users/{user_id}", json=self._user_body(replacement))
        if current is None:
            assert response.status_code == 404
        elif self._name_taken(self.model_users, "userName", name, user_id):
            assert response.status_code == 409
        else:
            assert response.status_code == 200, response.get_json()
            self.model_users[user_id] = replacement

    @rule(user_id=consumes(users))
    def delete_user(self, user_id):
        response = self.client.delete(f"/Users/{user_id}")
        assert response.status_code == (204 if self.model_users.pop(user_id, None) else 404)
        for group in self.model_groups.values():
            group["members"].discard(user_id)

    @rule(user_id=users)
    def stale_etag_is_refused(self, user_id):
        response = self.client.patch(f"/Users/{user_id}", headers={"If-Match": 'W/"0"'},
                                     json=patch_body({"op": "replace", "path": "active", "value": False}))
        assert response.status_code == (412 if user_id in self.model_users else 404)

    # --- groups --------------------------------------------------------------------------------------------

    @rule(target=groups, name=GROUP_NAMES, members=st.lists(users, max_size=3, unique=True))
    def create_group(self, name, members):
        response = self.client.post("/Groups", json={"schemas": [GROUP], "displayName": name,
                                                     "members": [{"value": m} for m in members]})
        if self._name_taken(self.model_groups, "displayName", name):
            assert response.status_code == 409
            return "missing"
        if any(m not in self.model_users for m in members):
            assert response.status_code == 400
            return "missing"
        assert response.status_code == 201, response.get_json()
        group_id = response.get_json()["id"]
        self.model_groups[group_id] = {"displayName": name, "members": set(members)}
        return group_id

    @rule(group_id=groups, add=st.lists(users, max_size=3, unique=True), remove=st.lists(users, max_size=2, unique=True))
    def patch_members(self, group_id, add, remove):
        operations = [{"op": "remove", "path": f'members[value eq "{m}"]'} for m in remove]
        if add:
            operations.append({"op": "add", "path": "members", "value": [{"value": m} for m in add]})
        if not operations:
            return
        response = self.client.patch(f"/Groups/{group_id}", json=patch_body(*operations))
        if group_id not in self.model_groups:
            assert response.status_code == 404
        elif any(m not in self.model_users for m in add):
            assert response.status_code == 400, response.get_json()
        else:
            assert response.status_code == 200, response.get_json()
            members = self.model_groups[group_id]["members"]
            members.difference_update(remove)
            members.update(add)

    @rule(group_id=groups, name=GROUP_NAMES, members=st.lists(users, max_size=3, unique=True))
    def put_group(self, group_id, name, members):
        response = self.client.put(f"/Groups/{group_id}", json={"schemas": [GROUP], "displayName": name,
                                                                "members": [{"value": m} for m in members]})
        if group_id not in self.model_groups:
            assert response.status_code == 404
        elif self._name_taken(self.model_groups, "displayName", name, group_id):
            assert response.status_code == 409
        elif any(m not in self.model_users for m in members):
            assert response.status_code == 400
        else:
            assert response.status_code == 200, response.get_json()
            self.model_groups[group_id] = {"displayName": name, "members": set(members)}

    @rule(group_id=consumes(groups))
    def delete_group(self, group_id):
        response = self.client.delete(f"/Groups/{group_id}")
        assert response.status_code == (204 if self.model_groups.pop(group_id, None) else 404)

    # --- the whole workspace matches the model after every step ------------------------------------------

    @invariant()
    def server_matches_model(self):
        TALLY["stateful steps checked against the model"] += 1
        users = {u["id"]: u for u in self.client.get("/Users", query_string={"count": 1000}).get_json()["Resources"]}
        assert set(users) == set(self.model_users)
        for user_id, expected in self.model_users.items():
            actual = users[user_id]
            assert (actual["userName"], actual["active"], actual.get("name", {}).get("givenName")) == \
                   (expected["userName"], expected["active"], expected["given"])
            assert [e["value"] for e in actual["emails"]] == [expected["email"]]
        groups = {g["id"]: g for g in self.client.get("/Groups", query_string={"count": 1000}).get_json()["Resources"]}
        assert set(groups) == set(self.model_groups)
        for group_id, expected in self.model_groups.items():
            actual = groups[group_id]
            assert actual["displayName"] == expected["displayName"]
            assert {m["value"] for m in actual.get("members", [])} == expected["members"]


TestWorkspaceModel = WorkspaceModel.TestCase
TestWorkspaceModel.settings = settings(max_examples=scale(10, 600), stateful_step_count=scale(20, 60))
