"""The review page in a real headless browser (system Chromium driven by Selenium, from file://):
it loads, shows the queued images in queue order with decoded thumbnails, sorts by score on a
click, and logs no console error."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from ssseg.review import page, queue

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _write_page(tmp_path):
    items = [queue.ReviewItem("tile <1>.png", "tile <1>", 0.71, {"crack": 40}),
             queue.ReviewItem("tile_2.png", "tile_2", 0.93, {"blowhole": 12, "crack": 3}),
             queue.ReviewItem("tile_3.png", "tile_3", 0.05, {})]
    queued = queue.ranked(items)  # 0.93, 0.71, 0.05
    overlays, maps = {}, {}
    for i, item in enumerate(items):
        overlays[item.stem] = str(tmp_path / f"{item.stem}_overlay.png")
        maps[item.stem] = str(tmp_path / f"{item.stem}_uncertainty.png")
        Image.fromarray(np.full((30, 50, 3), 60 * i, np.uint8)).save(overlays[item.stem])
        Image.fromarray(np.full((30, 50, 3), 200, np.uint8)).save(maps[item.stem])
    path = page.write_page(str(tmp_path / "review"), queued, overlays, maps, total_images=5,
                           colours={"blowhole": "#1f77b4", "crack": "#ff7f0e"}, about="score: test")
    return path, [item.image for item in queued]


def test_page_is_self_contained(tmp_path):
    path, _ = _write_page(tmp_path)
    text = open(path, encoding="utf-8").read()
    assert "http://" not in text and "https://" not in text and "tile &lt;1&gt;.png" in text
    assert sorted(os.listdir(tmp_path / "review" / "thumbs"))[:2] == ["tile <1>_overlay.png",
                                                                       "tile <1>_uncertainty.png"]
    assert Image.open(tmp_path / "review" / "thumbs" / "tile_2_overlay.png").size == (page.THUMB_SIZE, 154)


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"no {CHROMIUM} / {CHROMEDRIVER} (Debian packages chromium, chromium-driver; `make` installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_review_page_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    path, expected_order = _write_page(tmp_path)
    browser.get("file://" + path)
    browser.execute_async_script(  # wait until every image has loaded or failed
        "const done = arguments[0];"
        "Promise.all(Array.from(document.images).map(i => i.complete ? 0 :"
        " new Promise(r => { i.onload = r; i.onerror = r; }))).then(done);")

    def shown_order():
        return [row.get_attribute("data-image") for row in browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr")]

    assert browser.title == "ssseg review queue"
    assert shown_order() == expected_order == ["tile_2.png", "tile <1>.png", "tile_3.png"]
    widths = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    assert len(widths) == 6 and all(w == page.THUMB_SIZE for w in widths)
    browser.find_element(By.ID, "sort-score").click()  # queue order is score-descending: first click ascends
    assert shown_order() == ["tile_3.png", "tile <1>.png", "tile_2.png"]
    browser.find_element(By.ID, "sort-score").click()
    assert shown_order() == expected_order
    browser.find_element(By.ID, "sort-score").click()
    browser.find_element(By.ID, "sort-rank").click()
    assert shown_order() == expected_order
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
