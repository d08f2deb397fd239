"""An operator's token workflow in a real browser, against the fake FastPix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from django_fastpix.models import AccessToken, TokenStatus, Workspace
from tests.conftest import SECRET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKEN_ID = "tok_browser_e2e_4c2b"
WRONG_SECRET = "sk_wrong_Vb7nQ2xL9"
PASSWORD = "browser-test-password"


def click_and_wait(driver: Any, element: Any) -> None:
    """Click something that submits a form, and wait until the next page has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait = WebDriverWait(driver, 20)
    wait.until(ec.staleness_of(page))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def login(driver: Any, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))


def assert_no_secret(driver: Any) -> None:
    html = driver.page_source
    for secret in (SECRET, WRONG_SECRET, TOKEN_ID):
        assert secret not in html, f"{secret!r} leaked into {driver.current_url}"


def run_action(driver: Any, label: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(driver.find_element(By.NAME, "action")).select_by_visible_text(label)
    click_and_wait(driver, driver.find_element(By.NAME, "index"))


def messages(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(el.text for el in driver.find_elements(By.CSS_SELECTOR, ".messagelist li"))


def fill_add_form(driver: Any, secret: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.NAME, "workspace")).select_by_visible_text(
        "Production (production)"
    )
    name = driver.find_element(By.NAME, "name")
    name.clear()
    name.send_keys("uploader")
    Select(driver.find_element(By.NAME, "scope")).select_by_visible_text("Read and write")
    driver.find_element(By.NAME, "token_id").send_keys(TOKEN_ID)
    driver.find_element(By.NAME, "secret_key").send_keys(secret)
    click_and_wait(driver, driver.find_element(By.NAME, "_save"))


def test_token_lifecycle_in_the_admin(
    driver: Any,
    live_server: Any,
    fake_api: Any,
    django_user_model: Any,
    artifacts: Path,
) -> None:
    from selenium.webdriver.common.by import By

    base = live_server.url
    Workspace.objects.create(name="Production", slug="prod", environment="production")
    fake_api.add_token(TOKEN_ID, SECRET, "read_write", "ws-default")
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)

    login(driver, base, "root")
    driver.get(f"{base}/admin/django_fastpix/accesstoken/add/")

    # A wrong secret: FastPix refuses it, and neither value comes back in the page.
    fill_add_form(driver, WRONG_SECRET)
    assert "FastPix rejected this token id / secret key (401)" in driver.page_source
    assert driver.find_element(By.NAME, "secret_key").get_attribute("value") == ""
    assert driver.find_element(By.NAME, "token_id").get_attribute("value") == ""
    assert_no_secret(driver)
    assert not AccessToken.objects.exists()

    # The right pair, verified for real against the fake FastPix.
    driver.find_element(By.NAME, "token_id").clear()
    fill_add_form(driver, SECRET)
    assert "was added successfully" in messages(driver), driver.page_source
    token = AccessToken.objects.get()
    assert token.last_verified_at is not None

    # Masked in the list: hint only.
    assert driver.current_url.endswith("/admin/django_fastpix/accesstoken/")
    assert TOKEN_ID[-4:] in driver.page_source
    assert_no_secret(driver)
    driver.save_screenshot(str(artifacts / "token-list.png"))

    run_action(driver, "Verify with FastPix")
    assert "FastPix accepted the token." in messages(driver)
    assert_no_secret(driver)

    run_action(driver, "Revoke (irreversible)…")
    assert "Revoke access tokens" in driver.page_source
    assert_no_secret(driver)
    driver.save_screenshot(str(artifacts / "token-revoke-confirmation.png"))
    reason = driver.find_element(By.NAME, "reason")
    assert reason.get_attribute("required") is not None  # the server checks it too
    reason.send_keys("pasted into a public issue")
    click_and_wait(driver, driver.find_element(By.NAME, "confirm"))
    assert "revoked." in messages(driver)
    assert driver.find_elements(By.CSS_SELECTOR, ".fastpix-badge-revoked")
    token.refresh_from_db()
    assert token.status == TokenStatus.REVOKED
    assert token.status_changed_by == "admin:root"
    assert token.status_reason == "pasted into a public issue"

    # Staff with every default token permission but manage_tokens: nothing to see.
    staff = django_user_model.objects.create_user("staff", password=PASSWORD, is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_fastpix",
            codename__in=["view_accesstoken", "change_accesstoken", "view_workspace"],
        )
    )
    login(driver, base, "staff")
    assert "Site administration" in driver.page_source
    assert "/admin/django_fastpix/accesstoken/" not in driver.page_source
    for path in ("", "add/", f"{token.pk}/change/", f"{token.pk}/history/"):
        driver.get(f"{base}/admin/django_fastpix/accesstoken/{path}")
        assert "403 Forbidden" in driver.page_source, path
        assert_no_secret(driver)
