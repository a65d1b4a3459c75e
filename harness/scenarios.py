"""Built-in directory changes applied between cycles; scenario files with timed events will replace them.
The walking-skeleton scenario: one rename (surname and UPN), one disable, one hard delete, chosen from the seed."""
from __future__ import annotations

import random
from dataclasses import dataclass

from harness.directory import Directory
from harness.sample_org import latin_form


@dataclass(frozen=True)
class AppliedChange:
    kind: str            # rename, disable, hard-delete
    object_id: str
    description: str


def walking_skeleton_changes(directory: Directory, seed: int = 0) -> list[AppliedChange]:
    """Rename, disable and hard-delete three distinct provisioned (in scope, enabled) users, chosen by `seed`."""
    rng = random.Random(f"changes-{seed}")
    candidates = [uid for uid, user in directory.users.items()
                  if directory.in_scope(uid) and user.account_enabled and user.manager_id is not None]
    if len(candidates) < 3:
        candidates = [uid for uid, u in directory.users.items() if directory.in_scope(uid) and u.account_enabled]
    chosen = rng.sample(candidates, min(3, len(candidates)))
    changes: list[AppliedChange] = []
    if chosen:
        uid = chosen[0]
        user = directory.users[uid]
        old_upn = user.user_principal_name
        local, _, domain = old_upn.partition("@")
        given_part = latin_form(user.given_name) or local.split(".")[0]
        new_surname = "Ó Súilleabháin"
        directory.update_user(uid, surname=new_surname, display_name=f"{user.given_name} {new_surname}",
                              user_principal_name=f"{given_part}.OSuilleabhain@{domain}")
        changes.append(AppliedChange("rename", uid, f"renamed {old_upn} → {user.user_principal_name} "
                                                    f"(surname → {new_surname})"))
    if len(chosen) > 1:
        uid = chosen[1]
        directory.disable_user(uid)
        changes.append(AppliedChange("disable", uid, f"disabled {directory.users[uid].user_principal_name}"))
    if len(chosen) > 2:
        uid = chosen[2]
        upn = directory.users[uid].user_principal_name
        directory.hard_delete_user(uid)
        changes.append(AppliedChange("hard-delete", uid, f"hard-deleted {upn}"))
    return changes
