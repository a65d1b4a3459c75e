"""What OneLogin knows about a user when it fills the SCIM JSON Template: user fields ({$user.firstname}), custom
user fields ({$user.custom_fields.x}) and the app's Parameters ({$parameters.scimusername}), macros over fields."""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from harness.directory import Directory, DirectoryUser

FieldSource = Callable[[DirectoryUser, Directory], Any]


def _manager(attribute: str) -> FieldSource:
    def read(user: DirectoryUser, directory: Directory) -> Any:
        manager = directory.user(user.manager_id) if user.manager_id else None
        return getattr(manager, attribute) if manager else None
    return read


def _attribute(attribute: str) -> FieldSource:
    return lambda user, directory: getattr(user, attribute)


def _not_in_directory(user: DirectoryUser, directory: Directory) -> None:
    return None


# OneLogin user fields, filled from the directory (whose names follow Entra's). Fields the directory does not hold
# render empty, as OneLogin renders an empty field.
USER_FIELDS: dict[str, FieldSource] = {
    "id": _attribute("object_id"),
    "username": _attribute("user_principal_name"),
    "email": _attribute("mail"),
    "firstname": _attribute("given_name"),
    "lastname": _attribute("surname"),
    "display_name": lambda u, d: " ".join(p for p in (u.given_name, u.surname) if p),   # first + last [OL-SCHEMA]
    "title": _attribute("job_title"),
    "department": _attribute("department"),
    "manager_id": _attribute("manager_id"),
    "manager_firstname": _manager("given_name"),
    "manager_lastname": _manager("surname"),
    "active": lambda u, d: "true" if u.account_enabled else "false",   # text: in quotes it stays a string
    **{name: _not_in_directory for name in ("phone", "company", "city", "state", "country")},
}
MACRO_FIELD = re.compile(r"\{(\w+)\}")
# Values used for the up-front check: awkward on purpose, so a placeholder outside a JSON string is caught.
PROBE_TEXT = "O'Brien \"Q\" \\ Zoë"


class UserVocabulary:
    """The placeholders one app configuration understands, and their values for a user."""

    def __init__(self, parameters: Mapping[str, str], custom_fields: Mapping[str, str]) -> None:
        problems = [f"parameter {name!r} uses unknown field {{{field}}}"
                    for name, macro in parameters.items() for field in MACRO_FIELD.findall(str(macro))
                    if field not in USER_FIELDS]
        problems += [f"custom field {name!r} reads {attribute!r}, which the directory does not hold"
                     for name, attribute in custom_fields.items() if attribute not in DirectoryUser.__dataclass_fields__]
        if problems:
            raise ValueError("OneLogin app configuration is invalid: " + "; ".join(problems))
        self.parameters = dict(parameters)
        self.custom_fields = dict(custom_fields)

    def names(self) -> list[str]:
        return ([f"user.{f}" for f in USER_FIELDS] + [f"user.custom_fields.{f}" for f in self.custom_fields]
                + [f"parameters.{p}" for p in self.parameters])

    def explain_unknown(self, name: str) -> str | None:
        """None for a placeholder this configuration fills; otherwise why not."""
        if name in self.names():
            return None
        if name.startswith("parameters."):
            return (f"no parameter {name.partition('.')[2]!r} on the Parameters tab "
                    f"(defined: {', '.join(sorted(self.parameters)) or 'none'})")
        if name.startswith("user.custom_fields."):
            return f"no custom user field {name.rsplit('.', 1)[1]!r}"
        if name.startswith("user."):
            return f"OneLogin has no user field {name.partition('.')[2]!r}"
        return "placeholders start with $user. or $parameters."

    def probe_values(self) -> dict[str, str]:
        return {name: "true" if name == "user.active" else PROBE_TEXT for name in self.names()}

    def values(self, user: DirectoryUser, directory: Directory) -> dict[str, str]:
        fields = {name: _text(source(user, directory)) for name, source in USER_FIELDS.items()}
        values = {f"user.{name}": value for name, value in fields.items()}
        values.update({f"user.custom_fields.{name}": _text(getattr(user, attribute))
                       for name, attribute in self.custom_fields.items()})
        values.update({f"parameters.{name}": MACRO_FIELD.sub(lambda m: fields[m.group(1)], str(macro))
                       for name, macro in self.parameters.items()})
        return values


def _text(value: Any) -> str:
    return "" if value is None else str(value)
