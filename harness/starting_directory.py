"""The directory a scenario starts from: the generated sample org, explicit users and groups from the scenario
file, or both (explicit ones added after the sample org). Deterministic: object ids derive from the seed."""
from __future__ import annotations

import uuid

from harness.directory import Directory, DirectoryGroup, DirectoryUser
from harness.sample_org import generate_org
from harness.scenario_files import DirectorySpec, ScenarioError

_NAMESPACE = uuid.UUID("6b1f8a52-3c1e-4a52-9f0e-5c1d2a7e4b10")


def _lookup(table: dict[str, str], name: str, key: str, source: str) -> str:
    if name.lower() not in table:
        raise ScenarioError(source, None, key, f"{name!r} is not a user or group of the starting directory")
    return table[name.lower()]


def build_directory(spec: DirectorySpec, source: str = "scenario") -> Directory:
    directory = generate_org(seed=spec.seed, users=spec.users, groups=spec.groups) if spec.users else Directory()
    by_upn: dict[str, str] = {u.user_principal_name.lower(): i for i, u in directory.users.items()}
    for row in spec.explicit_users:
        upn = row["upn"]
        local = upn.partition("@")[0]
        given, family = row.get("given_name", local.split(".")[0]), row.get("family_name", "")
        user = directory.add_user(DirectoryUser(
            object_id=str(uuid.uuid5(_NAMESPACE, f"{spec.seed}:user:{upn.lower()}")), user_principal_name=upn,
            mail_nickname=local, given_name=given, surname=family,
            display_name=row.get("display_name", f"{given} {family}".strip()), mail=row.get("email"),
            job_title=row.get("job_title"), department=row.get("department"),
            employee_id=row.get("employee_id")))
        by_upn[upn.lower()] = user.object_id
        if row.get("assigned", True):
            directory.assign(user.object_id)
        if not row.get("enabled", True):
            directory.disable_user(user.object_id)
    for row in spec.explicit_users:             # managers may be listed after their reports
        if "manager" in row:
            directory.update_user(by_upn[row["upn"].lower()],
                                  manager_id=_lookup(by_upn, row["manager"], "directory.users.manager", source))
    for row in spec.explicit_groups:
        group = directory.add_group(DirectoryGroup(
            object_id=str(uuid.uuid5(_NAMESPACE, f"{spec.seed}:group:{row['name']}")), display_name=row["name"],
            mail_nickname=row["name"].lower().replace(" ", "-"), description=row.get("description")))
        groups = {g.display_name.lower(): g.object_id for g in directory.groups.values()}
        for member in row.get("members", []):
            directory.add_member(group.object_id,
                                 _lookup({**groups, **by_upn}, member, "directory.groups.members", source))
        if row.get("assigned", True):
            directory.assign(group.object_id)
    return directory
