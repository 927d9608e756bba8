"""GraphiQL opens in a browser on a machine without internet access: no "Loading..." for ever.

This machine reaches no CDN, so the editor renders only if the gateway serves every asset.
"""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.desk import chromium
from tests.browser.live import LiveStack

EDITOR = ".graphiql-container .graphiql-editor"


def test_graphiql_renders_its_editor_from_the_gateway_alone(stack: LiveStack) -> None:
    driver = chromium()
    try:
        driver.get(f"{stack.gateway_url}/graphql")
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, EDITOR), "GraphiQL's editor never showed"
        )
        editor = driver.find_element(By.CSS_SELECTOR, EDITOR)
        body = driver.find_element(By.TAG_NAME, "body").text
        shown = editor.is_displayed()
    finally:
        driver.quit()

    assert shown
    assert "Loading..." not in body
