"""Microsoft Entra ID: the provisioning job (`profile`), its request shapes for both PATCH generations (`shapes`),
its settings, reactions (escrow, quarantine) and provisioning log. `EntraProfile` is the class PROFILES names."""
from idp_profiles.entra.profile import EntraProfile

__all__ = ["EntraProfile"]
