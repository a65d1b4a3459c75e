"""`scimharness docs check`: runs the marked steps of a setup guide (`<!-- step: ACTION key=value -->`) in order
against a fresh embedded workspace, the IdP simulator playing the admin, and reports each step PASS or FAIL with why."""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from harness.clock import SIMULATION_EPOCH, SimulatedClock
from harness.directory import Directory, DirectoryUser
from harness.scenario_files import DirectorySpec
from harness.starting_directory import build_directory
from harness.transport import ScimClient
from harness.verifier import Verifier, verify_groups
from idp_profiles import PROFILES, load_profile
from idp_profiles.base import IdpProfile

GUIDES = Path(__file__).resolve().parent.parent / "docs" / "setup"
WORKSPACE = "acme"
_GUIDE = re.compile(r"^<!--\s*docs-check:\s*(.*?)-->", re.S | re.M)
_STEP = re.compile(r"^<!--\s*step:\s*(.*?)-->", re.S | re.M)   # at the start of a line: prose may quote one


class StepFailed(Exception):
    """A step whose outcome is not what the guide promises; the message says why."""


@dataclass(frozen=True)
class Step:
    number: int
    action: str
    params: dict[str, Any]
    line: int

    @property
    def title(self) -> str:
        extra = " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in self.params.items())
        return f"step {self.number} ({self.action}{' ' + extra if extra else ''}, line {self.line})"


@dataclass
class Guide:
    path: str
    idp: str
    steps: list[Step]


def _value(text: str) -> Any:
    """`true`, numbers and JSON lists/objects as JSON; anything else is a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(text: str, where: str) -> tuple[list[str], dict[str, Any]]:
    words, params = [], {}
    for word in shlex.split(text):
        key, eq, value = word.partition("=")
        if eq:
            params[key] = _value(value)
        else:
            words.append(word)
    return words, params


def parse_guide(path: str | Path) -> Guide:
    """The guide's IdP (`<!-- docs-check: idp=okta -->`) and its steps, in document order."""
    text = Path(path).read_text(encoding="utf-8")
    header = _GUIDE.search(text)
    if not header:
        raise ValueError(f"{path}: no `<!-- docs-check: idp=NAME -->` line says which IdP the guide is for")
    idp = _pairs(header.group(1), str(path))[1].get("idp")
    if idp not in PROFILES:
        raise ValueError(f"{path}: docs-check idp must be one of {', '.join(PROFILES)}, not {idp!r}")
    steps = []
    for match in _STEP.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        words, params = _pairs(match.group(1), f"{path}:{line}")
        if len(words) != 1 or words[0] not in ACTIONS:
            raise ValueError(f"{path}:{line}: a step is `<!-- step: ACTION key=value … -->` with ACTION one of "
                             f"{', '.join(ACTIONS)}; got {match.group(1).strip()!r}")
        steps.append(Step(len(steps) + 1, words[0], params, line))
    if not steps:
        raise ValueError(f"{path}: no `<!-- step: … -->` markers")
    return Guide(str(path), idp, steps)


@dataclass
class AdminWorld:
    """The simulated world a guide's admin acts in: the workspace's SCIM page (the token it showed once), the IdP's
    app configuration (base URL, pasted token, settings) and, once provisioning is on, the IdP's running job."""
    idp: str
    server: Any                                   # EmbeddedServer
    directory: Directory
    clock: SimulatedClock
    token: str | None = None                      # the service provider's current token (what the admin copied)
    base_url: str | None = None                   # what the IdP's URL field holds
    pasted: str | None = None                     # what the IdP's token field holds
    settings: dict[str, Any] = field(default_factory=dict)
    job: IdpProfile | None = None                 # provisioning is on
    hires: int = 0

    # -- the admin's actions ------------------------------------------------------------------------------------
    def generate_token(self, step: Step) -> str:
        from server.storage import Store
        from server.tokens import generate_token
        old, self.token = self.token, generate_token(Store(self.server.db_path), WORKSPACE)
        self._check_token_works()
        if old and self._status(old) != 401:
            raise StepFailed("the previous token still works after generating a new one")
        if old and self.pasted is not None:
            return ("a new token exists and the old one is refused (401); the IdP still holds the old one until "
                    "a later step pastes the new one")
        return "a token exists and authenticates (GET /Users answers 200)"

    def set_base_url(self, step: Step) -> str:
        self.base_url = self.server.base_url + step.params.get("suffix", "")
        self._reconfigure()
        return f"the IdP's URL field holds the Base URL {self.base_url}"

    def paste_token(self, step: Step) -> str:
        if self.token is None:
            raise StepFailed("there is no token to paste: no earlier step generates one")
        form = step.params.get("form", "token")
        if form not in ("token", "bearer_token"):
            raise StepFailed(f"form must be token or bearer_token, not {form!r}")
        if self.idp == "okta":                    # Okta models the field's form itself
            self.settings["token_field"], self.pasted = form, self.token
        else:
            self.pasted = self.token if form == "token" else f"Bearer {self.token}"
        self._reconfigure()
        return f"the IdP's token field holds {'the token' if form == 'token' else '“Bearer <token>”'}"

    def set(self, step: Step) -> str:
        if not step.params:
            raise StepFailed("`set` needs at least one SETTING=VALUE")
        self.settings.update(step.params)
        self._profile()                           # an unknown setting or value fails here
        if self.job is not None:
            self.job.settings.update(step.params)
        return "the IdP's settings: " + ", ".join(f"{k}={v!r}" for k, v in step.params.items())

    def test_connection(self, step: Step) -> str:
        self._require_configuration("Test Connection")
        probe = self._profile().test_connection()
        if not probe.ok:
            raise StepFailed(f"Test Connection failed: {probe.message}{self._auth_hint(probe.exchange)}")
        return f"Test Connection passes: {probe.message}"

    def provisioning_on(self, step: Step) -> str:
        self._require_configuration("turning provisioning on")
        self.job = self._profile()
        users = self._cycle(self.job)
        groups = self._check_groups() if step.params.get("groups") else ""
        return f"the first cycle provisioned {users} users and the target holds them{groups}"

    def assign_groups(self, step: Step) -> str:
        for group_id in self.directory.groups:
            self.directory.assign(group_id)
        return f"the app is assigned all {len(self.directory.groups)} directory groups"

    def new_hire(self, step: Step) -> str:
        if self.job is None:
            raise StepFailed("provisioning is not on: no earlier step turns it on")
        self.hires += 1
        user = DirectoryUser(str(uuid.uuid4()), f"new.hire{self.hires}@{self.directory.tenant_domain}",
                             f"new.hire{self.hires}", "New", f"Hire{self.hires}", f"New Hire{self.hires}",
                             mail=f"new.hire{self.hires}@contoso.example", department="Engineering")
        self.directory.add_user(user)
        self.directory.assign(user.object_id)
        self._cycle(self.job)
        return f"the IdP provisioned {user.user_principal_name} and the target holds it"

    # -- helpers ------------------------------------------------------------------------------------------------
    def _require_configuration(self, what: str) -> None:
        if self.token is None:
            raise StepFailed(f"{what} needs a token, and none exists yet: no earlier step generates one")
        if self.pasted is None:
            raise StepFailed(f"{what} needs the token in the IdP: no earlier step pastes it")
        if self.base_url is None:
            raise StepFailed(f"{what} needs the IdP's URL field set: no earlier step sets the Base URL")

    def _reconfigure(self) -> None:
        """The admin edits a running app: the job keeps its state and sends with the new URL/token from now on."""
        if self.job is not None:
            replacement = self._profile().client
            self.job.client.base_url, self.job.client._token = replacement.base_url, replacement._token

    def _profile(self) -> IdpProfile:
        try:
            return load_profile(self.idp).configure(self.directory, self.base_url or "", self.pasted,
                                                    self.settings, self.clock, timeout=10.0)
        except ValueError as exc:
            raise StepFailed(f"the IdP refuses the configuration: {exc}") from exc

    def _cycle(self, job: IdpProfile) -> int:
        report = job.run_cycle()
        if report.aborted:
            raise StepFailed(f"the {report.kind} cycle stopped: {report.aborted}{self._auth_hint(job.trace[-1])}")
        if report.failures:
            failure = report.failures[0]
            raise StepFailed(f"{len(report.failures)} object(s) failed; first: {failure.label}: {failure.action}: "
                             f"{failure.error_code}: {failure.message}{self._auth_hint(failure.exchange)}")
        findings = self._verifier().verify_users(job.expected_users(), job.trace).findings
        if findings:
            raise StepFailed(f"the target does not hold what the IdP sent: {findings[0].label}: {findings[0].message}")
        return len(report.created) + len(report.matched)

    def _check_groups(self) -> str:
        """The guide promises groups: the IdP must mean to push some, and the target must hold them as meant."""
        expected = self.job.expected_groups()
        client = self._verifier().client
        held = client.get("/Groups", params={"count": "0"}, purpose="verify").response_body or {}
        if not expected or not held.get("totalResults"):
            warnings = getattr(self.job, "configuration_warnings", lambda: [])()
            raise StepFailed(f"the guide promises groups, but no group reached the target (GET /Groups: "
                             f"totalResults {held.get('totalResults')})"
                             + (f"; {self.job.title} says: {'; '.join(warnings)}" if warnings else ""))
        findings = verify_groups(client, expected, self.job.trace).findings
        if findings:
            raise StepFailed(f"groups in the target are wrong: {findings[0].label}: {findings[0].message}")
        return f", and its {len(expected)} groups with their members"

    def _verifier(self) -> Verifier:
        return Verifier(ScimClient(self.server.base_url, self.token, timeout=10.0))

    def _status(self, token: str) -> int | None:
        return ScimClient(self.server.base_url, token, timeout=10.0).get("/Users", params={"count": "0"}).status

    def _check_token_works(self) -> None:
        status = self._status(self.token)
        if status != 200:
            raise StepFailed(f"the new token is refused (GET /Users answered {status})")

    def _auth_hint(self, exchange) -> str:
        """Why a 401 happened, in the admin's terms: which token the IdP holds and in what form it sends it."""
        if exchange is None or exchange.status != 401:
            return ""
        if self.pasted != self.token and self.pasted not in (f"Bearer {self.token}",):
            return " — the IdP still holds an older token: the token was regenerated after it was pasted"
        header = self._profile().client.authorization() or ""
        form = re.sub(r"scimh_\S+", "<token>", header)
        return f" — the IdP sent `Authorization: {form}`; the server expects `Bearer <token>`"


ACTIONS: dict[str, Callable[[AdminWorld, Step], str]] = {
    "generate-token": AdminWorld.generate_token,
    "set-base-url": AdminWorld.set_base_url,
    "paste-token": AdminWorld.paste_token,
    "set": AdminWorld.set,
    "test-connection": AdminWorld.test_connection,
    "assign-groups": AdminWorld.assign_groups,
    "provisioning-on": AdminWorld.provisioning_on,
    "new-hire": AdminWorld.new_hire,
}


@dataclass
class StepResult:
    step: Step
    passed: bool
    detail: str


def check_guide(guide: Guide, users: int = 5) -> list[StepResult]:
    """Run a guide's steps in order against a fresh embedded server; stop at the first failure."""
    from server.embedded import EmbeddedServer         # a fresh workspace per guide, with no token yet
    results = []
    with EmbeddedServer(workspace="docs-check-operator") as server:
        world = AdminWorld(guide.idp, server, build_directory(DirectorySpec(users=users, groups=2, seed=1)),
                           SimulatedClock(SIMULATION_EPOCH))
        for step in guide.steps:
            try:
                results.append(StepResult(step, True, ACTIONS[step.action](world, step)))
            except StepFailed as exc:
                results.append(StepResult(step, False, str(exc)))
                break
    return results


def handle(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    paths = args.files or sorted(str(p) for p in GUIDES.glob("*.md"))
    failed = False
    for path in paths:
        try:
            guide = parse_guide(path)
        except (OSError, ValueError) as exc:
            print(f"{path}: FAIL: {exc}", file=out)
            failed = True
            continue
        print(f"{path} ({guide.idp})", file=out)
        results = check_guide(guide, args.users)
        for result in results:
            print(f"  {'PASS' if result.passed else 'FAIL'}  {result.step.title}: {result.detail}", file=out)
        for step in guide.steps[len(results):]:
            print(f"  ----  {step.title}: not run", file=out)
        failed |= not all(r.passed for r in results)
    print("docs check: " + ("FAILED" if failed else "all steps passed"), file=out)
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    docs = subparsers.add_parser("docs", help="check the IdP setup guides by running them",
                                 description="Documentation tools.")
    commands = docs.add_subparsers(dest="docs_command", metavar="SUBCOMMAND", required=True)
    check = commands.add_parser(
        "check", help="run every marked step of setup guides against a fresh embedded workspace",
        description="Run the `<!-- step: ACTION … -->` markers of each guide in order against a fresh embedded "
                    "workspace, the IdP simulator playing the admin (generate the token, set the Base URL, paste "
                    "the token, Test Connection, turn provisioning on, …), and print PASS/FAIL per step with why. "
                    f"Actions: {', '.join(ACTIONS)}. Exit status 1 if any step fails.")
    check.add_argument("files", nargs="*", metavar="FILE",
                       help="guides to check (default: every docs/setup/*.md)")
    check.add_argument("--users", type=int, default=5, metavar="N",
                       help="users in the sample organisation each guide provisions (default 5)")
    check.set_defaults(handler=handle)
