"""The menu every page draws: "My list" for physicians, the user's roles by their name, and the nurses' count
of open urgent calls — read in one query, and live: a red flag raised a moment ago is counted on the very
next page, one resolved is gone from it."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedures.models import CallReason
from procedures.services.checkins import call_item_add, call_item_resolve
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

# The user's groups (also read, for permissions, by Django), physician profile and the open urgent calls.
MENU_TABLES = ("auth_group", "procedures_physicianprofile", "procedures_calllistitem")


def _page(client, user, name: str = "patient-list") -> str:
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


def _urgent_badge(html: str) -> str | None:
    found = re.search(r'data-testid="nav-calls">Calls(?: <span [^>]*>(\d+)</span>)?</a>', html)
    assert found, "the Calls link is missing"
    return found.group(1)


def _raise_red_flag():
    return call_item_add(
        patient=PatientFactory(),
        reason=CallReason.RED_FLAG,
        detail="Numbness in the leg",
        now=timezone.now(),
        urgent=True,
    )


def test_a_physician_has_my_list_and_the_front_desk_does_not(client, physician, frontdesk):
    assert "My list" in _page(client, physician)
    assert "My list" not in _page(client, frontdesk)


def _whoami(html: str) -> str:
    return html.split('data-testid="whoami"')[1].split("<form")[0]


def test_the_users_roles_show_beside_their_name(client, nurse, outsider):
    badge = '<span class="badge text-bg-light ms-1 d-none d-xxl-inline-block">Nurse</span>'
    assert badge in _whoami(_page(client, nurse))
    assert "badge text-bg-light" not in _whoami(_page(client, outsider, "home"))


def test_a_new_urgent_call_is_counted_on_the_next_page_and_a_resolved_one_is_not(client, nurse):
    assert _urgent_badge(_page(client, nurse)) is None
    first = _raise_red_flag()
    assert _urgent_badge(_page(client, nurse)) == "1"
    _raise_red_flag()
    call_item_add(
        patient=PatientFactory(), reason=CallReason.MISSED_CHECK_IN, detail="No answer", now=timezone.now()
    )
    assert _urgent_badge(_page(client, nurse)) == "2"  # the missed check-in is not urgent
    call_item_resolve(item_id=first.pk, actor=nurse, outcome="Spoke to her; seen in the ED.")
    assert _urgent_badge(_page(client, nurse)) == "1"


def test_the_menu_reads_what_it_shows_in_one_query(client, nurse):
    client.force_login(nurse)
    client.get(reverse("patient-list"))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("patient-list"))
    menu = [q["sql"] for q in queries if any(table in q["sql"] for table in MENU_TABLES[1:])]
    assert len(menu) == 1 and all(table in menu[0] for table in MENU_TABLES)


def test_a_user_who_does_not_work_the_call_list_is_not_counted_for(client, outsider):
    _raise_red_flag()
    client.force_login(outsider)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("home")).content.decode()
    assert 'data-testid="nav-calls"' not in html
    assert not [q for q in queries if "procedures_calllistitem" in q["sql"]]


def test_pages_not_drawn_with_the_menu_do_not_read_it(client, nurse):
    client.force_login(nurse)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/patients/").status_code == 200
    assert not [q for q in queries if "procedures_physicianprofile" in q["sql"]]
