"""Regenerate docs/images/backward_steps.png: the step-through page of the Iris network's first training step
(``viz.backward_steps``), photographed by headless Chromium at a frame in the middle of backward.

    python tools/backward_steps_screenshot.py                       # or: make docs-screenshot
    python tools/backward_steps_screenshot.py --frame 2 --output shot.png

Needs Graphviz's dot, selenium (pip install 'tinygrad-lite[browser]') and Debian's chromium and chromedriver
(make chromium). The browser and its driver are the ones on PATH: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tinygrad_lite import casestudy

DOCS_IMAGE = Path(__file__).resolve().parent.parent / "docs" / "images" / "backward_steps.png"
MIDDLE_FRAME = 4  # step 3 of 0-5: the Linear of layer 2 sends gradients to its input and to 2.weight


def screenshot(page: Path, output: Path, frame: int, width: int, height: int) -> Path:
    """Open ``page`` from disk, press Next ``frame`` times and save what the window shows as a PNG."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        sys.exit("needs chromium and chromedriver on PATH: make chromium (or apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium  # with the driver's path below, selenium-manager never runs
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        driver.get(page.as_uri())
        for _ in range(frame):
            driver.find_element(By.ID, "next").click()
        output.parent.mkdir(parents=True, exist_ok=True)
        if not driver.save_screenshot(str(output)):
            sys.exit(f"the browser could not write {output}")
    finally:
        driver.quit()
    return output


def shrink(png: Path, colors: int = 64) -> None:
    """Re-save the PNG with a palette of ``colors``: a third of the size and no visible difference. Needs Pillow
    (matplotlib brings it); without it the browser's PNG stays as it is."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png) as image:
        palette = image.convert("RGB").quantize(colors, method=Image.Quantize.MEDIANCUT)
    palette.save(png, optimize=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", "-o", type=Path, default=DOCS_IMAGE, help="the PNG (default: the docs' image)")
    parser.add_argument("--frame", type=int, default=MIDDLE_FRAME, help=f"the frame shown (default {MIDDLE_FRAME})")
    parser.add_argument("--size", default="1100x900", help="the window, WIDTHxHEIGHT (default 1100x900)")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        page = casestudy.step_backward_page(Path(folder) / "steps.html")
        shrink(screenshot(page, args.output, args.frame, width, height))
    print("wrote", args.output)


if __name__ == "__main__":
    main()
