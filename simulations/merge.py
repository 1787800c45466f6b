"""Merging the tasks' estimators into the job's: each page's values averaged, weighted by simulated primaries."""

from copy import deepcopy

import numpy as np


def _estimator_key(estimator: dict) -> str:
    return str((estimator.get("metadata") or {}).get("file_corename") or estimator.get("name") or "")


def _page_key(page: dict, index: int) -> int:
    return int((page.get("metadata") or {}).get("page_number", index))


class EstimatorMerger:
    """Adds one task's estimators at a time, so only the running sums are held in memory."""

    def __init__(self) -> None:
        self._estimators: dict[str, dict] = {}
        self._primaries: dict[str, int] = {}
        self._sums: dict[tuple[str, int], np.ndarray] = {}
        self._weights: dict[tuple[str, int], float] = {}

    def add(self, estimators: list[dict], primaries: int) -> None:
        """Adds the estimators of a task that simulated `primaries` primaries."""
        weight = float(max(primaries, 0))
        for estimator in estimators:
            key = _estimator_key(estimator)
            if key not in self._estimators:
                template = {name: value for name, value in estimator.items() if name != "pages"}
                template["pages"] = {}
                self._estimators[key] = deepcopy(template)
            self._primaries[key] = self._primaries.get(key, 0) + int(primaries)
            pages = self._estimators[key]["pages"]
            for index, page in enumerate(estimator.get("pages") or []):
                number = _page_key(page, index)
                values = np.asarray(page["data"]["values"], dtype=float)
                if number not in pages:
                    pages[number] = {**page, "data": {**page["data"], "values": None}}
                    self._sums[(key, number)] = np.zeros_like(values)
                    self._weights[(key, number)] = 0.0
                if values.shape != self._sums[(key, number)].shape:
                    raise ValueError(
                        f"page {number} of {key} has {values.size} values in one task and "
                        f"{self._sums[(key, number)].size} in another"
                    )
                self._sums[(key, number)] += weight * values
                self._weights[(key, number)] += weight

    def result(self) -> list[dict]:
        """The merged estimators (REFERENCE section 4), in the order they were first seen."""
        merged = []
        for key, template in self._estimators.items():
            estimator = {**template, "metadata": {**(template.get("metadata") or {})}}
            estimator["metadata"]["number_of_primaries"] = str(self._primaries[key])
            pages = []
            for number, page in sorted(template["pages"].items()):
                weight = self._weights[(key, number)]
                values = self._sums[(key, number)] / weight if weight else self._sums[(key, number)]
                pages.append({**page, "data": {**page["data"], "values": values.tolist()}})
            estimator["pages"] = pages
            merged.append(estimator)
        return merged


def merge_estimators(parts: list[tuple[list[dict], int]]) -> list[dict]:
    """Weighted average of (estimators, simulated primaries) pairs, one pair per completed task."""
    merger = EstimatorMerger()
    for estimators, primaries in parts:
        merger.add(estimators, primaries)
    return merger.result()
