"""Okta's SCIM provisioning (wizard-built AIW apps and OIN catalogue templates), Group Push included.
`OktaProfile` is the entry point; client, bodies, admin_view and group_push hold wire habits, bodies, views, groups."""
from idp_profiles.okta.profile import OktaProfile

__all__ = ["OktaProfile"]
