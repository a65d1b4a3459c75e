"""Okta's SCIM provisioning (app integrations built with the wizard, AIW, and OIN catalogue templates), Group Push
included; `OktaProfile` is the entry point, the modules below it split wire habits, bodies, the admin's view and groups."""
from idp_profiles.okta.profile import OktaProfile

__all__ = ["OktaProfile"]
