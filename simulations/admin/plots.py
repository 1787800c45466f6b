"""Result pages as pictures and files for the admin: a 1-D page as a line plot, a 2-D page as a heat map (axes
with names and units, a colour bar), drawn on the server by matplotlib's Agg backend (no JavaScript, nothing
from other sites); and a page as JSON or CSV.

Values of a 2-D page are flattened with axis_dim1 varying fastest, as SHIELD-HIT12A writes them.
"""

import csv
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Pages larger than this are drawn from a strided sample (a heat map of 1,000 x 1,000 cells has more cells
# than the picture has pixels).
MAX_CELLS_PER_AXIS = 500


class NotPlottable(ValueError):
    """The page has no picture: 0-D, or its axes and values do not fit together."""


def _label(part: dict | None, fallback: str) -> str:
    part = part or {}
    name = str(part.get("name") or fallback)
    unit = part.get("unit")
    return f"{name} [{unit}]" if unit else name


def _axis_values(page: dict, key: str) -> np.ndarray:
    values = (page.get(key) or {}).get("values")
    return np.asarray(values if isinstance(values, list) else [], dtype=float)


def page_arrays(page: dict) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
    """(dimensions, values, axis 1, axis 2) of a page, with the values shaped (axis 2, axis 1) for 2-D."""
    dimensions = int(page.get("dimensions") or 0)
    values = np.asarray((page.get("data") or {}).get("values") or [], dtype=float)
    x = _axis_values(page, "axis_dim1")
    if dimensions == 1:
        if len(x) != len(values) or not len(values):
            raise NotPlottable(f"{len(values)} values but {len(x)} positions on axis 1")
        return 1, values, x, None
    if dimensions == 2:
        y = _axis_values(page, "axis_dim2")
        if not len(x) or not len(y) or len(x) * len(y) != len(values):
            raise NotPlottable(f"{len(values)} values for axes of {len(x)} x {len(y)} bins")
        return 2, values.reshape(len(y), len(x)), x, y
    raise NotPlottable(f"a {dimensions}-D page has no plot")


def _edges(centres: np.ndarray) -> tuple[float, float]:
    if len(centres) == 1:
        return centres[0] - 0.5, centres[0] + 0.5
    step = (centres[-1] - centres[0]) / (len(centres) - 1)
    return centres[0] - step / 2, centres[-1] + step / 2


def page_png(page: dict, *, title: str = "") -> bytes:
    """The page drawn as a PNG: a line plot (1-D) or a heat map with a colour bar (2-D)."""
    dimensions, values, x, y = page_arrays(page)
    figure = Figure(figsize=(8, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    data_label = _label(page.get("data"), "value")
    if dimensions == 1:
        axes.plot(x, values, color="#1f77b4", linewidth=1.5)
        axes.set_ylabel(data_label)
        axes.grid(True, alpha=0.3)
    else:
        step_y = max(1, len(y) // MAX_CELLS_PER_AXIS)
        step_x = max(1, len(x) // MAX_CELLS_PER_AXIS)
        shown = values[::step_y, ::step_x]
        image = axes.imshow(
            shown,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            cmap="viridis",
            extent=(*_edges(x), *_edges(y)),
        )
        axes.set_ylabel(_label(page.get("axis_dim2"), "axis 2"))
        figure.colorbar(image, ax=axes, label=data_label)
    axes.set_xlabel(_label(page.get("axis_dim1"), "axis 1"))
    if title:
        axes.set_title(title, fontsize=10)
    out = io.BytesIO()
    figure.savefig(out, format="png", pil_kwargs={"compress_level": 1})  # zlib's fastest level: 2% larger
    return out.getvalue()


def page_csv(page: dict) -> str:
    """The page as CSV: one row per bin with its axis positions (axis 1 varying fastest) and its value."""
    dimensions = int(page.get("dimensions") or 0)
    values = (page.get("data") or {}).get("values") or []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    data_label = _label(page.get("data"), "value")
    if dimensions == 1:
        writer.writerow([_label(page.get("axis_dim1"), "axis 1"), data_label])
        writer.writerows(zip((page.get("axis_dim1") or {}).get("values") or [], values, strict=False))
    elif dimensions == 2:
        x = (page.get("axis_dim1") or {}).get("values") or []
        y = (page.get("axis_dim2") or {}).get("values") or []
        writer.writerow([_label(page.get("axis_dim1"), "axis 1"), _label(page.get("axis_dim2"), "axis 2"), data_label])
        for index, value in enumerate(values):
            if x and index // len(x) < len(y):
                writer.writerow([x[index % len(x)], y[index // len(x)], value])
    else:
        writer.writerow([data_label])
        writer.writerows([value] for value in values)
    return out.getvalue()
