"""How the admin shows compressed payloads: decoded, pretty-printed, read-only; big pages as a summary."""

import json
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join

# A page with more values than this is shown as a summary, not as its numbers.
PAGE_VALUES_SHOWN = 1000


def pretty_json(data: Any) -> str:
    """The payload as indented JSON in a <pre> block (escaped), or a dash when there is none."""
    if data is None:
        return "-"
    return format_html('<pre class="payload">{}</pre>', json.dumps(data, indent=2, ensure_ascii=False))


def _numbers(values: Any) -> list[float]:
    return (
        [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if isinstance(values, list)
        else []
    )


def page_summary(page: dict) -> dict:
    """Dimensions, axis names and sizes, value count and min/max of a page: what an operator needs of it."""
    data = page.get("data") or {}
    values = _numbers(data.get("values"))
    axes = []
    for key in ("axis_dim1", "axis_dim2"):
        axis = page.get(key)
        if isinstance(axis, dict):
            axes.append(
                {"axis": key, "name": axis.get("name"), "unit": axis.get("unit"), "size": len(axis.get("values") or [])}
            )
    return {
        "metadata": page.get("metadata"),
        "dimensions": page.get("dimensions"),
        "axes": axes,
        "data": {
            "name": data.get("name"),
            "unit": data.get("unit"),
            "value_count": len(data.get("values") or []),
            "min": min(values) if values else None,
            "max": max(values) if values else None,
        },
    }


def page_display(data: Any) -> str:
    """A page in full when it is small, else its summary (never 100,000 numbers in a browser)."""
    if isinstance(data, dict):
        values = (data.get("data") or {}).get("values")
        if isinstance(values, list) and len(values) > PAGE_VALUES_SHOWN:
            return format_html(
                "<p>{} values: summary shown instead of the numbers.</p>{}",
                len(values),
                pretty_json(page_summary(data)),
            )
    return pretty_json(data)


def logfiles_display(data: Any) -> str:
    """Each log file under its name, as preformatted text (newlines kept, not escaped as in JSON)."""
    if not isinstance(data, dict):
        return pretty_json(data)
    if not data:
        return "(no files)"
    return format_html_join(
        "", '<h4 class="logfile-name">{}</h4><pre class="payload">{}</pre>', sorted(data.items(), key=str)
    )


def admin_time(value) -> str:
    """A time with seconds and its time zone (the admin's default drops both)."""
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days} d {text}" if days else text


def byte_size(value: int | None) -> str:
    """Bytes as an operator reads them: 1.2 MB (exact count in the cell's title)."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            text = f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            return format_html('<span title="{} bytes">{}</span>', f"{value:,}", text)
        size /= 1000
    return str(value)
