"""Small page helpers shared by browser tests: how a person finds things on SpineDesk pages.

Locate by what a user sees (role + accessible name, label text) or by data-testid, never by CSS structure."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

LOGIN_PATH = "/accounts/login/"


def login_url(live_server) -> str:
    return live_server.url + LOGIN_PATH


def submit_login(page: Page, username: str, password: str) -> None:
    """Fill and submit the login form already shown on ``page``."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def main(page: Page) -> Locator:
    return page.get_by_role("main")


def open_menu(page: Page) -> Locator:
    """Show the main menu whatever the screen width: on narrow screens it hides behind the toggler."""
    nav = main_nav(page)
    toggler = nav.get_by_role("button", name="Show menu")
    if toggler.is_visible():
        toggler.click()
        expect(toggler).to_have_attribute("aria-expanded", "true")
    return nav


# For each visible menu entry, whether its text (and icon, badge) runs over more than one line.
_WRAPPED_MENU_ITEMS_JS = """
() => {
  const nav = document.querySelector('nav[aria-label="Main"]');
  const items = nav.querySelectorAll('.navbar-brand, .nav-link, .btn, [data-testid="whoami"]');
  const wrapped = [];
  for (const el of items) {
    if (!el.getClientRects().length) continue;  // hidden (collapsed menu)
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (!rects.length) continue;
    const firstLineBottom = Math.min(...rects.map(r => r.bottom));
    if (rects.some(r => r.top >= firstLineBottom - 1)) wrapped.push(el.innerText.replace(/\\s+/g, " ").trim());
  }
  return wrapped;
}
"""


def wrapped_menu_items(page: Page) -> list[str]:
    """Menu entries whose label breaks over two lines (a sign the menu does not fit the screen)."""
    return page.evaluate(_WRAPPED_MENU_ITEMS_JS)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
