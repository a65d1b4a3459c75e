import dataclasses
import re
import unicodedata

import pytest

from harness.sample_org import generate_org, latin_form


def _users(directory):
    return [dataclasses.asdict(u) for u in directory.users.values()]


def test_same_seed_same_org_different_seed_different_org():
    assert _users(generate_org(7)) == _users(generate_org(7))
    assert [g.member_ids for g in generate_org(7).groups.values()] == \
        [g.member_ids for g in generate_org(7).groups.values()]
    assert _users(generate_org(7)) != _users(generate_org(8))


def test_default_size_and_unique_upns_regardless_of_case():
    org = generate_org()
    assert len(org.users) == 200 and len(org.groups) == 15
    upns = [u.user_principal_name.lower() for u in org.users.values()]
    assert len(set(upns)) == 200
    assert len({u.object_id for u in org.users.values()}) == 200


def test_no_numbered_placeholder_users():
    for user in generate_org().users.values():
        assert not re.match(r"(?i)user\d", user.user_principal_name)
        assert not re.match(r"(?i)(user|test)\s*\d*$", user.given_name)


def _scripts(text):
    return {unicodedata.name(c).split()[0] for c in text if c.isalpha()}


def test_names_carry_apostrophes_hyphens_accents_and_non_latin_scripts():
    users = list(generate_org().users.values())
    names = [u.given_name + " " + u.surname for u in users]
    assert any("'" in n for n in names)
    assert any("-" in n for n in names)
    assert any(any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", n)) and n.isascii() is False
               and _scripts(n) == {"LATIN"} for n in names)
    scripts = set().union(*(_scripts(n) for n in names))
    assert {"CJK", "CYRILLIC", "ARABIC", "GREEK"} <= scripts


def test_upns_are_ascii_mixed_case_and_mail_is_sometimes_plus_addressed():
    users = list(generate_org().users.values())
    for user in users:
        local, _, domain = user.user_principal_name.partition("@")
        assert user.user_principal_name.isascii() and local and domain
        assert local == user.mail_nickname
    assert sum(u.user_principal_name != u.user_principal_name.lower() for u in users) > 150
    assert any(u.user_principal_name.endswith("@Contoso.onmicrosoft.com") for u in users)
    mails = [u.mail for u in users if u.mail]
    assert any("+" in m.partition("@")[0] for m in mails)
    assert any(u.mail is None for u in users)          # some users have no mailbox


def test_departments_titles_and_a_manager_tree():
    org = generate_org()
    users = org.users
    assert len({u.department for u in users.values()}) >= 6
    assert len({u.job_title for u in users.values()}) >= 15
    roots = [u for u in users.values() if u.manager_id is None]
    assert len(roots) == 1
    for user in users.values():                          # every chain reaches the root without a cycle
        seen, current = set(), user
        while current.manager_id is not None:
            assert current.manager_id in users and current.object_id not in seen
            seen.add(current.object_id)
            current = users[current.manager_id]
        assert current is roots[0]


def test_nested_team_groups():
    org = generate_org()
    nested = [(g, m) for g in org.groups.values() for m in g.member_ids if m in org.groups]
    assert any(org.groups[m].display_name.endswith("Team") for _, m in nested)
    parents = {g.display_name for g, _ in nested}
    assert "All Employees" in parents


def test_scope_has_unassigned_and_disabled_users():
    org = generate_org()
    users = list(org.users.values())
    assert 0 < sum(not org.in_scope(u.object_id) for u in users) < 10
    assert 0 < sum(not u.account_enabled for u in users) < 10


@pytest.mark.parametrize("users,groups", [(1, 0), (5, 3), (12, 15)])
def test_small_organisations(users, groups):
    org = generate_org(seed=1, users=users, groups=groups)
    assert len(org.users) == users and len(org.groups) == min(groups, 15)


@pytest.mark.parametrize("name,latin", [("O'Brien", "OBrien"), ("Zoë", "Zoe"), ("Østergaard", "Ostergaard"),
                                        ("Großmann", "Grossmann"), ("de la Cruz", "delaCruz"),
                                        ("Muñoz-Ortega", "Munoz-Ortega"), ("Nguyễn", "Nguyen")])
def test_latin_form(name, latin):
    assert latin_form(name) == latin
