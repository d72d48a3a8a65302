"""The HTML report opened in a real headless browser (Debian's ``chromium``): it loads, every image
resolves to a file of the report and decodes, no error text appears; plus the page's structure
(summary first, folded details, captioned figures, no long or Markdown-mangled table cells).

The browser test runs wherever ``chromium`` is installed and is required in CI (``CI=true``, set by
``.ci/run``, which installs chromium); elsewhere without chromium it is skipped with the reason."""
from __future__ import annotations

import html.parser
import os
import shutil
import subprocess

import pytest

from validation import report as R

#: a fast report: a correction, a condition, a measured solver claim, and one section with a figure
CLAIMS = ("TF.eq4", "SC.eq8", "SC.eq16", "SC.B1.counter")
SECTIONS = ("fokker_planck_solver",)
#: text that must not appear on the page (a failed check, a crashed section, a broken renderer)
ERROR_TEXT = ("Traceback", "check raised", "FAILED", "Error:")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    index = R.build_report(out, execute_notebooks=False, claims=CLAIMS, sections=SECTIONS)
    return index


class _Page(html.parser.HTMLParser):
    """Images, figure captions, table cells (their text visible before unfolding: the folded part of
    a ``<details>`` is left out) and the order of the top-level sections."""

    def __init__(self):
        super().__init__()
        self.images, self.captions, self.cells, self.sections = [], [], [], []
        self._cell = None
        self._depth = 0
        self._caption = None
        self._folded = 0  # depth of <details> whose body (outside <summary>) we are in
        self._summary = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src"))
        elif tag == "section":
            self.sections.append(a.get("id"))
        elif tag in ("td", "th"):
            if self._cell is None:
                self._cell, self._depth = [], 0
            self._depth += 1
        elif tag == "figcaption":
            self._caption = []
        elif tag == "details":
            self._folded += 1
        elif tag == "summary":
            self._summary += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self._folded -= 1
        elif tag == "summary":
            self._summary -= 1
        if tag in ("td", "th") and self._cell is not None:
            self._depth -= 1
            if self._depth == 0:
                self.cells.append(" ".join("".join(self._cell).split()))
                self._cell = None
        elif tag == "figcaption" and self._caption is not None:
            self.captions.append(" ".join("".join(self._caption).split()))
            self._caption = None

    def handle_data(self, data):
        if self._cell is not None and (self._folded == 0 or self._summary > 0):
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def test_page_structure(small_report):
    text = small_report.read_text(encoding="utf-8")
    page = _parse(text)
    assert page.sections[:2] == ["summary", "ledger"], "the summary comes first, then the ledger"
    assert "Corrections to the papers" in text and "<details>" in text
    # the correction's printed and corrected forms are code, not Markdown emphasis
    assert "<code>n &gt; (L_A − L_B) / (2σ² log sqrt(det H_B/det H_A))</code>" in text
    assert "<em>" not in text.split("<section id='fokker", 1)[0]
    # figures are captioned with what to look at; no table cell carries 100+ words unfolded
    assert page.images and len(page.captions) >= 1 and all("look" in c.lower() for c in page.captions)
    for cell in page.cells:
        assert len(cell.split()) < 100, f"a table cell of {len(cell.split())} words unfolded: {cell[:200]}"
    for bad in ERROR_TEXT:
        assert bad not in text, f"the page shows {bad!r}"
    assert (small_report.parent / "report.md").exists() and (small_report.parent / "ledger.json").exists()


def test_missing_renderer_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mistune(name, *args, **kwargs):
        if name == "mistune":
            raise ImportError("No module named 'mistune'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mistune)
    with pytest.raises(R.ReportRendererError, match="mistune"):
        R.markdown_to_html("# x")


def test_long_cells_fold_and_markdown_does_not_mangle_expressions():
    long = " ".join(f"w{k}" for k in range(150))
    out = R.markdown_to_html(f"| a | b |\n|---|---|\n| `5*theta1**2 + theta1*(x_1)` | {long} |\n\n"
                             '![alt](figures/x.png "caption: look at the slope")\n')
    assert "<code>5*theta1**2 + theta1*(x_1)</code>" in out and "<em>" not in out
    assert "<details><summary>w0 w1" in out and "w149" in out
    assert "<figure>" in out and "<figcaption>caption: look at the slope</figcaption>" in out


_CHECK_IMAGES = ("<script>window.addEventListener('load',function(){var bad=[];"
                 "for(var i=0;i<document.images.length;i++){var im=document.images[i];"
                 "if(!(im.complete&&im.naturalWidth>0))bad.push(im.getAttribute('src'));}"
                 "document.body.setAttribute('data-images',document.images.length);"
                 "document.body.setAttribute('data-broken',bad.join(' ')||'none');});</script>")


def test_page_opens_in_headless_chromium(small_report, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed, but CI=true requires the browser test: "
                        "`apt-get install -y chromium` (.ci/run does it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); the browser test runs in CI")
    # every <img> names an existing PNG of the report
    page = _parse(small_report.read_text(encoding="utf-8"))
    for src in page.images:
        assert src and not src.startswith(("http:", "https:", "//")), f"an image from the network: {src}"
        f = small_report.parent / src
        assert f.is_file() and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"image {src} does not resolve"
    # the browser loads the page (a copy with a load-time probe of the images beside the original)
    probe = small_report.with_name("probe.html")
    probe.write_text(small_report.read_text(encoding="utf-8").replace("</body>", _CHECK_IMAGES + "</body>"),
                     encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path}",
           "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    dom = res.stdout
    assert res.returncode == 0 and "<html" in dom, f"chromium failed: {res.stderr[-2000:]}"
    assert f'data-images="{len(page.images)}"' in dom, "the browser did not finish loading the page"
    assert 'data-broken="none"' in dom, "images the browser could not load: " + dom.split('data-broken="')[1][:300]
    assert "Summary" in dom and "Claims ledger" in dom
    for bad in ERROR_TEXT:
        assert bad not in dom, f"the page shows {bad!r}"
