"""Reading a yaptide editor project (the UI's JSON): figures, zones, materials, beam, detectors and scoring.

Each simulator's converter (shieldhit.py, fluka.py, topas.py here) turns the parsed `Project` into that
simulator's input files. Everything a converter needs is checked here once, and anything missing or malformed
is an InvalidInput naming the field (`input_json.<path>`) and the reason.
"""

import copy
import math
from dataclasses import dataclass, field

from yaptide_site.errors import InvalidInput

BLACK_HOLE_ICRU = 0
VACUUM_ICRU = 1000

# geometryType -> the body kind every simulator shares (yaptide's UI spells the cylinder two ways).
FIGURE_KINDS = {
    "HollowCylinderGeometry": "cylinder",
    "CylinderGeometry": "cylinder",
    "CyliderGeometry": "cylinder",
    "BoxGeometry": "box",
    "SphereGeometry": "sphere",
}
DETECTOR_KINDS = {"Cyl", "Mesh", "Zone", "All"}


def _fail(path: str, reason: str) -> InvalidInput:
    return InvalidInput(f"input_json.{path}: {reason}", field="input_json")


def _get(obj: dict, key: str, path: str):
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        raise _fail(f"{path}.{key}" if path else key, "is missing")
    return obj[key]


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _item(value, path: str) -> dict:
    """An element of a list that must be an object."""
    if not isinstance(value, dict):
        raise _fail(path, f"must be an object, got {_shown(value)}")
    return value


def _text(obj: dict, key: str, path: str, default: str | None = None) -> str:
    """A name, uuid or keyword: text (a number is taken as its text); InvalidInput for anything else."""
    if default is not None and (not isinstance(obj, dict) or obj.get(key) is None):
        return default
    value = _get(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(f"{path}.{key}" if path else key, f"must be text, got {_shown(value)}")
    return str(value)


def _section(obj: dict, key: str, path: str) -> dict:
    """An optional object (a manager, physic): {} when absent; InvalidInput when it is not an object."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(f"{path}.{key}" if path else key, f"must be an object, got {_shown(value)}")
    return value


def _dict(obj: dict, key: str, path: str) -> dict:
    value = _get(obj, key, path)
    if not isinstance(value, dict):
        raise _fail(f"{path}.{key}", "must be an object")
    return value


def _list(obj: dict, key: str, path: str, *, required: bool = True) -> list:
    if not required and (not isinstance(obj, dict) or obj.get(key) is None):
        return []
    value = _get(obj, key, path)
    if not isinstance(value, list):
        raise _fail(f"{path}.{key}", "must be a list")
    return value


def _number(obj: dict, key: str, path: str, default: float | None = None) -> float:
    if default is not None and (not isinstance(obj, dict) or obj.get(key) is None):
        return default
    value = _get(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"{path}.{key}", f"must be a number, got {_shown(value)}")
    return value


def _vector(obj: dict, key: str, path: str, default: tuple | None = None) -> tuple[float, float, float]:
    if default is not None and (not isinstance(obj, dict) or obj.get(key) is None):
        return default
    value = _get(obj, key, path)
    if not isinstance(value, list) or len(value) != 3:
        raise _fail(f"{path}.{key}", "must be a list of 3 numbers")
    return tuple(_number({"v": item}, "v", f"{path}.{key}[{index}]") for index, item in enumerate(value))


@dataclass(frozen=True)
class Solid:
    """A figure's (or the world zone's) shape: kind, centre, rotation in degrees, and its size parameters."""

    kind: str  # cylinder, box, sphere
    position: tuple[float, float, float]
    rotation: tuple[float, float, float]
    params: dict
    path: str

    def size(self, name: str) -> float:
        """A size parameter (radius, depth, width, height); InvalidInput unless it is a number above 0."""
        value = _number(self.params, name, f"{self.path}.parameters")
        if value <= 0:
            raise _fail(f"{self.path}.parameters.{name}", f"must be greater than 0, got {value!r}")
        return value


@dataclass(frozen=True)
class Figure:
    uuid: str
    name: str
    solid: Solid


@dataclass(frozen=True)
class Material:
    uuid: str
    name: str
    sanitized_name: str
    icru: int
    density: float | None
    mean_excitation: float | None = None


@dataclass(frozen=True)
class Zone:
    """A user zone: its figures combined as `operations` (lists of (mode, figure index)) and its material."""

    uuid: str
    name: str
    operations: list[list[tuple[str, int]]]
    material_uuid: str
    custom: Material | None  # a zone's own material (customMaterial with materialPropertiesOverrides)
    custom_stopping_power: bool = False


@dataclass(frozen=True)
class World:
    solid: Solid
    material_uuid: str
    custom: Material | None


@dataclass(frozen=True)
class Particle:
    id: int
    a: int
    z: int
    name: str


@dataclass(frozen=True)
class Beam:
    particle: Particle
    energy: float
    energy_spread: float
    energy_unit: str | None
    low_cutoff: float | None
    high_cutoff: float | None
    number_of_particles: int
    position: tuple[float, float, float]
    direction: tuple[float, float, float]
    sigma: dict | None
    sad: dict | None
    source_type: str
    source_file: dict

    def energy_per_nucleon(self, value: float) -> float:
        """An energy value in MeV/nucleon: the editor's number as typed, divided by A when its unit is MeV."""
        if self.energy_unit == "MeV" and self.particle.a > 1 and self.particle.id in (21, 22, 23, 24, 25):
            return value / self.particle.a
        return value


@dataclass(frozen=True)
class Detector:
    uuid: str
    name: str
    kind: str  # Cyl, Mesh, Zone, All
    position: tuple[float, float, float]
    rotation: tuple[float, float, float]
    params: dict
    path: str

    def size(self, name: str) -> float:
        return _number(self.params, name, f"{self.path}.geometryData.parameters")

    def bins(self, name: str) -> int:
        value = self.size(name)
        if value != int(value) or value < 1:
            raise _fail(f"{self.path}.geometryData.parameters.{name}", f"must be a whole number >= 1, got {value!r}")
        return int(value)


@dataclass(frozen=True)
class Filter:
    uuid: str
    name: str
    rules: list[tuple[str, str, object]] | None  # (keyword, operator, value) of a custom filter
    particle_id: int | None  # a particle filter
    path: str


@dataclass(frozen=True)
class Modifier:
    diff_type: str
    lower: float
    upper: float
    bins: int
    log: bool


@dataclass(frozen=True)
class Quantity:
    uuid: str
    name: str
    keyword: str
    filter: Filter | None
    modifiers: list[Modifier]
    raw: dict
    path: str


@dataclass(frozen=True)
class Output:
    name: str
    detector: Detector
    quantities: list[Quantity]
    path: str


@dataclass
class Project:
    title: str
    figures: list[Figure]
    zones: list[Zone]
    world: World
    materials: list[Material]
    beam: Beam
    detectors: list[Detector]
    filters: list[Filter]
    outputs: list[Output]
    physic: dict
    modulator: dict | None = None
    raw: dict = field(default_factory=dict)

    def material(self, uuid: str, path: str) -> Material:
        for material in self.materials:
            if material.uuid == uuid:
                return material
        raise _fail(path, f"material {uuid!r} is not in materialManager.materials")

    def zone_index(self, uuid: str, path: str) -> int:
        for index, zone in enumerate(self.zones):
            if zone.uuid == uuid:
                return index
        raise _fail(path, f"zone {uuid!r} is not in zoneManager.zones")


def _solid(geometry: dict, path: str) -> Solid:
    geometry_type = _text(geometry, "geometryType", path)
    kind = FIGURE_KINDS.get(geometry_type)
    if kind is None:
        raise _fail(f"{path}.geometryType", f"figure type {geometry_type!r} is not supported")
    params = _dict(geometry, "parameters", path)
    return Solid(
        kind=kind,
        position=_vector(geometry, "position", path),
        rotation=_vector(geometry, "rotation", path, default=(0.0, 0.0, 0.0)),
        params=params,
        path=path,
    )


def _material(entry: dict, path: str) -> Material:
    _item(entry, path)
    icru = _number(entry, "icru", path)
    if icru != int(icru):
        raise _fail(f"{path}.icru", f"must be a whole number, got {icru!r}")
    density = entry.get("density")
    if density is not None:
        density = _number(entry, "density", path)
    excitation = _number(entry, "averageIonisationPotential", path, default=-1.0)
    return Material(
        uuid=_text(entry, "uuid", path),
        name=_text(entry, "name", path, default=""),
        sanitized_name=_text(entry, "sanitizedName", path, default=""),
        icru=int(icru),
        density=density,
        mean_excitation=excitation if excitation >= 0 else None,
    )


def _custom_material(entry: dict, path: str) -> tuple[Material | None, bool]:
    """The zone's own material when it has one (a customMaterial and materialPropertiesOverrides)."""
    custom = entry.get("customMaterial")
    if not isinstance(custom, dict) or "materialPropertiesOverrides" not in entry:
        return None, False
    overrides = _section(entry, "materialPropertiesOverrides", path)
    base = _material(custom, f"{path}.customMaterial")
    where = f"{path}.materialPropertiesOverrides"
    density = _number(overrides, "density", where) if overrides.get("density") is not None else base.density
    excitation = _number(overrides, "averageIonisationPotential", where, default=-1.0)
    material = Material(
        uuid=base.uuid,
        name=base.name,
        sanitized_name=base.sanitized_name,
        icru=base.icru,
        density=density,
        mean_excitation=excitation if excitation >= 0 else base.mean_excitation,
    )
    return material, bool(overrides.get("customStoppingPower"))


def _zone(entry: dict, path: str, figure_index: dict[str, int]) -> Zone:
    _item(entry, path)
    operations = []
    for group_number, group in enumerate(_list(entry, "unionOperations", path)):
        if not isinstance(group, list):
            raise _fail(f"{path}.unionOperations[{group_number}]", "must be a list")
        items = []
        for item_number, operation in enumerate(group):
            where = f"{path}.unionOperations[{group_number}][{item_number}]"
            mode = _text(_item(operation, where), "mode", where)
            if mode not in ("union", "intersection", "subtraction"):
                raise _fail(f"{where}.mode", f"must be union, intersection or subtraction, got {mode!r}")
            uuid = _text(operation, "objectUuid", where)
            if uuid not in figure_index:
                raise _fail(f"{where}.objectUuid", f"figure {uuid!r} is not in figureManager.figures")
            items.append((mode, figure_index[uuid]))
        operations.append(items)
    if not any(operations):
        raise _fail(f"{path}.unionOperations", "has no figures")
    custom, stopping_power = _custom_material(entry, path)
    return Zone(
        uuid=_text(entry, "uuid", path),
        name=_text(entry, "name", path, default=""),
        operations=operations,
        material_uuid=_text(entry, "materialUuid", path),
        custom=custom,
        custom_stopping_power=stopping_power,
    )


def _particle(beam: dict) -> Particle:
    particle = _dict(beam, "particle", "beam")
    particle_id = _number(particle, "id", "beam.particle")
    return Particle(
        id=int(particle_id),
        a=int(_number(particle, "a", "beam.particle", default=1)),
        z=int(_number(particle, "z", "beam.particle", default=1)),
        name=_text(particle, "name", "beam.particle", default=""),
    )


def _beam(project: dict) -> Beam:
    if not isinstance(project.get("beam"), dict):
        raise _fail("beam", "is missing: the project has no beam")
    beam = project["beam"]
    count = _number(beam, "numberOfParticles", "beam")
    if count != int(count) or count < 1:
        raise _fail("beam.numberOfParticles", f"must be a whole number >= 1, got {count!r}")
    has_cutoffs = "energyLowCutoff" in beam and "energyHighCutoff" in beam
    direction = _vector(beam, "direction", "beam", default=(0.0, 0.0, 1.0))
    if not any(direction):
        raise _fail("beam.direction", "must not be the zero vector")
    source_type = _text(beam, "sourceType", "beam", default="")
    source_type = source_type or _text(beam, "beamSourceType", "beam", default="simple")
    return Beam(
        particle=_particle(beam),
        energy=_number(beam, "energy", "beam"),
        energy_spread=_number(beam, "energySpread", "beam", default=0.0),
        energy_unit=_text(beam, "energyUnit", "beam", default="") or None,
        low_cutoff=_number(beam, "energyLowCutoff", "beam") if has_cutoffs else None,
        high_cutoff=_number(beam, "energyHighCutoff", "beam") if has_cutoffs else None,
        number_of_particles=int(count),
        position=_vector(beam, "position", "beam"),
        direction=direction,
        sigma=_section(beam, "sigma", "beam") or None,
        sad=_section(beam, "sad", "beam") or None,
        source_type=str(source_type),
        source_file=_section(beam, "sourceFile", "beam"),
    )


def _detector(entry: dict, path: str) -> Detector:
    geometry = _dict(_item(entry, path), "geometryData", path)
    kind = _text(geometry, "geometryType", f"{path}.geometryData")
    if kind not in DETECTOR_KINDS:
        raise _fail(f"{path}.geometryData.geometryType", f"detector type {kind!r} is not supported")
    return Detector(
        uuid=_text(entry, "uuid", path),
        name=_text(entry, "name", path, default=""),
        kind=kind,
        position=_vector(geometry, "position", f"{path}.geometryData", default=(0.0, 0.0, 0.0)),
        rotation=_vector(geometry, "rotation", f"{path}.geometryData", default=(0.0, 0.0, 0.0)),
        params=_section(geometry, "parameters", f"{path}.geometryData"),
        path=path,
    )


def _filter(entry: dict, path: str) -> Filter:
    name = _text(_item(entry, path), "name", path)
    uuid = _text(entry, "uuid", path)
    if isinstance(entry.get("rules"), list):
        rules = []
        for number, rule in enumerate(entry["rules"]):
            where = f"{path}.rules[{number}]"
            keyword, operator = _text(_item(rule, where), "keyword", where), _text(rule, "operator", where)
            value = _get(rule, "value", where)
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise _fail(f"{where}.value", f"must be a number, got {_shown(value)}")
            rules.append((keyword, operator, value))
        return Filter(uuid=uuid, name=name, rules=rules, particle_id=None, path=path)
    if isinstance(entry.get("particle"), dict):
        particle_id = int(_number(entry["particle"], "id", f"{path}.particle"))
        return Filter(uuid=uuid, name=name, rules=None, particle_id=particle_id, path=path)
    return Filter(uuid=uuid, name=name, rules=None, particle_id=None, path=path)


def _modifier(entry: dict, path: str) -> Modifier:
    bins = _number(_item(entry, path), "binsNumber", path)
    if bins != int(bins) or bins < 1:
        raise _fail(f"{path}.binsNumber", f"must be a whole number >= 1, got {bins!r}")
    return Modifier(
        diff_type=_text(entry, "diffType", path),
        lower=_number(entry, "lowerLimit", path),
        upper=_number(entry, "upperLimit", path),
        bins=int(bins),
        log=bool(entry.get("isLog")),
    )


def parse(project: dict) -> Project:
    """The editor project checked and read into a Project; InvalidInput names the first field that is wrong."""
    if not isinstance(project, dict):
        raise InvalidInput("input_json must be an editor project (an object)", field="input_json")
    beam = _beam(project)
    figures = []
    figure_list = _list(_dict(project, "figureManager", ""), "figures", "figureManager")
    for number, entry in enumerate(figure_list):
        path = f"figureManager.figures[{number}]"
        solid = _solid(_dict(_item(entry, path), "geometryData", path), f"{path}.geometryData")
        uuid, name = _text(entry, "uuid", path), _text(entry, "name", path, default="")
        figures.append(Figure(uuid=uuid, name=name, solid=solid))
    figure_index = {figure.uuid: index for index, figure in enumerate(figures)}

    zone_manager = _dict(project, "zoneManager", "")
    zones = [
        _zone(entry, f"zoneManager.zones[{number}]", figure_index)
        for number, entry in enumerate(_list(zone_manager, "zones", "zoneManager"))
    ]
    world_entry = _dict(zone_manager, "worldZone", "zoneManager")
    world_custom, _ = _custom_material(world_entry, "zoneManager.worldZone")
    world = World(
        solid=_solid(_dict(world_entry, "geometryData", "zoneManager.worldZone"), "zoneManager.worldZone.geometryData"),
        material_uuid=_text(world_entry, "materialUuid", "zoneManager.worldZone"),
        custom=world_custom,
    )
    materials = [
        _material(entry, f"materialManager.materials[{number}]")
        for number, entry in enumerate(_list(_dict(project, "materialManager", ""), "materials", "materialManager"))
    ]

    detectors = [
        _detector(entry, f"detectorManager.detectors[{number}]")
        for number, entry in enumerate(
            _list(_section(project, "detectorManager", ""), "detectors", "detectorManager", required=False)
        )
    ]
    scoring = _section(project, "scoringManager", "")
    filters = [
        _filter(entry, f"scoringManager.filters[{number}]")
        for number, entry in enumerate(_list(scoring, "filters", "scoringManager", required=False))
    ]
    by_filter = {item.uuid: item for item in filters}
    by_detector = {item.uuid: item for item in detectors}
    outputs = []
    for number, entry in enumerate(_list(scoring, "outputs", "scoringManager", required=False)):
        path = f"scoringManager.outputs[{number}]"
        detector_uuid = _text(_item(entry, path), "detectorUuid", path)
        if detector_uuid not in by_detector:
            raise _fail(f"{path}.detectorUuid", f"detector {detector_uuid!r} is not in detectorManager.detectors")
        quantities = []
        for q_number, quantity in enumerate(_list(entry, "quantities", path, required=False)):
            where = f"{path}.quantities[{q_number}]"
            filter_uuid = _text(_item(quantity, where), "filter", where, default="")
            if filter_uuid and filter_uuid not in by_filter:
                raise _fail(f"{where}.filter", f"filter {filter_uuid!r} is not in scoringManager.filters")
            quantities.append(
                Quantity(
                    uuid=_text(quantity, "uuid", where, default=""),
                    name=_text(quantity, "name", where),
                    keyword=_text(quantity, "keyword", where),
                    filter=by_filter.get(filter_uuid) if filter_uuid else None,
                    modifiers=[
                        _modifier(item, f"{where}.modifiers[{m_number}]")
                        for m_number, item in enumerate(_list(quantity, "modifiers", where, required=False))
                    ],
                    raw=quantity,
                    path=where,
                )
            )
        name = _text(entry, "name", path)
        outputs.append(Output(name=name, detector=by_detector[detector_uuid], quantities=quantities, path=path))
    special = _section(project, "specialComponentsManager", "")
    modulator = _section(special, "modulator", "specialComponentsManager") or None
    if special.get("CTCube"):
        raise _fail("specialComponentsManager.CTCube", "CT cubes are not supported by the converters")
    parsed = Project(
        title=_text(_section(project, "project", ""), "title", "project", default=""),
        figures=figures,
        zones=zones,
        world=world,
        materials=materials,
        beam=beam,
        detectors=detectors,
        filters=filters,
        outputs=outputs,
        physic=_section(project, "physic", ""),
        modulator=modulator,
        raw=project,
    )
    for number, zone in enumerate(zones):
        if zone.custom is None:
            parsed.material(zone.material_uuid, f"zoneManager.zones[{number}].materialUuid")
    if world.custom is None:
        parsed.material(world.material_uuid, "zoneManager.worldZone.materialUuid")
    return parsed


def split_primaries(project: dict, ntasks: int) -> dict:
    """A copy of the project with beam.numberOfParticles divided by ntasks (remainder dropped), as yaptide did.

    ntasks is first clamped to [1, numberOfParticles]; the project itself is not changed.
    """
    if not isinstance(project, dict) or not isinstance(project.get("beam"), dict):
        raise _fail("beam", "is missing: the project has no beam")
    count = _number(project["beam"], "numberOfParticles", "beam")
    if count != int(count) or count < 1:
        raise _fail("beam.numberOfParticles", f"must be a whole number >= 1, got {count!r}")
    ntasks = min(max(int(ntasks), 1), int(count))
    adjusted = copy.deepcopy(project)
    adjusted["beam"]["numberOfParticles"] = int(count) // ntasks
    return adjusted


def editor_project_of(document: dict) -> dict:
    """The editor project in a bare project, a saved simulation ({"input": {"inputJson": ...}}) or a payload."""
    if not isinstance(document, dict):
        raise InvalidInput("the document must be a JSON object")
    for holder in (document.get("input"), document):
        if isinstance(holder, dict):
            for key in ("inputJson", "input_json"):
                if isinstance(holder.get(key), dict):
                    return holder[key]
    return document


# --- geometry shared by the converters ------------------------------------------------------------


def rotate(vector: tuple[float, float, float], angles_deg: tuple[float, float, float]) -> tuple[float, float, float]:
    """The vector rotated about the fixed X, then Y, then Z axes by the editor's angles (degrees)."""
    x, y, z = vector
    ax, ay, az = (math.radians(angle) for angle in angles_deg)
    y, z = y * math.cos(ax) - z * math.sin(ax), y * math.sin(ax) + z * math.cos(ax)
    x, z = x * math.cos(ay) + z * math.sin(ay), -x * math.sin(ay) + z * math.cos(ay)
    x, y = x * math.cos(az) - y * math.sin(az), x * math.sin(az) + y * math.cos(az)
    return x, y, z


def check_solid_cylinder(solid: Solid, label: str) -> None:
    """A hollow cylinder cannot be one body: refuse it rather than write a solid one."""
    inner = solid.params.get("innerRadius") or 0
    if isinstance(inner, int | float) and inner > 0:
        raise _fail(
            f"{solid.path}.parameters.innerRadius",
            f"hollow cylinders (innerRadius {inner} > 0) cannot be converted to {label}; "
            "make the hole a separate figure and subtract it in the zone",
        )


def fail(path: str, reason: str) -> InvalidInput:
    """An InvalidInput for a field of the editor project."""
    return _fail(path, reason)


def number_at(obj: dict, key: str, path: str, default: float | None = None) -> float:
    """A number of the editor project (`default` when absent); InvalidInput for anything else."""
    return _number(obj, key, path, default)


def text_at(obj: dict, key: str, path: str, default: str | None = None) -> str:
    """A name or keyword of the editor project (`default` when absent); InvalidInput for anything else."""
    return _text(obj, key, path, default)


def section_at(obj: dict, key: str, path: str) -> dict:
    """An optional object of the editor project ({} when absent); InvalidInput when it is not an object."""
    return _section(obj, key, path)
