"""A contact sheet for a batch: one self-contained HTML page to review every edit in a folder.

``textinpaint report OUTDIR`` reads the sidecars under the folder (and its ``failures.json``),
so it reviews any run that wrote them: the local CLI's, or a distributed one's. For every edit
the page shows the input, where it changed (outlined) and the output side by side, with its
parameters and its verification score; failed and flagged items come first, and a switch shows
only them. Thumbnails are embedded (JPEG, base64): the page is one file that can be mailed.

Example:
    >>> from textinpaint.interfaces.report import write_report
    >>> write_report("edited/")  # doctest: +SKIP
    PosixPath('edited/report.html')
"""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

from ..errors import InvalidInputError, TextInpaintError
from ..outputs import REPORT_MARK

logger = logging.getLogger(__name__)

THUMBNAIL = 256  # longest side of a thumbnail, px
# Order on the page: what needs a look first.
ORDER = ("failed", "unreadable", "flagged", "nothing", "done")
OUTLINE = (255, 0, 200)


@dataclass
class Item:
    """One row of the sheet: an edit (from its sidecar) or a failure (from ``failures.json``)."""

    name: str
    status: str  # one of ORDER
    sidecar: dict[str, Any] | None = None
    message: str = ""
    thumbnails: dict[str, str | None] = field(default_factory=dict)  # input / changes / output -> data URI

    @property
    def score(self) -> float | None:
        check = (self.sidecar or {}).get("verification") or {}
        return check.get("score")


def collect_items(folder: Path) -> list[Item]:
    """Every sidecar under ``folder`` and every row of its failures table, in review order
    (failed, flagged, nothing found, done; then lowest score first, then by name)."""
    from ..outputs import owned
    from .batch import FAILURES
    from .sidecars import read_sidecar

    items = []
    for path in sorted(folder.rglob("*.json")):
        if path.name == FAILURES:
            continue
        name = str(path.relative_to(folder).with_suffix(""))
        if not owned(path, "sidecar"):
            logger.debug("%s is not a textinpaint sidecar; left out of the report", path)
            continue
        try:
            document = read_sidecar(path)
        except TextInpaintError as error:
            items.append(Item(name, "unreadable", None, str(error)))
            continue
        status = "flagged" if document.get("flagged") else "done" if document.get("found", True) else "nothing"
        items.append(Item(name, status, document))
    failures = folder / FAILURES
    if failures.is_file():
        try:
            rows = json.loads(failures.read_text()).get("failures", [])
            if not isinstance(rows, list):
                raise ValueError("its failures are not a list")
        except (OSError, ValueError, AttributeError, RecursionError) as error:
            rows = []
            items.append(Item(FAILURES, "unreadable", None, f"not a readable failures table ({error})"))
        for row in rows:
            if isinstance(row, dict):
                items.append(Item(_text(row.get("input", "?")), "failed", None, _text(row.get("message", ""))))
            else:
                items.append(Item(FAILURES, "unreadable", None, f"a row that is not a table row: {_text(row)[:200]}"))

    def key(item: Item) -> tuple:
        score = item.score
        return (ORDER.index(item.status), 2.0 if score is None else score, item.name)

    return sorted(items, key=key)


# ---- thumbnails -----------------------------------------------------------------------------


def _uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _small(pixels: np.ndarray) -> np.ndarray:
    import cv2

    height, width = pixels.shape[:2]
    scale = min(1.0, THUMBNAIL / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA) if scale < 1 else pixels.copy()


def _outlined(pixels: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """``pixels`` dimmed, with the outline of ``changed`` (same size) drawn over them."""
    import cv2

    contours, _ = cv2.findContours(changed.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    drawn = (pixels.astype(np.float32) * 0.6).astype(np.uint8)
    cv2.drawContours(drawn, contours, -1, OUTLINE, 2)
    return drawn


def _read(path: object) -> np.ndarray | None:
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    from ..images import load_image

    try:  # the same pixel limit as editing: a sidecar may name any file
        return load_image(path).rgb
    except TextInpaintError:
        return None


def thumbnails(document: dict[str, Any]) -> dict[str, str | None]:
    """Input, changes (the outline of every pixel that differs) and output, as data URIs (None when missing)."""
    import cv2

    source = _read((document.get("input") or {}).get("path"))
    output = _read(document.get("output"))
    changes = None
    if source is not None and output is not None:
        from ..workflows import WORKFLOWS

        flow = WORKFLOWS.get(document.get("workflow"))  # type: ignore[arg-type]  # any key may be asked
        if flow is not None and flow.output == "mask":
            changed = output.any(axis=2)  # the output is the mask itself
        elif output.shape == source.shape:
            changed = (output != source).any(axis=2)
        else:
            changed = None
        if changed is not None and changed.shape == source.shape[:2]:
            small = _small(source)
            height, width = small.shape[:2]
            mask = np.ascontiguousarray(changed, dtype=np.uint8) * np.uint8(255)
            shrunk = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA) > 0
            changes = _uri(_outlined(small, shrunk))
    return {
        "input": None if source is None else _uri(_small(source)),
        "changes": changes,
        "output": None if output is None else _uri(_small(output)),
    }


# ---- the page -------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #fafafa; color: #222; }
header { display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; }
.item { background: #fff; border: 1px solid #ddd; border-left: 6px solid #8c8; margin: 1rem 0; padding: 0.75rem; }
.item[data-status="failed"], .item[data-status="unreadable"] { border-left-color: #d33; }
.item[data-status="flagged"] { border-left-color: #e90; }
.item[data-status="nothing"] { border-left-color: #999; }
.pictures { display: flex; gap: 0.5rem; flex-wrap: wrap; }
figure { margin: 0; } figcaption { font-size: 0.8rem; color: #555; }
.missing { width: 160px; height: 120px; display: flex; align-items: center; justify-content: center;
  background: #eee; color: #777; font-size: 0.8rem; }
.status { font-weight: bold; text-transform: uppercase; font-size: 0.8rem; }
table { border-collapse: collapse; font-size: 0.8rem; } td { padding: 0 0.6rem 0 0; vertical-align: top; }
"""

_SCRIPT = """
const only = document.getElementById("only-problems");
function filter() {
  for (const item of document.querySelectorAll(".item")) {
    const problem = ["flagged", "failed", "unreadable"].includes(item.dataset.status);
    item.hidden = only.checked && !problem;
  }
  document.getElementById("shown").textContent =
    document.querySelectorAll(".item:not([hidden])").length;
}
only.addEventListener("change", filter);
filter();
"""


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{{ mark | safe }}
<title>{{ title }}</title><style>{{ style | safe }}</style></head><body>
<header><h1>{{ title }}</h1><p>{{ items | length }} items: {{ counts }}</p>
<label><input type="checkbox" id="only-problems"> only flagged and failed</label>
<p><span id="shown"></span> shown</p></header>
<main>
{% for item in items %}
<article class="item" data-status="{{ item.status }}">
<h2><span class="status">{{ item.status }}</span> {{ item.name }}</h2>
{% if item.message %}<p class="message">{{ item.message }}</p>{% endif %}
{% if item.sidecar is not none %}
<p class="score">{{ item.verdict }}; seed {{ item.seed }}</p>
<div class="pictures">
{% for caption in ("input", "changes", "output") %}
<figure>{% if item.thumbnails.get(caption) %}<img src="{{ item.thumbnails[caption] }}" alt="{{ caption }}">{% else %}<div class="missing">{{ caption }}: not found</div>{% endif %}<figcaption>{{ caption }}</figcaption></figure>
{% endfor %}
</div>
<details><summary>parameters</summary><table>
{% for name, value in item.rows %}<tr><td>{{ name }}</td><td>{{ value }}</td></tr>
{% endfor %}</table></details>
{% endif %}
</article>
{% endfor %}
</main>
<script>{{ script | safe }}</script>
</body></html>
"""


def _text(value: Any) -> str:
    """A value read from a sidecar, as text (the template escapes it)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _verdict(check: dict[str, Any]) -> str:
    def number(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "unchecked"

    if not check:
        return "not verified"
    parts = ", ".join(f"{name} {number(value)}" for name, value in (check.get("parts") or {}).items())
    return f"score {number(check.get('score'))}{f' ({parts})' if parts else ''}"


def render(items: list[Item], title: str) -> str:
    """The HTML page of ``items`` (their thumbnails already made). Every value read from a sidecar
    goes through the template engine's autoescape: nothing in a sidecar becomes markup."""
    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    shown = []
    for item in items:
        doc = item.sidecar or {}
        rows = [("workflow", _text(doc.get("workflow", ""))), ("output", _text(doc.get("output") or "(none)"))]
        rows += [(str(name), _text(value)) for name, value in (doc.get("parameters") or {}).items()]
        if doc.get("candidates"):
            rows.append(("other candidates", _text(doc["candidates"])))
        shown.append(
            {
                "status": item.status,
                "name": item.name,
                "message": item.message,
                "sidecar": item.sidecar,
                "verdict": _verdict(doc.get("verification") or {}),
                "seed": _text(doc.get("seed")),
                "thumbnails": item.thumbnails,
                "rows": rows,
            }
        )
    tally = {s: sum(i.status == s for i in items) for s in ORDER}
    counts = ", ".join(f"{n} {s}" for s, n in tally.items() if n or s != "unreadable")
    page = environment.from_string(_PAGE)
    return page.render(mark=REPORT_MARK, title=title, style=_STYLE, script=_SCRIPT, items=shown, counts=counts)


def write_report(folder: str | Path, output: str | Path | None = None) -> Path:
    """Write the contact sheet of every edit under ``folder``.

    Args:
        folder: an output folder of the CLI (sidecars ``*.json`` and ``failures.json``).
        output: the HTML file (default ``folder/report.html``).

    Returns:
        The path written (atomically: a temporary name, then renamed).

    Raises:
        InvalidInputError: ``folder`` is not a folder.
    """
    from ..outputs import Writer

    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(f"folder must be a folder of edits and their sidecars; got {str(folder)!r}")
    target = Path(output) if output is not None else root / "report.html"
    writer = Writer()
    writer.check(target, "report")  # before any work: never over an image, a sidecar or an input
    items = collect_items(root)
    for item in items:
        if item.sidecar is not None:
            writer.protect((item.sidecar.get("input") or {}).get("path"), item.sidecar.get("output"))
            item.thumbnails = thumbnails(item.sidecar)
    return writer.text(target, render(items, f"textinpaint report: {root.resolve().name}"), kind="report")
