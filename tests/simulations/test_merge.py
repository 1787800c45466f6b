"""Merging the tasks' estimators: page values averaged, weighted by each task's simulated primaries."""

import pytest

from simulations.merge import merge_estimators


def estimator(name: str, pages: list[list[float]], primaries: int) -> dict:
    return {
        "name": name,
        "metadata": {"file_corename": name, "number_of_primaries": str(primaries), "geotyp": "CYL"},
        "pages": [
            {
                "metadata": {"page_number": str(number), "name": f"q{number}"},
                "dimensions": 1,
                "data": {"name": f"q{number}", "unit": "Gy", "values": values},
                "axis_dim1": {"name": "Position (Z)", "unit": "cm", "values": list(range(len(values)))},
            }
            for number, values in enumerate(pages)
        ],
    }


def test_pages_are_averaged_weighted_by_simulated_primaries():
    merged = merge_estimators(
        [
            ([estimator("z", [[1.0, 2.0], [10.0]], 100)], 100),
            ([estimator("z", [[4.0, 8.0], [40.0]], 300)], 300),
        ]
    )

    [result] = merged
    assert result["pages"][0]["data"]["values"] == pytest.approx([(1 * 100 + 4 * 300) / 400, (2 * 100 + 8 * 300) / 400])
    assert result["pages"][1]["data"]["values"] == pytest.approx([(10 * 100 + 40 * 300) / 400])
    assert result["metadata"]["number_of_primaries"] == "400"
    assert result["pages"][0]["axis_dim1"] == {"name": "Position (Z)", "unit": "cm", "values": [0, 1]}
    assert result["pages"][0]["metadata"] == {"page_number": "0", "name": "q0"}


def test_a_single_task_is_kept_as_it_is():
    alone = estimator("z", [[1.5, 2.5]], 70)

    [result] = merge_estimators([([alone], 70)])

    assert result["pages"][0]["data"]["values"] == [1.5, 2.5]


def test_estimators_keep_the_order_they_first_appear_in():
    merged = merge_estimators(
        [
            ([estimator("b", [[1.0]], 1), estimator("a", [[1.0]], 1)], 1),
            ([estimator("a", [[3.0]], 1), estimator("b", [[3.0]], 1)], 1),
        ]
    )

    assert [e["name"] for e in merged] == ["b", "a"]
    assert [e["pages"][0]["data"]["values"] for e in merged] == [[2.0], [2.0]]


def test_pages_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="values"):
        merge_estimators([([estimator("z", [[1.0, 2.0]], 1)], 1), ([estimator("z", [[1.0]], 1)], 1)])


def test_no_completed_task_gives_no_estimators():
    assert merge_estimators([]) == []
