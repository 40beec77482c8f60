"""A real browser for the console's tests: Debian's Chromium driven by Playwright (its own
browser download needs the internet, which CI does not have). A Chromium that cannot start
fails the test: the journeys are never skipped."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# As root, in a container without a GPU or network: the flags Chromium needs to start quietly.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Screenshots for review, not committed (build/ is ignored): a laptop and a phone.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"
WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make browser` (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)


def screenshots(page: Page, name: str) -> list[Path]:
    """The page at each width, whole, as `<name>-<width>.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    taken = []
    original = page.viewport_size
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
    if original:
        page.set_viewport_size(original)
    return taken
