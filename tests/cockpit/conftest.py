from tests.cockpit.browser import chromium, staff_page  # noqa: F401  (fixtures of the browser tests)
