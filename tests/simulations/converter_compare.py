"""Comparing simulator input files the way the converter tests need: line by line, whitespace collapsed,
comments and blank lines left out, numbers compared numerically (relative 1e-6), and the free orderings of
geo.dat (the bodies of an intersection, the pieces of the world zone) ignored.
"""

import math
import re

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")


def _same_token(left: str, right: str) -> bool:
    if NUMBER.match(left) and NUMBER.match(right):
        a, b = float(left.replace("D", "E")), float(right.replace("D", "E"))
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    return left == right


def _same_line(left: list[str], right: list[str]) -> bool:
    return len(left) == len(right) and all(_same_token(a, b) for a, b in zip(left, right, strict=True))


def keyword_lines(text: str) -> list[list[str]]:
    """beam.dat, mat.dat, detect.dat: tokens per line, without '!' comments and blank lines."""
    lines = []
    for line in text.splitlines():
        tokens = line.split("!")[0].split()
        if tokens:
            lines.append(tokens)
    return lines


def _fixed_fields(text: str) -> list[str]:
    return [text[start : start + 10].strip() for start in range(0, len(text), 10) if text[start : start + 10].strip()]


def geo_parts(text: str) -> tuple[list[list[str]], list[list[frozenset]], list[list[str]]]:
    """geo.dat as (body cards by fixed columns, zones as lists of OR groups of body sets, table rows)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("*")]
    sections, current = [[]], 0
    for line in lines:
        if line.strip() == "END":
            sections.append([])
            current += 1
            continue
        sections[current].append(line)
    bodies_text, zones_text, table_text = (sections + [[], [], []])[:3]
    bodies = []
    for line in bodies_text[1:]:  # the first line is the title card
        if line[:10].strip():
            bodies.append([line[2:5].strip(), line[5:10].strip(), *_fixed_fields(line[10:])])
        else:
            bodies[-1] += _fixed_fields(line[10:])
    zones = []
    for line in zones_text:
        groups: list[set] = []
        for start in range(10, len(line), 7):
            operator, body = line[start : start + 2], line[start + 2 : start + 7].strip()
            if operator == "OR" or not groups:
                groups.append(set())
            groups[-1].add(int(body))
        zones.append([frozenset(group) for group in groups])
    table = [line.split() for line in table_text]
    return bodies, zones, table


def fluka_lines(text: str) -> list[list[str]]:
    """fl_sim.inp: fixed-format cards by columns (free format inside the geometry), no comments or blank lines."""
    lines, geometry, title = [], False, False
    for line in text.splitlines():
        if not line.strip() or line.startswith("*"):
            continue
        name = line[:10].strip()
        if title:
            lines.append(line.split())
            title = False
        elif geometry:
            lines.append(line.split())
        else:
            fields = [line[start : start + 10].strip() for start in range(10, 70, 10)]
            while fields and not fields[-1]:
                fields.pop()
            lines.append([name, *fields, line[70:].strip()])
        if name == "TITLE":
            title = True
        if name == "GEOBEGIN":
            geometry = True
        elif line.strip() == "GEOEND":
            geometry = False
    return lines


def differences(name: str, expected: str, actual: str, *, user_zones: int = 0) -> list[str]:
    """What differs between two versions of one input file, as readable lines (empty when they match)."""
    if name == "geo.dat":
        return _geo_differences(expected, actual, user_zones)
    if name.endswith(".inp"):
        left, right = fluka_lines(expected), fluka_lines(actual)
    elif name.endswith(".dat"):
        left, right = keyword_lines(expected), keyword_lines(actual)
    else:
        left, right = [line.split() for line in expected.splitlines()], [line.split() for line in actual.splitlines()]
    problems = []
    for number, (a, b) in enumerate(zip(left, right, strict=False)):
        if not _same_line(a, b):
            problems.append(f"{name} line {number + 1}: expected {' '.join(a)!r}, got {' '.join(b)!r}")
    if len(left) != len(right):
        problems.append(f"{name}: expected {len(left)} lines, got {len(right)}")
    return problems


def _geo_differences(expected: str, actual: str, user_zones: int) -> list[str]:
    bodies_a, zones_a, table_a = geo_parts(expected)
    bodies_b, zones_b, table_b = geo_parts(actual)
    problems = []
    if len(bodies_a) != len(bodies_b):
        problems.append(f"geo.dat: expected {len(bodies_a)} bodies, got {len(bodies_b)}")
    for a, b in zip(bodies_a, bodies_b, strict=False):
        if not _same_line(a, b):
            problems.append(f"geo.dat body: expected {a}, got {b}")
    if zones_a[:user_zones] != zones_b[:user_zones]:
        problems.append(f"geo.dat user zones: expected {zones_a[:user_zones]}, got {zones_b[:user_zones]}")
    rest_a = sorted(map(sorted, (tuple(sorted(group)) for zone in zones_a[user_zones:] for group in zone)))
    rest_b = sorted(map(sorted, (tuple(sorted(group)) for zone in zones_b[user_zones:] for group in zone)))
    if rest_a != rest_b:
        problems.append(f"geo.dat world zones: expected {rest_a}, got {rest_b}")
    if table_a != table_b:
        problems.append(f"geo.dat zone/medium table: expected {table_a}, got {table_b}")
    return problems
