"""Browser set-up and page objects for the smoke tier (Playwright, Chromium)."""
