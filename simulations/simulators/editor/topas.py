"""Editor project -> TOPAS input: topas_config.txt and info.json, what yaptide's converter supports for TOPAS.

That is a fixed setup (a proton pencil beam on a water phantom in an air box, dose to water scored to CSV,
physics g4em-standard_opt0) in which only the beam energy and the number of histories come from the project.
The geometry, materials and scoring of the project are not converted, so a beam other than protons is refused.
"""

from . import fail, parse

INPUT_NAME = "topas_config.txt"
INFO = "{'version': '', 'label': '', 'simulator': 'topas'}"
TEMPLATE = """s:Ge/MyBox/Type     = "TsBox"
s:Ge/MyBox/Material = "Air"
s:Ge/MyBox/Parent   = "World"
d:Ge/MyBox/HLX      = 2.5 m
d:Ge/MyBox/HLY      = 2. m
d:Ge/MyBox/HLZ      = 1. m
d:Ge/MyBox/TransX   = 2. m
d:Ge/MyBox/TransY   = 0. m
d:Ge/MyBox/TransZ   = 0. m
d:Ge/MyBox/RotX     = 0. deg
d:Ge/MyBox/RotY     = 0. deg
d:Ge/MyBox/RotZ     = 0. deg

s:So/Demo/Type = "Beam"
s:So/Demo/Component = "BeamPosition"
s:So/Demo/BeamParticle = "proton"
d:So/Demo/BeamEnergy = {energy} MeV
u:So/Demo/BeamEnergySpread = 0.757504
s:So/Demo/BeamPositionDistribution = "Gaussian"
s:So/Demo/BeamPositionCutoffShape = "Ellipse"
d:So/Demo/BeamPositionCutoffX = 10. cm
d:So/Demo/BeamPositionCutoffY = 10. cm
d:So/Demo/BeamPositionSpreadX = 0.65 cm
d:So/Demo/BeamPositionSpreadY = 0.65 cm
s:So/Demo/BeamAngularDistribution = "Gaussian"
d:So/Demo/BeamAngularCutoffX = 90. deg
d:So/Demo/BeamAngularCutoffY = 90. deg
d:So/Demo/BeamAngularSpreadX = 0.0032 rad
d:So/Demo/BeamAngularSpreadY = 0.0032 rad
i:So/Demo/NumberOfHistoriesInRun = {histories}
i:Ts/ShowHistoryCountAtInterval = {interval}

s:Ge/BeamPosition/Parent="World"
s:Ge/BeamPosition/Type="Group"
d:Ge/BeamPosition/TransX=0. m
d:Ge/BeamPosition/TransY=0. m
d:Ge/BeamPosition/TransZ= Ge/World/HLZ m
d:Ge/BeamPosition/RotX=180. deg
d:Ge/BeamPosition/RotY=0. deg
d:Ge/BeamPosition/RotZ=0. deg

s:Sc/Dose/Quantity                  = "DoseToWater"
s:Sc/Dose/Component                 = "WaterPhantom"
s:Sc/Dose/IfOutputFileAlreadyExists = "Overwrite"
s:Sc/Dose/OutputType                = "CSV"

s:Ge/WaterPhantom/Parent            = "MyBox"
s:Ge/WaterPhantom/Type              = "TsBox"
s:Ge/WaterPhantom/Material          = "G4_WATER"
d:Ge/WaterPhantom/HLX               = 2.5 m
d:Ge/WaterPhantom/HLY               = 2. m
d:Ge/WaterPhantom/HLZ               = 0.1 cm
i:Ge/WaterPhantom/XBins             = 80
i:Ge/WaterPhantom/YBins             = 80
i:Ge/WaterPhantom/ZBins             = 1
d:Ge/WaterPhantom/TransZ            = 0. cm
s:Ge/WaterPhantom/DrawingStyle      = "Solid"
s:Ge/WaterPhantom/Color             = "skyblue"

sv:Ph/Default/Modules = 1 "g4em-standard_opt0"
"""


def convert(project: dict) -> dict[str, str]:
    """TOPAS input files (name -> text) for an editor project: yaptide's fixed proton setup with its energy."""
    parsed = parse(project)
    beam = parsed.beam
    if beam.source_type == "file":
        raise fail("beam.sourceType", "a beam from a source file (sobp.dat) is not supported by the TOPAS converter")
    if beam.particle.id != 2:
        reason = f"the TOPAS converter runs proton beams only (particle id 2), got {beam.particle.id}"
        raise fail("beam.particle.id", reason)
    histories = beam.number_of_particles
    text = TEMPLATE.format(energy=float(beam.energy), histories=histories, interval=max(1, histories // 100))
    return {INPUT_NAME: text, "info.json": INFO}
