"""Layout checks that screenshots showed to matter: the main menu must fit the screen it is shown on."""

import pytest
from playwright.sync_api import expect

from tests.browser.pages import horizontal_overflow, main, wrapped_menu_items

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("device", "username"),
    [
        ("page", "frontdesk"),
        ("page", "nurse"),
        ("page", "physician"),
        ("page", "admin"),
        ("tablet_page", "frontdesk"),
        ("tablet_page", "admin"),
        ("phone_page", "admin"),
    ],
)
def test_menu_labels_stay_on_one_line(request, login_as, screenshot, device, username):
    page = login_as(request.getfixturevalue(device), username)
    expect(main(page).get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "home")
    wrapped = wrapped_menu_items(page)
    assert not wrapped, f"menu entries broken over two lines: {wrapped}"
    assert horizontal_overflow(page) == 0
