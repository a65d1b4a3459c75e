"""IdP simulators, one module per IdP behind the interface of `idp_profiles.base`.
`PROFILES` maps a CLI name to its class; a new IdP is a new module plus one line here."""
from __future__ import annotations

import importlib

PROFILES = {
    "entra": "idp_profiles.entra:EntraProfile",
    "onelogin": "idp_profiles.onelogin:OneLoginProfile",
    "okta": "idp_profiles.okta:OktaProfile",
}


def load_profile(name: str):
    """The profile class registered under `name` (e.g. "entra")."""
    module_name, _, class_name = PROFILES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
