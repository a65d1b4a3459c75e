"""OneLogin's SCIM provisioner: profile.py (configuration and requests), template.py (SCIM JSON Template), fields.py
(user fields and Parameters), groups.py (roles → groups rules and group bodies), templates/ (the shipped templates)."""
from idp_profiles.onelogin.profile import AdminViewRow, OneLoginProfile

__all__ = ["AdminViewRow", "OneLoginProfile"]
