"""A realistic sample organisation, generated deterministically from a seed: the directory a simulation starts from.
Names from many cultures and scripts, mixed-case UPNs, plus-addressed mail, departments, a manager tree, nested groups."""
from __future__ import annotations

import random
import unicodedata
import uuid

from harness.directory import Directory, DirectoryGroup, DirectoryUser

DEFAULT_USERS = 200
DEFAULT_GROUPS = 15

# (name as written, Latin form used for UPNs). Latin-script names are folded automatically.
_NAMES: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], str | None]] = {
    # culture: (given names, family names, separator when the family name is written first in displayName)
    "irish-english": (
        [("Zoë", ""), ("Siobhán", ""), ("Seán", ""), ("Aoife", ""), ("Ciarán", ""), ("Niamh", ""),
         ("Oliver", ""), ("Emily", ""), ("Mary-Kate", ""), ("Liam", "")],
        [("O'Brien", ""), ("O'Connor", ""), ("Smith-Jones", ""), ("McAllister", ""), ("D'Arcy", ""),
         ("Walsh", ""), ("Byrne-Kelly", ""), ("Fitzgerald", ""), ("Ní Bhriain", "")], None),
    "iberian": (
        [("José", ""), ("María", ""), ("Lucía", ""), ("Joaquín", ""), ("Sofía", ""), ("João", ""),
         ("Inês", ""), ("Ana-Luísa", "")],
        [("García", ""), ("Núñez", ""), ("Muñoz-Ortega", ""), ("de la Cruz", ""), ("Peña", ""),
         ("Gonçalves", ""), ("Conceição", "")], None),
    "european": (
        [("Chloé", ""), ("François", ""), ("Jürgen", ""), ("Björn", ""), ("Åsa", ""), ("Søren", ""),
         ("Renée", ""), ("Hélène", ""), ("Zoë", ""), ("Łukasz", "")],
        [("Müller", ""), ("Lefèvre", ""), ("Østergaard", ""), ("Ångström", ""), ("Dubois-Martin", ""),
         ("Schäfer", ""), ("L'Écuyer", ""), ("Großmann", ""), ("Wiśniewski", "")], None),
    "vietnamese": (
        [("Thảo", ""), ("Đức", ""), ("Minh", ""), ("Hương", "")],
        [("Nguyễn", ""), ("Trần", ""), ("Phạm", "")], " "),
    "chinese": (
        [("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("秀英", "Xiuying"), ("明", "Ming"), ("静", "Jing")],
        [("李", "Li"), ("王", "Wang"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen")], ""),
    "japanese": (
        [("さくら", "Sakura"), ("健太", "Kenta"), ("美咲", "Misaki"), ("翔", "Sho")],
        [("佐藤", "Sato"), ("鈴木", "Suzuki"), ("高橋", "Takahashi"), ("渡辺", "Watanabe")], ""),
    "russian": (
        [("Пётр", "Pyotr"), ("Анна", "Anna"), ("Дмитрий", "Dmitry"), ("Ольга", "Olga"), ("Наталья", "Natalya")],
        [("Иванов", "Ivanov"), ("Смирнова", "Smirnova"), ("Кузнецов", "Kuznetsov"),
         ("Соколова-Петрова", "Sokolova-Petrova")], None),
    "arabic": (
        [("محمد", "Mohammed"), ("فاطمة", "Fatima"), ("أحمد", "Ahmed"), ("ليلى", "Layla"), ("يوسف", "Youssef")],
        [("العلي", "Al-Ali"), ("حداد", "Haddad"), ("الشامي", "Al-Shami"), ("منصور", "Mansour")], None),
    "greek": (
        [("Ελένη", "Eleni"), ("Γιώργος", "Giorgos"), ("Δημήτρης", "Dimitris"), ("Μαρία", "Maria")],
        [("Παπαδοπούλου", "Papadopoulou"), ("Οικονόμου", "Oikonomou"), ("Γεωργίου", "Georgiou")], None),
    "south-asian": (
        [("Priya", ""), ("Arjun", ""), ("Ananya", ""), ("Rohan", ""), ("Lakshmi", "")],
        [("Patel", ""), ("Iyer", ""), ("Reddy-Sharma", ""), ("Banerjee", "")], None),
}
# How often each culture is drawn (weights): the org is mostly Latin-script, but every script shows up.
_CULTURE_WEIGHTS = {"irish-english": 5, "iberian": 3, "european": 4, "vietnamese": 1, "chinese": 2,
                    "japanese": 1, "russian": 2, "arabic": 2, "greek": 1, "south-asian": 2}

# department -> (job titles for individual contributors, teams that get their own nested group)
DEPARTMENTS: dict[str, tuple[list[str], list[str]]] = {
    "Engineering": (["Software Engineer", "Senior Software Engineer", "Site Reliability Engineer", "QA Engineer"],
                    ["Platform", "Mobile", "Data"]),
    "Sales": (["Account Executive", "Sales Development Representative", "Solutions Engineer"], ["EMEA"]),
    "Marketing": (["Product Marketing Manager", "Content Strategist", "Growth Analyst"], []),
    "Finance": (["Financial Analyst", "Accountant", "Payroll Specialist"], []),
    "Human Resources": (["HR Business Partner", "Recruiter", "People Operations Specialist"], []),
    "Legal": (["Legal Counsel", "Paralegal"], []),
    "Customer Success": (["Customer Success Manager", "Support Engineer"], []),
    "Research & Development": (["Research Scientist", "Machine Learning Engineer"], []),
}

_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "đ": "d", "Đ": "D",
                       "ł": "l", "Ł": "L", "œ": "oe", "Œ": "OE"})


def latin_form(name: str) -> str:
    """ASCII form of a Latin-script name for a UPN: accents folded, apostrophes and spaces dropped, hyphens kept."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_FOLD))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in ascii_only if c.isascii() and (c.isalnum() or c == "-"))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _draw_name(rng: random.Random) -> tuple[str, str, str, str, str | None]:
    culture = rng.choices(list(_CULTURE_WEIGHTS), weights=list(_CULTURE_WEIGHTS.values()))[0]
    givens, families, family_first = _NAMES[culture]
    given, given_latin = rng.choice(givens)
    family, family_latin = rng.choice(families)
    return given, family, given_latin or latin_form(given), family_latin or latin_form(family), family_first


class PersonFactory:
    """Draws realistic people: a name from a weighted culture, a unique UPN in one of the usual styles, and a
    mailbox that is sometimes absent, plus-addressed or mixed case. Used for the sample org and for later hires."""

    def __init__(self, rng: random.Random, domain: str, mail_domain: str, taken: set[str] | None = None) -> None:
        self.rng = rng
        self.domain = domain
        self.mail_domain = mail_domain
        self.taken_locals = taken if taken is not None else set()   # lower-cased UPN local parts in use

    def person(self, department: str | None, title: str | None, manager_id: str | None,
               employee_id: str | None) -> DirectoryUser:
        rng, mail_domain = self.rng, self.mail_domain
        given, family, given_latin, family_latin, family_first = _draw_name(rng)
        style = rng.random()
        if style < 0.8:
            local = f"{given_latin}.{family_latin}"          # Zoe.OBrien
        elif style < 0.9:
            local = f"{given_latin[0]}{family_latin}"        # ZOBrien
        else:
            local = f"{given_latin}{family_latin}"           # ZoeOBrien
        base, n = local, 2
        while local.lower() in self.taken_locals:            # UPNs are unique regardless of case
            local, n = f"{base}{n}", n + 1
        self.taken_locals.add(local.lower())
        upn_domain = self.domain if rng.random() < 0.7 else mail_domain.capitalize()
        roll = rng.random()
        if roll < 0.03:
            mail = None                                      # no mailbox: emails are simply not sent
        elif roll < 0.15:
            mail = f"{local.lower()}+{rng.choice(['scim', 'eu', 'sales', 'it'])}@{mail_domain}"
        elif roll < 0.55:
            mail = f"{local}@{mail_domain}"                  # mixed case, as Exchange keeps it
        else:
            mail = f"{local.lower()}@{mail_domain}"
        display = f"{family}{family_first}{given}" if family_first is not None else f"{given} {family}"
        return DirectoryUser(
            object_id=_guid(rng), user_principal_name=f"{local}@{upn_domain}", mail_nickname=local,
            given_name=given, surname=family, display_name=display, mail=mail, job_title=title,
            department=department, employee_id=employee_id, manager_id=manager_id)


def generate_org(seed: int = 0, users: int = DEFAULT_USERS, groups: int = DEFAULT_GROUPS,
                 domain: str = "Contoso.onmicrosoft.com", mail_domain: str = "contoso.com") -> Directory:
    """Build the sample organisation. Same seed and sizes give the same directory, GUIDs included."""
    if users < 1:
        raise ValueError("users must be at least 1")
    rng = random.Random(seed)
    directory = Directory(tenant_domain=domain)
    employee_numbers = rng.sample(range(10000, 99999), users)
    departments = list(DEPARTMENTS)
    people_factory = PersonFactory(rng, domain, mail_domain)

    def make_user(index: int, department: str, title: str, manager_id: str | None) -> DirectoryUser:
        return people_factory.person(department, title, manager_id, str(employee_numbers[index]))

    people: list[DirectoryUser] = []
    ceo = make_user(0, "Executive", "Chief Executive Officer", None)
    people.append(ceo)
    heads: dict[str, DirectoryUser] = {}
    for department in departments[: users - 1]:
        heads[department] = make_user(len(people), department, f"Head of {department}", ceo.object_id)
        people.append(heads[department])
    leads: dict[str, list[DirectoryUser]] = {d: [] for d in heads}
    team_of: dict[str, str] = {}                             # object_id -> team name
    while len(people) < users:
        department = rng.choice(list(heads))
        titles, teams = DEPARTMENTS[department]
        if len(leads[department]) < max(1, len(teams)) and rng.random() < 0.5:
            person = make_user(len(people), department, f"{department} Team Lead", heads[department].object_id)
            leads[department].append(person)
        else:
            manager = rng.choice([heads[department], *leads[department]])
            person = make_user(len(people), department, rng.choice(titles), manager.object_id)
        if teams:
            team_of[person.object_id] = rng.choice(teams)
        people.append(person)

    for person in people:
        directory.add_user(person)
    # Most users are assigned to the app; a few contractors are not, and a few accounts start disabled:
    # Entra never provisions either.
    others = [p.object_id for p in people[1:]]
    unassigned = set(rng.sample(others, min(len(others), users // 60)))
    for person in people:
        if person.object_id not in unassigned:
            directory.assign(person.object_id)
    assigned_others = [i for i in others if i not in unassigned]
    for object_id in rng.sample(assigned_others, min(len(assigned_others), users // 50)):
        directory.disable_user(object_id)

    _build_groups(directory, rng, people, heads, leads, team_of, groups)
    return directory


def _build_groups(directory: Directory, rng: random.Random, people: list[DirectoryUser],
                  heads: dict[str, DirectoryUser], leads: dict[str, list[DirectoryUser]],
                  team_of: dict[str, str], limit: int) -> None:
    """All Employees ⊃ department groups ⊃ team groups (nested), plus Managers and an office group."""
    planned: list[tuple[str, str, str]] = [("All Employees", "AllEmployees", "Everyone, via department groups")]
    for department in heads:
        planned.append((f"Dept – {department}", f"dept-{latin_form(department).lower()}", f"{department} department"))
    for department, (_, teams) in DEPARTMENTS.items():
        if department in heads:
            planned += [(f"{department} – {team} Team", f"team-{team.lower()}", f"{team} team in {department}")
                        for team in teams]
    planned += [("Managers", "Managers", "Heads of department and team leads"),
                ("Office – São Paulo & Zürich", "office-sp-zh", "People based in the São Paulo and Zürich offices")]
    by_name: dict[str, DirectoryGroup] = {}
    for display_name, nickname, description in planned[:limit]:
        by_name[display_name] = directory.add_group(
            DirectoryGroup(object_id=_guid(rng), display_name=display_name, mail_nickname=nickname,
                           description=description))

    def add(group_name: str, member_id: str) -> None:
        if group_name in by_name:
            directory.add_member(by_name[group_name].object_id, member_id)

    for department in heads:
        dept_group = f"Dept – {department}"
        add("All Employees", by_name[dept_group].object_id) if dept_group in by_name else None
        for team in DEPARTMENTS[department][1]:
            team_group = f"{department} – {team} Team"
            if team_group in by_name and dept_group in by_name:
                add(dept_group, by_name[team_group].object_id)        # nested team group
    for person in people:
        if person.department in heads:
            team = team_of.get(person.object_id)
            team_group = f"{person.department} – {team} Team"
            add(team_group if team and team_group in by_name else f"Dept – {person.department}", person.object_id)
        else:
            add("All Employees", person.object_id)                    # the CEO
    for person in [*heads.values(), *(lead for group in leads.values() for lead in group)]:
        add("Managers", person.object_id)
    for person in people:
        if rng.random() < 0.1:
            add("Office – São Paulo & Zürich", person.object_id)
