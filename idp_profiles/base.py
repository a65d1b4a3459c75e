"""The one small interface every IdP profile implements, and the records a profile hands back.
configure → test_connection → run_cycle (over directory changes) → handle_response; expected_users feeds the verifier.

A profile owns how its IdP talks SCIM: which requests, in which order, with which bodies, and what it does
with each response (succeed, escrow for a later cycle, quarantine the job). It does not judge the target: the
verifier reads the target itself. Profiles are stateful like an IdP's provisioning job: they keep the links
(directory object id → target id), a watermark into the directory's event log, escrowed objects and quarantine.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal, Mapping

from harness.clock import Clock, SimulatedClock
from harness.directory import Directory
from harness.transport import Exchange, ScimClient

Presence = Literal["present", "inactive", "absent"]


@dataclass
class ProbeResult:
    """Outcome of Test Connection (and of the probe that starts every cycle)."""
    ok: bool
    message: str
    exchange: Exchange | None = None
    error_code: str | None = None
    credentials_rejected: bool = False      # 401/403: the admin's token is wrong
    unreachable: bool = False               # no HTTP response at all


@dataclass(frozen=True)
class Reaction:
    """What the IdP does with one response: nothing (success), or log an error code and escrow/quarantine."""
    error_code: str | None = None
    message: str = ""
    escrow: bool = False                    # retry this object in a later cycle
    quarantine: bool = False                # stop the job: the whole target is considered broken

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass
class ProvisioningFailure:
    object_id: str
    label: str                              # human name of the object (a user's UPN)
    action: str                             # match, create, update, disable, delete, read
    error_code: str
    message: str
    exchange: Exchange


@dataclass
class CycleReport:
    kind: Literal["initial", "incremental"]
    probe: ProbeResult | None = None
    created: list[str] = field(default_factory=list)      # directory object ids
    matched: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[ProvisioningFailure] = field(default_factory=list)
    aborted: str | None = None                            # why the cycle stopped early (quarantine)


@dataclass(frozen=True)
class Cadence:
    """When the scheduler runs a profile's `run_cycle`: every `interval` (Entra's 40-minute cycles), or `delay`
    after each directory change (Okta's and OneLogin's pushes). Exactly one of the two is set."""
    interval: timedelta | None = None
    delay: timedelta | None = None


@dataclass(frozen=True)
class ExpectedUser:
    """Where the IdP should have left one directory user in the target, as this IdP's mappings define it.

    presence: `present` (with `attributes`), `inactive` (if the target has it, active must be false; if the target
    ever acknowledged it, it must still be there), `absent` (must not exist)."""
    object_id: str
    label: str
    presence: Presence
    match_attribute: str                   # SCIM attribute the IdP matches on, e.g. userName
    match_value: str
    attributes: dict[str, Any] = field(default_factory=dict)   # SCIM attribute path -> value


@dataclass(frozen=True)
class ExpectedGroup:
    """Where the IdP should have left one directory group: `present` with `attributes` and the members listed
    (directory object ids; the verifier maps them to the ids the target gave them), or `absent`. `judged`, when
    set, limits the member check to those users (anyone else may or may not be a member): OneLogin, which only
    pushes the users its rules cover, needs that; otherwise the member list must match exactly."""
    object_id: str
    label: str
    presence: Literal["present", "absent"]
    match_attribute: str                   # usually displayName
    match_value: str
    attributes: dict[str, Any] = field(default_factory=dict)
    member_ids: frozenset[str] = frozenset()
    judged: frozenset[str] | None = None


class IdpProfile(abc.ABC):
    """Base class of the IdP simulators. Subclasses set `name`, `title`, `cadence`, `default_settings` and implement
    the four abstract methods; `configure` builds one bound to a target.

    `settings` are what the admin configures in the IdP's console beyond URL and token (Entra's aadOptscim062020
    flag and matching attributes, Okta's app flavour and auth mode, OneLogin's template...): a flat mapping whose
    keys must appear in `default_settings`, so a typo in a scenario file is an error, not a silent default."""

    name: ClassVar[str]
    title: ClassVar[str]
    default_settings: ClassVar[dict[str, Any]] = {}
    client_options: ClassVar[dict[str, Any]] = {}          # e.g. {"user_agent": None}
    cadence: ClassVar[Cadence]
    scenario_actions: ClassVar[frozenset[str]] = frozenset()   # profile-specific scenario events, e.g. push_now

    def __init__(self, directory: Directory, client: ScimClient, settings: Mapping[str, Any] | None = None,
                 clock: Clock | None = None) -> None:
        self.directory = directory
        self.client = client
        self.clock = clock or SimulatedClock()  # waits (Retry-After, escrow back-off) go through it
        unknown = set(settings or {}) - set(self.default_settings)
        if unknown:
            raise ValueError(f"{self.title} has no setting(s) {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(sorted(self.default_settings)) or 'none'}")
        self.settings = {**self.default_settings, **(settings or {})}
        self.cycles: list[CycleReport] = []

    @classmethod
    def configure(cls, directory: Directory, base_url: str, token: str | None,
                  settings: Mapping[str, Any] | None = None, clock: Clock | None = None,
                  **client_kwargs: Any) -> "IdpProfile":
        """A profile bound to a target, as an admin configures the app (base URL, token, settings)."""
        client = ScimClient(base_url, token, clock=clock, **{**cls.client_options, **client_kwargs})
        return cls(directory, client, settings, clock)

    @property
    def trace(self) -> list[Exchange]:
        return self.client.trace

    def apply_scenario_action(self, action: str, params: Mapping[str, Any]) -> str:
        """Carry out one of `scenario_actions` (an admin clicking something in this IdP's console); returns
        what happened, for the report."""
        raise NotImplementedError(f"{self.title} declares no scenario action {action!r}")

    @abc.abstractmethod
    def test_connection(self) -> ProbeResult:
        """The IdP's "Test Connection" button. Raises nothing for HTTP errors; reports them in the result."""

    @abc.abstractmethod
    def run_cycle(self) -> CycleReport:
        """One provisioning cycle (or push batch): initial the first time, then over the directory's changes
        since the previous cycle, plus escrowed objects. Appends to and returns `self.cycles[-1]`.
        Raises `harness.transport.TargetUnreachable` when the target stops answering."""

    @abc.abstractmethod
    def handle_response(self, exchange: Exchange, action: str) -> Reaction:
        """Classify a response the way this IdP does (its error codes, what it retries, what quarantines)."""

    # Every profile also keeps `links`: directory user id -> the id the target gave it (Entra's cached id), read by
    # the simulation to check the workspace's promises for the users it provisioned.
    links: dict[str, str]

    def own_view(self) -> tuple[list[str], Any]:
        """What this IdP's admin console shows of the run (Entra's job status and provisioning log, Okta's and
        OneLogin's per-user task states): console lines and the same as JSON data for the run report."""
        return [], None

    def expected_groups(self) -> list[ExpectedGroup]:
        """The groups this IdP should have left in the target; none for a profile that does not push groups."""
        return []

    @abc.abstractmethod
    def expected_users(self) -> list[ExpectedUser]:
        """The end state the directory implies for every user this IdP has seen, under this IdP's mappings."""

