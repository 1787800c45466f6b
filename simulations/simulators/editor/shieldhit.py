"""Editor project -> SHIELD-HIT12A input: beam.dat, mat.dat, geo.dat (fixed columns), detect.dat, info.json.

Numbering follows yaptide's converter: bodies 1..F in figure order, the world body F+1 and, when the world
is not the black hole, a black-hole wrapper body F+2; zones 1..K in zone order, then the world zone split into
AND-only pieces, then the wrapper zone. Media are counted over mat.dat's entries (0 black hole, 1000 vacuum).
"""

import math
import re

from . import (
    BLACK_HOLE_ICRU,
    VACUUM_ICRU,
    Beam,
    Detector,
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
    section_at,
    text_at,
)

LABEL = "SHIELD-HIT12A"
INFO = "{'version': '', 'label': '', 'simulator': 'shieldhit'}"
# SHIELD-HIT12A's JPART0 particle codes (1..25); 25 is a heavy ion given by HIPROJ A Z.
PARTICLES = {
    1: "Neutron", 2: "Proton", 3: "Pion-", 4: "Pion+", 5: "Pion0", 6: "Anti-neutron", 7: "Anti-proton",
    8: "Kaon-", 9: "Kaon+", 10: "Kaon0", 11: "Anti-kaon0", 12: "Gamma", 13: "Electron", 14: "Positron",
    15: "Muon-", 16: "Muon+", 17: "E-neutrino", 18: "E-anti-neutrino", 19: "Mu-neutrino", 20: "Mu-anti-neutrino",
    21: "Deuteron", 22: "Triton", 23: "He-3", 24: "He-4", 25: "Heavy ion",
}  # fmt: skip
STRAGGLING = {"Vavilov": 2, "Gaussian": 1, "no straggling": 0}
SCATTERING = {"Moliere": 2, "Gaussian": 1, "no scattering": 0}
# detect.dat quantity keywords SHIELD-HIT12A knows (its scorer names; case as SHIELD-HIT12A spells them).
QUANTITIES = {
    name.lower(): name
    for name in (
        "Energy Fluence CrossFlu LETFlu Dose dLET tLET AvgEnergy AvgBeta SPC Material DDD Alanine Counter PET "
        "dLETg tLETg Zone Medium Rho Q FluChar FluNeut FluNEqv Angle KineticEnergy EnergyNuc EnergyAmu A AMass AMU "
        "GEN ID dEdx MassdEdx TrackLength NKerma DoseGy DoseEqv EqvDose NEqvDose Z2Beta2 DoseAvZ2Beta2 "
        "TrackAvZ2Beta2 DoseAvQ TrackAvQ Z Zeff Zeff2Beta2 TZeff2Beta2 DZeff2Beta2 Count NormCountPoint CountPoint "
        "MoCaYF MoCaYD"
    ).split()
}
# Particle filters as Z/A or ID rules (SHIELD-HIT12A particle codes for pions, kaons and muons).
PARTICLE_FILTERS = {
    1: [("Z", "==", 0), ("A", "==", 1)],
    2: [("Z", "==", 1), ("A", "==", 1)],
    7: [("Z", "==", -1), ("A", "==", 1)],
    21: [("Z", "==", 1), ("A", "==", 2)],
    22: [("Z", "==", 1), ("A", "==", 3)],
    23: [("Z", "==", 2), ("A", "==", 3)],
    24: [("Z", "==", 2), ("A", "==", 4)],
    **{code: [("ID", "==", code)] for code in (3, 4, 5, 8, 9, 10, 11, 15, 16)},
}


def raw(value) -> str:
    """A JSON number as the editor wrote it: integers without a decimal point, floats as Python's repr."""
    return str(value)


def fit(value: float, width: int = 10) -> str:
    """The number rounded so it fits `width` characters, printed as Python's shortest float repr."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if value == 0:
        return "0.0"
    integer_digits = max(len(str(int(abs(value)))), 1)
    decimals = width - 1 - (1 if value < 0 else 0) - integer_digits
    if decimals < 0:
        raise ValueError(f"{value} does not fit in {width} characters")
    text = repr(round(value, decimals))
    return "0.0" if text == "-0.0" else text


def _field(value: float, path: str) -> str:
    try:
        return fit(value).rjust(10)
    except ValueError:
        raise fail(path, f"the number {value} is too big for geo.dat's 10-character fields") from None


# --- beam.dat -------------------------------------------------------------------------------------


def _beam_dat(project: Project) -> tuple[str, dict[str, str]]:
    beam: Beam = project.beam
    particle = beam.particle
    if particle.id not in PARTICLES:
        raise fail("beam.particle.id", f"particle {particle.id} is not a {LABEL} particle (JPART0 is 1..25)")
    physic = project.physic
    extra: dict[str, str] = {}
    name = f" ({particle.name})" if particle.name else ""
    lines = [
        "",
        "RNDSEED      \t89736501     ! Random seed",
        f"JPART0       \t{particle.id}            ! Incident particle type{name}",
        f"HIPROJ     \t{particle.a} {particle.z}           ! A and Z of the heavy ion"
        if particle.id == 25
        else "! no heavy ion",
        f"TMAX0      \t{float(beam.energy_per_nucleon(beam.energy))!r} "
        f"{float(beam.energy_per_nucleon(beam.energy_spread))!r}       "
        "! Incident energy and energy spread; both in (MeV/nucl)",
    ]
    if beam.low_cutoff is not None:
        low, high = beam.energy_per_nucleon(beam.low_cutoff), beam.energy_per_nucleon(beam.high_cutoff)
        lines.append(f"TCUT0       {raw(low)} {raw(high)}  ! energy cutoffs [MeV]")
    else:
        lines.append("! no energy cutoffs")
    lines += [
        f"NSTAT       {beam.number_of_particles}    0       ! NSTAT, Step of saving",
        f"STRAGG          {_choice(physic, 'energyModelStraggling', STRAGGLING)}            "
        "! Straggling: 0-Off 1-Gauss, 2-Vavilov",
        f"MSCAT           {_choice(physic, 'multipleScattering', SCATTERING)}            "
        "! Mult. scatt 0-Off 1-Gauss, 2-Moliere",
        f"NUCRE           {1 if physic.get('enableNuclearReactions', True) else 0}            "
        "! Nucl.Reac. switcher: 1-ON, 0-OFF",
    ]
    lines += _modulator_lines(project, extra)
    x, y, z = beam.direction
    theta = math.degrees(math.acos(z / math.sqrt(x * x + y * y + z * z)))
    phi = math.degrees(math.atan2(y, x)) % 360.0
    lines += [
        f"BEAMPOS         {' '.join(raw(value) for value in beam.position)} ! Position of the beam",
        f"BEAMDIR         {theta!r} {phi!r} ! Direction of the beam",
        f"BEAMSIGMA       {_sigma(beam)}  ! Beam extension",
        _sad(beam),
        f"DELTAE          {raw(number_at(physic, 'energyLoss', 'physic', default=0.03))}   "
        "! relative mean energy loss per transportation step",
    ]
    if beam.source_type == "file":
        content = beam.source_file.get("value")
        if not isinstance(content, str) or not content.strip():
            raise fail("beam.sourceFile.value", "a beam of sourceType 'file' needs the source file's text")
        extra["sobp.dat"] = content
        lines.append("USECBEAM   sobp.dat   ! Use custom beam source file")
    return "\n".join(lines) + "\n", extra


def _choice(physic: dict, key: str, table: dict[str, int]) -> int:
    value = physic.get(key)
    if value is None:
        return 2
    if not isinstance(value, str) or value not in table:
        raise fail(f"physic.{key}", f"must be one of {', '.join(table)}, got {value!r}")
    return table[value]


def _sigma(beam: Beam) -> str:
    sigma = beam.sigma
    if sigma is None:
        return "-0.1 0.1"
    kind = text_at(sigma, "type", "beam.sigma", default="")
    x, y = abs(number_at(sigma, "x", "beam.sigma", default=0)), abs(number_at(sigma, "y", "beam.sigma", default=0))
    if kind == "Gaussian":
        return f"{raw(x)} {raw(y)}"
    if kind == "Flat square":
        return f"{raw(-x)} {raw(-y)}"
    if kind == "Flat circular":
        return f"1.0 {raw(-y)}"
    raise fail("beam.sigma.type", f"must be Gaussian, Flat square or Flat circular, got {kind!r}")


def _sad(beam: Beam) -> str:
    sad = beam.sad or {"type": "none"}
    kind = text_at(sad, "type", "beam.sad", default="none")
    if kind == "double":
        x, y = number_at(sad, "x", "beam.sad"), number_at(sad, "y", "beam.sad")
        return f"BEAMSAD {raw(x)} {raw(y)}  ! BEAMSAD value [cm]"
    if kind == "single":
        return f"BEAMSAD {raw(number_at(sad, 'x', 'beam.sad'))}  ! BEAMSAD value [cm]"
    if kind in (None, "none"):
        return "! no BEAMSAD value"
    raise fail("beam.sad.type", f"must be none, single or double, got {kind!r}")


def _modulator_lines(project: Project, extra: dict[str, str]) -> list[str]:
    modulator = project.modulator
    if not modulator:
        return ["! no beam modulator"]
    path = "specialComponentsManager.modulator"
    parameters = section_at(section_at(modulator, "geometryData", path), "parameters", f"{path}.geometryData")
    where = f"{path}.geometryData.parameters"
    zone = project.zone_index(text_at(parameters, "zoneUuid", where), f"{where}.zoneUuid") + 1
    source = section_at(modulator, "sourceFile", path)
    name, content = text_at(source, "name", f"{path}.sourceFile", default=""), source.get("value")
    if not name or not isinstance(content, str) or "/" in name:
        raise fail(f"{path}.sourceFile", "a beam modulator needs its file's name (a plain file name) and text")
    method = text_at(modulator, "simulationMethod", path, default="modulus")
    if method not in ("modulus", "sampling"):
        raise fail(f"{path}.simulationMethod", f"must be modulus or sampling, got {method!r}")
    extra[name] = content
    return [
        f"USEBMOD         {zone} {name} ! Zone# and file name for beam modulator",
        f"BMODMC          {1 if method == 'sampling' else 0} ! Beam modulator: 0-modulus, 1-sampling",
        "BMODTRANS       0 ! Beam modulator transport in material (0) or vacuum (1)",
    ]


# --- mat.dat --------------------------------------------------------------------------------------


class Media:
    """mat.dat's entries and the medium number of each material uuid and each custom-material zone."""

    def __init__(self, project: Project):
        self.blocks: list[str] = []
        self.by_uuid: dict[str, int] = {}
        self.by_zone: dict[int, int] = {}
        for material in project.materials:
            if material.icru in (BLACK_HOLE_ICRU, VACUUM_ICRU):
                continue
            self.by_uuid.setdefault(material.uuid, self._add(material, density=None, path=""))
        for index, zone in enumerate(project.zones):
            if zone.custom is not None:
                if zone.custom_stopping_power:
                    raise fail(
                        f"zoneManager.zones[{index}].materialPropertiesOverrides.customStoppingPower",
                        f"custom stopping power files are not supported by this {LABEL} converter",
                    )
                path = f"zoneManager.zones[{index}].materialPropertiesOverrides.density"
                self.by_zone[index] = self._add(zone.custom, density=zone.custom.density, path=path)
        self.materials = {material.uuid: material for material in project.materials}

    def _add(self, material: Material, *, density: float | None, path: str) -> int | None:
        if material.icru == BLACK_HOLE_ICRU:
            return 0
        if material.icru == VACUUM_ICRU:
            return VACUUM_ICRU
        lines = [f"MEDIUM {len(self.blocks) + 1}", f"ICRU {material.icru}"]
        if density is not None:
            if density <= 0:
                raise fail(path, f"a density must be greater than 0, got {density!r}")
            try:
                lines.append(f"RHO {fit(density)}")
            except ValueError:
                raise fail(path, f"the density {density} does not fit mat.dat's 10 characters") from None
        self.blocks.append("\n".join(lines) + "\nEND\n")
        return len(self.blocks)

    def of_material(self, uuid: str) -> int:
        material = self.materials[uuid]
        if material.icru == BLACK_HOLE_ICRU:
            return 0
        if material.icru == VACUUM_ICRU:
            return VACUUM_ICRU
        return self.by_uuid[uuid]

    def text(self) -> str:
        return "".join(self.blocks)


# --- geo.dat --------------------------------------------------------------------------------------


def _body_lines(number: int, solid: Solid, name: str, *, grow: float = 0.0) -> list[str]:
    """The body card of a figure (2 lines for RCC and BOX); `grow` enlarges it (the wrapper of the world)."""
    path = solid.path
    position = solid.position
    if solid.kind == "cylinder":
        radius, depth = solid.size("radius") + grow, solid.size("depth") + 2 * grow
        height = rotate((0.0, 0.0, depth), solid.rotation)
        base = tuple(p - h / 2 for p, h in zip(position, height, strict=True))
        head = f"  RCC{number:>5d}" + "".join(_field(value, path) for value in (*base, *height))
        comment = f"* cylinder {name}: base {base}, height vector {height}, radius {radius}"
        return [comment, head, " " * 10 + _field(radius, path)]
    if solid.kind == "box":
        edges = [
            rotate((solid.size("width") + 2 * grow, 0.0, 0.0), solid.rotation),
            rotate((0.0, solid.size("height") + 2 * grow, 0.0), solid.rotation),
            rotate((0.0, 0.0, solid.size("depth") + 2 * grow), solid.rotation),
        ]
        corner = tuple(p - sum(edge[axis] for edge in edges) / 2 for axis, p in enumerate(position))
        head = f"  BOX{number:>5d}" + "".join(_field(value, path) for value in (*corner, *edges[0]))
        comment = f"* box {name}: corner {corner}, rotation {solid.rotation} degrees"
        return [comment, head, " " * 10 + "".join(_field(value, path) for value in (*edges[1], *edges[2]))]
    radius = solid.size("radius") + grow
    return [f"* sphere {name}", f"  SPH{number:>5d}" + "".join(_field(value, path) for value in (*position, radius))]


def zone_groups(operations: list[list[tuple[str, int]]]) -> list[list[int]]:
    """A zone's OR groups of signed 1-based body numbers: union opens a group, subtraction negates."""
    groups: list[list[int]] = []
    for mode, index in (item for group in operations for item in group):
        number = index + 1
        if mode == "union" or not groups:
            groups.append([number])
        else:
            body = -number if mode == "subtraction" else number
            if body not in groups[-1]:
                groups[-1].append(body)
    return groups


def world_pieces(world_body: int, user_groups: list[list[int]]) -> list[list[int]]:
    """The world body AND NOT every user group, distributed into AND-only pieces (contradictions dropped)."""
    pieces = [[world_body]]
    for group in user_groups:
        expanded = []
        for piece in pieces:
            for member in group:
                if member in piece:
                    # NOT member contradicts the piece.
                    continue
                candidate = piece if -member in piece else [*piece, -member]
                expanded.append(candidate)
        pieces = expanded
    return pieces


def _zone_line(number: int, groups: list[list[int]]) -> str:
    parts = []
    for group_number, group in enumerate(groups):
        for position, body in enumerate(group):
            operator = "OR" if group_number and position == 0 else "  "
            parts.append(f"{operator}{body:>+5d}")
    return f"  {number:03d}     " + "".join(parts)


def _table(values: list[int]) -> list[str]:
    return ["".join(f"{value:>5d}" for value in values[start : start + 14]) for start in range(0, len(values), 14)]


def _geo_dat(project: Project, media: Media) -> str:
    for figure in project.figures:
        if figure.solid.kind == "cylinder":
            check_solid_cylinder(figure.solid, LABEL)
    lines = ["", f"    0    0          {project.title or 'Unnamed geometry'}"]
    for number, figure in enumerate(project.figures, start=1):
        lines += _body_lines(number, figure.solid, figure.name)
    world_body = len(project.figures) + 1
    lines += _body_lines(world_body, project.world.solid, "World Zone")
    world_medium = _world_medium(project, media)
    wrapped = world_medium != 0
    if wrapped:
        lines += _body_lines(world_body + 1, project.world.solid, "black hole around the world", grow=1.0)
    lines.append("  END")

    zone_media = []
    all_groups = []
    for index, zone in enumerate(project.zones):
        groups = zone_groups(zone.operations)
        all_groups += groups
        lines.append(_zone_line(index + 1, groups))
        zone_media.append(media.by_zone[index] if zone.custom is not None else media.of_material(zone.material_uuid))
    for piece in world_pieces(world_body, all_groups):
        zone_media.append(world_medium)
        lines.append(_zone_line(len(zone_media), [piece]))
    if wrapped:
        zone_media.append(0)
        lines.append(_zone_line(len(zone_media), [[world_body + 1, -world_body]]))
    lines.append("  END")
    lines += _table(list(range(1, len(zone_media) + 1)))
    lines += _table(zone_media)
    return "\n".join(lines) + "\n"


def _world_medium(project: Project, media: Media) -> int:
    world = project.world
    if world.custom is not None:
        if world.custom.icru in (BLACK_HOLE_ICRU, VACUUM_ICRU):
            return 0 if world.custom.icru == BLACK_HOLE_ICRU else VACUUM_ICRU
        if "world" not in media.by_uuid:
            path = "zoneManager.worldZone.materialPropertiesOverrides.density"
            media.by_uuid["world"] = media._add(world.custom, density=world.custom.density, path=path)
        return media.by_uuid["world"]
    return media.of_material(world.material_uuid)


# --- detect.dat -----------------------------------------------------------------------------------


def _g(value: float) -> str:
    return f"{value:g}"


def _one_word(name: str, path: str, what: str) -> str:
    """detect.dat reads names as single words: a name with a blank would be cut there."""
    if not name or any(character.isspace() for character in name):
        raise fail(path, f"{LABEL} needs {what} names without blanks, got {name!r}")
    return name


def _geometry_block(project: Project, detector: Detector) -> str:
    _one_word(detector.name, f"{detector.path}.name", "detector")
    lines = [f"Geometry {detector.kind}", f"    Name {detector.name}"]
    path = f"{detector.path}.geometryData"
    if detector.kind in ("Cyl", "Mesh") and any(detector.rotation):
        raise fail(f"{path}.rotation", f"rotated {detector.kind} detectors cannot be scored by {LABEL}")
    x, y, z = detector.position
    depth = detector.size("depth") if detector.kind in ("Cyl", "Mesh") else 0.0
    if detector.kind == "Cyl":
        if x or y:
            raise fail(f"{path}.position", f"{LABEL} scores cylinders on the beam (z) axis only; x and y must be 0")
        lines.append(
            f"    R {_g(detector.size('innerRadius'))} {_g(detector.size('radius'))} {detector.bins('radialSegments')}"
        )
        lines.append(f"    Z {_g(z - depth / 2)} {_g(z + depth / 2)} {detector.bins('zSegments')}")
    elif detector.kind == "Mesh":
        for axis, centre, size, bins in (
            ("X", x, detector.size("width"), "xSegments"),
            ("Y", y, detector.size("height"), "ySegments"),
            ("Z", z, depth, "zSegments"),
        ):
            lines.append(f"    {axis} {_g(centre - size / 2)} {_g(centre + size / 2)} {detector.bins(bins)}")
    elif detector.kind == "Zone":
        zone_uuid = detector.params.get("zoneUuid")
        zone = project.zone_index(zone_uuid, f"{path}.parameters.zoneUuid") + 1
        lines += [f"    Zone {zone} ", "    Volume 1.000000"]
    return "\n".join(lines) + "\n"


def _filter_block(item: Filter) -> str:
    if item.rules is not None:
        rules = item.rules
    elif item.particle_id in PARTICLE_FILTERS:
        rules = PARTICLE_FILTERS[item.particle_id]
    elif item.particle_id is not None:
        raise fail(f"{item.path}.particle.id", f"particle {item.particle_id} cannot be filtered in {LABEL}")
    else:
        raise fail(item.path, f"filter {item.name!r} has neither rules nor a particle that {LABEL} can use")
    for number, (_, operator, _) in enumerate(rules):
        if operator not in FILTER_OPERATORS:
            raise fail(f"{item.path}.rules[{number}].operator", f"must be one of {' '.join(FILTER_OPERATORS)}")
    lines = ["Filter", f"    Name {_one_word(item.name, f'{item.path}.name', 'filter')}"]
    lines += [f"    {keyword} {operator} {raw(value)}" for keyword, operator, value in rules]
    return "\n".join(lines) + "\n"


FILTER_OPERATORS = ("==", "!=", "<", ">", "<=", ">=")
SETTING_KEYS = ("rescale", "offset", "primaries", "medium", "materialUuid")


def _settings_name(quantity: Quantity, media: Media) -> str:
    settings = quantity.raw
    name = quantity.name
    if re.fullmatch(r"Quantity(_\d+)?", name):
        prefix = "Absolute_" if settings.get("primaries") is not None else "Rescaled_" if "rescale" in settings else ""
        suffix = ""
        if settings.get("medium"):
            suffix = f"_to_{settings['medium']}"
        elif settings.get("materialUuid") in media.materials:
            suffix = f"_to_{media.materials[settings['materialUuid']].sanitized_name}"
        return f"{prefix}{quantity.keyword}_{name}{suffix}"
    return re.sub(r"\W", "", name)


def _settings_block(quantity: Quantity, media: Media) -> str:
    settings = quantity.raw
    lines = ["Settings", f"    Name {_settings_name(quantity, media)}"]
    if settings.get("rescale") is not None:
        lines.append(f"    Rescale {raw(settings['rescale'])}")
    if settings.get("offset") is not None:
        lines.append(f"    Offset {raw(settings['offset'])}")
    if settings.get("primaries") is not None:
        lines.append(f"    Primaries {raw(settings['primaries'])}")
    if settings.get("materialUuid"):
        if settings["materialUuid"] not in media.materials:
            raise fail(f"{quantity.path}.materialUuid", "is not in materialManager.materials")
        lines.append(f"    Medium {media.of_material(settings['materialUuid'])}")
    if settings.get("medium"):
        lines.append(f"    NKMedium {settings['medium']}")
    return "\n".join(lines) + "\n"


def _output_block(output, settings_names: dict[str, str]) -> str:
    name = _one_word(output.name, f"{output.path}.name", "output")
    lines = ["Output", f"    Filename {name}.bdo", f"    Geo {output.detector.name}"]
    for quantity in output.quantities:
        keyword = QUANTITIES.get(quantity.keyword.lower())
        if keyword is None:
            raise fail(f"{quantity.path}.keyword", f"quantity {quantity.keyword!r} is not a {LABEL} scorer")
        filter_name = quantity.filter.name if quantity.filter else ""
        lines.append(f"    Quantity {keyword} {filter_name} {settings_names.get(quantity.uuid, '')}")
        if len(quantity.modifiers) > 2:
            raise fail(f"{quantity.path}.modifiers", f"{LABEL} takes at most two differential modifiers")
        for number, modifier in enumerate(quantity.modifiers, start=1):
            log = " log" if modifier.log else ""
            lines.append(f"    Diff{number} {raw(modifier.lower)} {raw(modifier.upper)} {modifier.bins}{log} ")
            lines.append(f"    Diff{number}Type {modifier.diff_type}")
    return "\n".join(lines) + "\n"


def _detect_dat(project: Project, media: Media) -> str:
    geometries = [_geometry_block(project, detector) for detector in project.detectors]
    filters = [_filter_block(item) for item in project.filters]
    settings, settings_names = [], {}
    for output in project.outputs:
        for quantity in output.quantities:
            if any(quantity.raw.get(key) is not None for key in SETTING_KEYS):
                settings.append(_settings_block(quantity, media))
                settings_names[quantity.uuid] = _settings_name(quantity, media)
    outputs = [_output_block(output, settings_names) for output in project.outputs]
    sections = ["\n".join(geometries), "".join(filters), "\n".join(settings), "\n".join(outputs)]
    return "\n".join(section for section in sections if section)


def convert(project: dict) -> dict[str, str]:
    """SHIELD-HIT12A input files (name -> text) for an editor project; InvalidInput for what it cannot express."""
    parsed = parse(project)
    beam, extra = _beam_dat(parsed)
    media = Media(parsed)
    geo = _geo_dat(parsed, media)
    detect = _detect_dat(parsed, media)
    return {"beam.dat": beam, "mat.dat": media.text(), "detect.dat": detect, "geo.dat": geo, "info.json": INFO, **extra}
