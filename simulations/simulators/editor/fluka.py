"""Editor project -> FLUKA input: fl_sim.inp (fixed-format cards, name-based geometry) and info.json.

Layout as yaptide's converter writes it: TITLE, DEFAULTS HADROTHE, the beam, the geometry (bodies fig0..,
figworld and figbound, regions region0.., world and boundary), materials, scoring (one USRBIN unit per output,
from 21) and RANDOMIZ/START/STOP. Where that converter is physically wrong (beam direction cosines, element
densities compared with ICRU numbers, Gaussian sigma passed as FWHM) this one writes the right card.
"""

import base64
import hashlib
import math

from . import (
    BLACK_HOLE_ICRU,
    VACUUM_ICRU,
    Filter,
    Material,
    Project,
    Quantity,
    Solid,
    check_solid_cylinder,
    fail,
    number_at,
    parse,
    rotate,
    text_at,
)

LABEL = "FLUKA"
INPUT_NAME = "fl_sim.inp"
INFO = "{'version': 'unknown', 'label': '', 'simulator': 'fluka'}"
FIRST_UNIT = 21
GAUSSIAN_FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))

# Editor particle id -> (FLUKA name, nucleons); ids follow SHIELD-HIT12A's JPART0, 26 is yaptide's electron.
PARTICLES = {
    1: ("NEUTRON", 1), 2: ("PROTON", 1), 3: ("PION-", 1), 4: ("PION+", 1), 5: ("PIZERO", 1), 6: ("ANEUTRON", 1),
    7: ("APROTON", 1), 8: ("KAON-", 1), 9: ("KAON+", 1), 10: ("KAONZERO", 1), 11: ("KAONLONG", 1),
    12: ("PHOTON", 1), 15: ("MUON-", 1), 16: ("MUON+", 1), 21: ("DEUTERON", 2), 22: ("TRITON", 3),
    23: ("3-HELIUM", 3), 24: ("4-HELIUM", 4), 25: ("HEAVYION", 1), 26: ("ELECTRON", 1),
}  # fmt: skip
# FLUKA's element names (ICRU number = Z) for LOW-MAT; FLUKA has low-energy neutron data for these.
ELEMENTS = {
    1: "HYDROGEN", 2: "HELIUM", 3: "LITHIUM", 4: "BERYLLIU", 5: "BORON", 6: "CARBON", 7: "NITROGEN", 8: "OXYGEN",
    9: "FLUORINE", 10: "NEON", 11: "SODIUM", 12: "MAGNESIU", 13: "ALUMINUM", 14: "SILICON", 15: "PHOSPHO",
    16: "SULFUR", 17: "CHLORINE", 18: "ARGON", 19: "POTASSIU", 20: "CALCIUM", 21: "SCANDIUM", 22: "TITANIUM",
    23: "VANADIUM", 24: "CHROMIUM", 25: "MANGANES", 26: "IRON", 27: "COBALT", 28: "NICKEL", 29: "COPPER",
    30: "ZINC", 31: "GALLIUM", 32: "GERMANIU", 33: "ARSENIC", 35: "BROMINE", 36: "KRYPTON", 38: "STRONTIU",
    39: "YTTRIUM", 40: "ZIRCONIU", 41: "NIOBIUM", 42: "MOLYBDEN", 43: "99-TC", 46: "PALLADIU", 47: "SILVER",
    48: "CADMIUM", 49: "INDIUM", 50: "TIN", 51: "ANTIMONY", 53: "IODINE", 54: "XENON", 55: "CESIUM",
    56: "BARIUM", 57: "LANTHANU", 58: "CERIUM", 60: "NEODYMIU", 62: "SAMARIUM", 63: "EUROPIUM", 64: "GADOLINI",
    65: "TERBIUM", 71: "LUTETIUM", 72: "HAFNIUM", 73: "TANTALUM", 74: "TUNGSTEN", 75: "RHENIUM", 77: "IRIDIUM",
    78: "PLATINUM", 79: "GOLD", 80: "MERCURY", 82: "LEAD", 83: "BISMUTH", 89: "230-TH", 92: "233-U",
    94: "239-PU", 95: "241-AM",
}  # fmt: skip
# FLUKA's predefined compounds: ICRU number -> (name, density g/cm3).
COMPOUNDS = {
    276: ("WATER", 1.0), 226: ("POLYSTYR", 1.06), 216: ("PLASCINT", 1.032), 223: ("PMMA", 1.19),
    119: ("BONECOMP", 1.85), 120: ("BONECORT", 1.85), 201: ("MUSCLESK", 1.04), 202: ("MUSCLEST", 1.04),
    103: ("ADTISSUE", 0.92), 179: ("KAPTON", 1.42), 221: ("POLYETHY", 0.94), 104: ("AIR", 0.00120479),
}  # fmt: skip


def what(value) -> str:
    """A WHAT field's text: numbers as floats (4 significant digits when the value's text is long), text as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if len(str(value)) <= 10:
        return repr(float(value))
    return f"{float(value):.3E}"


def card(name: str, whats: list = (), sdum: str = "") -> str:
    """One fixed-format card: codeword (10), six WHATs right-aligned in 10 columns each, then SDUM."""
    fields = [what(value).rjust(10) for value in whats] + [""] * (6 - len(whats))
    text = name.ljust(10) + "".join(field.rjust(10) for field in fields) + sdum
    return text.rstrip()


def fit(value: float, width: int) -> float:
    """The value rounded so its text (a minus sign counted, a plus sign not) fits `width` characters."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if value == 0:
        return 0.0
    decimals = width - 1 - (1 if value < 0 else 0) - max(len(str(int(abs(value)))), 1)
    if decimals < 0:
        raise ValueError(f"{value} does not fit in {width} characters")
    return round(value, decimals)


def _fitted(value: float, path: str) -> float:
    """The value rounded to a 10-character WHAT; InvalidInput when it cannot fit."""
    try:
        return fit(value, 10)
    except ValueError:
        raise fail(path, f"the number {value} is too big for {LABEL}'s 10-character fields") from None


def _fit10(value: float) -> float:
    """A coordinate for a 10-character WHAT: rounded to fit, so it keeps all the digits the field can hold
    (yaptide prints such values with 4 significant digits, 1.530E+01 for 15.299999999999999)."""
    if not math.isfinite(value):
        raise fail("detectorManager", f"a detector coordinate is not a finite number ({value})")
    try:
        return fit(value, 10)
    except ValueError:
        return value  # too big for 10 characters: what() prints it in exponent form


def _geo(value: float, path: str) -> str:
    try:
        rounded = fit(value, 16)
    except ValueError:
        raise fail(path, f"the number {value} is too big for {LABEL}") from None
    return f"{rounded + 0.0:+}"


# --- beam -----------------------------------------------------------------------------------------


def _beam_cards(project: Project) -> list[str]:
    beam = project.beam
    particle = beam.particle
    if particle.id not in PARTICLES:
        raise fail("beam.particle.id", f"particle {particle.id} is not supported by {LABEL}")
    name, nucleons = PARTICLES[particle.id]
    energy = beam.energy
    if name == "HEAVYION":
        energy = beam.energy_per_nucleon(energy)  # FLUKA takes heavy-ion energies per nucleon
    elif nucleons > 1 and beam.energy_unit != "MeV":
        energy *= nucleons  # the editor's number is per nucleon; FLUKA wants the total
    gev = _fitted(-energy / 1000, "beam.energy")
    sigma = beam.sigma or {"type": "Gaussian", "x": 0, "y": 0}
    kind = text_at(sigma, "type", "beam.sigma", default="")
    x, y = number_at(sigma, "x", "beam.sigma", default=0), number_at(sigma, "y", "beam.sigma", default=0)
    if kind == "Gaussian":
        # The editor's sigma; FLUKA's negative WHAT(4,5) are the FWHM of the Gaussian.
        fwhm = [_fitted(-abs(value) * GAUSSIAN_FWHM_PER_SIGMA, "beam.sigma") for value in (x, y)]
        shape = [*fwhm, -1.0]
    elif kind == "Flat circular":
        shape = [y, x, -1.0]
    elif kind == "Flat square":
        shape = [x, y, 0.0]
    else:
        raise fail("beam.sigma.type", f"must be Gaussian, Flat square or Flat circular, got {kind!r}")
    cards = [
        f"* {name} beam of energy {-gev} GeV, {kind.lower()} shape",
        card("BEAM", [gev, 0.0, 0.0, *shape], name),
    ]
    if name == "HEAVYION":
        cards.append(card("HI-PROPE", [particle.z, particle.a, 0.0, 0.0, 0.0, 0.0]))
    dx, dy, dz = beam.direction
    norm = math.sqrt(dx * dx + dy * dy + dz * dz)
    cosines = [fit(dx / norm, 10) + 0.0, fit(dy / norm, 10) + 0.0]
    cards += [
        f"* beam position {beam.position} cm, direction cosines x {cosines[0]}, y {cosines[1]}",
        card("BEAMPOS", [*(_fit10(value) for value in beam.position), *cosines, 0.0], "NEGATIVE" if dz < 0 else ""),
    ]
    return cards


# --- geometry -------------------------------------------------------------------------------------


def _body(name: str, solid: Solid, *, grow: float = 0.0) -> list[str]:
    path = solid.path
    x, y, z = solid.position
    if solid.kind == "box":
        if any(solid.rotation):
            raise fail(f"{path}.rotation", f"rotated boxes are not supported for {LABEL} (RPP bodies are axis-aligned)")
        half = [solid.size(key) / 2 + grow for key in ("width", "height", "depth")]
        values = [x - half[0], x + half[0], y - half[1], y + half[1], z - half[2], z + half[2]]
        return [f"* box {name}", f"RPP {name} " + " ".join(_geo(value, path) for value in values)]
    if solid.kind == "cylinder":
        radius, depth = solid.size("radius") + grow, solid.size("depth") + 2 * grow
        height = rotate((0.0, 0.0, depth), solid.rotation)
        base = [p - h / 2 for p, h in zip(solid.position, height, strict=True)]
        first = " ".join(_geo(value, path) for value in (*base, height[0], height[1]))
        return [f"* cylinder {name}", f"RCC {name} {first}", f"{_geo(height[2], path)} {_geo(radius, path)}"]
    radius = solid.size("radius") + grow
    return [f"* sphere {name}", f"SPH {name} " + " ".join(_geo(value, path) for value in (x, y, z, radius))]


def _region(name: str, tokens: list[str]) -> list[str]:
    """A region card, broken after the token that brings a line to 120 characters."""
    lines, line = [], f"{name} 5"
    for token in tokens:
        line += f" {token}"
        if len(line) >= 120:
            lines.append(line)
            line = ""
    if line:
        lines.append(line)
    return lines


def _geometry(project: Project) -> list[str]:
    for figure in project.figures:
        if figure.solid.kind == "cylinder":
            check_solid_cylinder(figure.solid, LABEL)
    lines = ["* geometry description starts here", card("GEOBEGIN", [], "COMBNAME"), "    0    0"]
    for index, figure in enumerate(project.figures):
        lines += _body(f"fig{index}", figure.solid)
    lines += _body("figworld", project.world.solid)
    lines += _body("figbound", project.world.solid, grow=10.0)
    lines.append("END")
    for index, zone in enumerate(project.zones):
        tokens = []
        for number, group in enumerate(zone.operations):
            items = [f"{'-' if mode == 'subtraction' else '+'}fig{figure}" for mode, figure in group]
            if number and items:
                tokens.append("|")
            tokens += items
        lines += _region(f"region{index}", tokens)
    # The world is what no zone's figure fills; a figure no zone uses stays part of the world.
    used = sorted({figure for zone in project.zones for group in zone.operations for _, figure in group})
    lines += _region("world", ["+figworld", *(f"-fig{index}" for index in used)])
    lines += ["boundary 5 +figbound -figworld", "END", "GEOEND"]
    return lines


# --- materials ------------------------------------------------------------------------------------


class Materials:
    """FLUKA material names of the editor's materials, with the MATERIAL, LOW-MAT and COMPOUND cards they need."""

    def __init__(self, project: Project):
        self.material_cards: list[str] = []
        self.lowmat_cards: list[str] = []
        self.compound_cards: list[str] = []
        self.matprop_cards: list[str] = []
        self.elements = 0
        self.compounds = 0
        self.by_uuid: dict[str, str] = {}
        self.by_zone: dict[int, str] = {}
        for number, material in enumerate(project.materials):
            self.by_uuid.setdefault(material.uuid, self._define(material, f"materialManager.materials[{number}]"))
        for index, zone in enumerate(project.zones):
            if zone.custom is not None:
                self.by_zone[index] = self._define(zone.custom, f"zoneManager.zones[{index}].customMaterial")
        self.world = (
            self._define(project.world.custom, "zoneManager.worldZone.customMaterial")
            if project.world.custom is not None
            else self.by_uuid[project.world.material_uuid]
        )
        for index, zone in enumerate(project.zones):
            if zone.custom is not None and zone.custom.mean_excitation is not None:
                self._matprop(zone.custom.mean_excitation, self.by_zone[index])
        if project.world.custom is not None and project.world.custom.mean_excitation is not None:
            self._matprop(project.world.custom.mean_excitation, self.world)
        for material in project.materials:
            if material.mean_excitation is not None:
                self._matprop(material.mean_excitation, self.by_uuid[material.uuid])

    def _matprop(self, excitation: float, name: str) -> None:
        self.matprop_cards.append(card("MAT-PROP", [0.0, 0.0, excitation, name, 0.0]))

    def _define(self, material: Material, path: str) -> str:
        icru = material.icru
        if icru == BLACK_HOLE_ICRU:
            return "BLCKHOLE"
        if icru == VACUUM_ICRU:
            return "VACUUM"
        density = material.density
        if density is None or density <= 0:
            raise fail(f"{path}.density", f"{LABEL} needs a positive density, got {density!r}")
        if icru in ELEMENTS:
            # Always a material of its own with the editor's density, named for FLUKA's neutron data.
            self.elements += 1
            name = f"MAT{self.elements:05d}"
            self.material_cards.append(card("MATERIAL", [icru, None, density], name))
            self.lowmat_cards.append(card("LOW-MAT", [name], ELEMENTS[icru]))
            return name
        if icru in COMPOUNDS:
            fluka_name, fluka_density = COMPOUNDS[icru]
            if density == fluka_density:
                return fluka_name
            self.compounds += 1
            name = f"COM{self.compounds:05d}"
            self.material_cards.append(card("MATERIAL", [0, None, density], name))
            self.compound_cards.append(card("COMPOUND", [-1.0, fluka_name], name))
            return name
        raise fail(f"{path}.icru", f"material with ICRU {icru} ({material.name}) is not supported by {LABEL}")

    def cards(self) -> list[str]:
        lines = []
        for group in (self.material_cards, self.lowmat_cards, self.compound_cards, self.matprop_cards):
            lines += group
            lines.append("")
        return lines


# --- scoring --------------------------------------------------------------------------------------


def sdum(quantity_name: str, unit: int) -> str:
    """USRBIN's name: 4 characters of the quantity name and 5 of a hash of name and unit (as yaptide makes it)."""
    digest = base64.b64encode(hashlib.sha256(f"{quantity_name}_{unit}".encode()).digest()).decode()
    return f"{quantity_name[:4]}_{digest.replace('+', 'a').replace('/', 'b').replace('=', '')[:5]}"


def _filter_target(item: Filter, path: str) -> tuple[str | None, float | None]:
    """(FLUKA particle name, A/Z code) of a filter FLUKA can apply; InvalidInput for any other filter."""
    if item.particle_id is not None:
        if item.particle_id not in PARTICLES:
            raise fail(f"{item.path}.particle.id", f"particle {item.particle_id} cannot be filtered in {LABEL}")
        return PARTICLES[item.particle_id][0], None
    rules = {keyword: value for keyword, operator, value in item.rules or [] if operator == "=="}
    numeric = all(isinstance(value, int | float) and value == int(value) for value in rules.values())
    if item.rules and len(rules) == len(item.rules) and set(rules) <= {"Z", "A"} and numeric:
        return None, -(100 * rules.get("Z", 0) + 100000 * rules.get("A", 0))
    raise fail(path, f"filter {item.name!r} cannot be applied in {LABEL}: only particle filters or Z/A == rules")


def _usrbin(output, quantity: Quantity, unit: int, index: int) -> list[str]:
    keyword = quantity.keyword
    particle, code = _filter_target(quantity.filter, f"{quantity.path}.filter") if quantity.filter else (None, None)
    if keyword == "Dose":
        score, aux = "DOSE", particle or code
    elif keyword == "Fluence":
        score = particle or "ALL-PART"
        aux = code
    else:
        raise fail(f"{quantity.path}.keyword", f"quantity {keyword!r} cannot be scored in {LABEL} (Dose or Fluence)")
    detector = output.detector
    path = f"{detector.path}.geometryData"
    if any(detector.rotation):
        raise fail(f"{path}.rotation", f"rotated detectors cannot be scored by {LABEL}")
    x, y, z = detector.position
    depth = detector.size("depth")
    name = sdum(quantity.name, unit)
    if detector.kind == "Mesh":
        half = [detector.size("width") / 2, detector.size("height") / 2, depth / 2]
        bins = [detector.bins("xSegments"), detector.bins("ySegments"), detector.bins("zSegments")]
        first = [10.0, score, -unit, *(_fit10(value) for value in (x + half[0], y + half[1], z + half[2]))]
        second = [*(_fit10(value) for value in (x - half[0], y - half[1], z - half[2])), *bins]
    else:
        first = [11.0, score, -unit, *(_fit10(value) for value in (detector.size("radius"), y, z + depth / 2))]
        bins = [detector.bins("radialSegments"), 1, detector.bins("zSegments")]
        second = [*(_fit10(value) for value in (detector.size("innerRadius"), x, z - depth / 2)), *bins]
    lines = [
        f"* {keyword} in output {output.name} on detector {detector.name}",
        card("USRBIN", first, name),
        card("USRBIN", second, "&"),
    ]
    if aux is not None:
        lines.append(card("AUXSCORE", ["USRBIN", aux, None, index, index, 1]))
    return lines


def output_units(project: dict) -> dict[int, str]:
    """FLUKA output unit -> editor output name, as convert() numbers them."""
    return {FIRST_UNIT + index: output.name for index, output in enumerate(parse(project).outputs)}


def _scoring(project: Project) -> list[str]:
    lines = ["* generated scoring cards"]
    index = 0
    for number, output in enumerate(project.outputs):
        if output.detector.kind not in ("Mesh", "Cyl"):
            raise fail(
                f"{output.path}.detectorUuid",
                f"{LABEL} scores on Mesh and Cyl detectors only, detector {output.detector.name!r} is "
                f"{output.detector.kind}",
            )
        for quantity in output.quantities:
            index += 1
            lines += _usrbin(output, quantity, FIRST_UNIT + number, index)
    return lines


def convert(project: dict) -> dict[str, str]:
    """FLUKA input files (name -> text) for an editor project; InvalidInput for what it cannot express."""
    parsed = parse(project)
    if parsed.modulator:
        raise fail("specialComponentsManager.modulator", f"beam modulators are not supported by {LABEL}")
    if parsed.beam.source_type == "file":
        raise fail("beam.sourceType", f"a beam from a source file (sobp.dat) is not supported by {LABEL}")
    materials = Materials(parsed)
    lines = [
        "TITLE",
        "proton beam simulation",
        "* default physics settings for hadron therapy",
        card("DEFAULTS", [], "HADROTHE"),
        *_beam_cards(parsed),
        *_geometry(parsed),
        *materials.cards(),
    ]
    for index in range(len(parsed.zones)):
        zone = parsed.zones[index]
        material = materials.by_zone[index] if zone.custom is not None else materials.by_uuid[zone.material_uuid]
        lines.append(card("ASSIGNMA", [material, f"region{index}"]))
    lines += [card("ASSIGNMA", [materials.world, "world"]), card("ASSIGNMA", ["BLCKHOLE", "boundary"])]
    lines += _scoring(parsed)
    lines += [
        "* random number generator settings",
        card("RANDOMIZ", [None, "137"]),
        "* number of particles to simulate",
        card("START", [parsed.beam.number_of_particles]),
        "STOP",
    ]
    return {INPUT_NAME: "\n".join(lines) + "\n", "info.json": INFO}
