import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from simulations.choices import InputType
from simulations.simulators import SIMULATORS, get_simulator
from simulations.simulators.editor import editor_project_of
from yaptide_site.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "Convert a yaptide editor project (a bare project, or a saved simulation with input.inputJson) into the "
        "input files of a simulator and write them into OUTDIR. With --ntasks N the beam's numberOfParticles is "
        "divided by N (remainder dropped), as for each task of a submitted job; the same code as submission."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sim-type", required=True, choices=[name for name in SIMULATORS if name != "dummy"])
        parser.add_argument("--ntasks", type=int, default=1)
        parser.add_argument("project", type=Path, help="the editor project or saved simulation (JSON)")
        parser.add_argument("outdir", type=Path, help="the directory to write the files into (created if missing)")

    def handle(self, *args, sim_type, ntasks, project, outdir, **options):
        if ntasks < 1:
            raise CommandError("--ntasks must be at least 1")
        try:
            document = json.loads(project.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"cannot read {project}: {error.strerror}") from None
        except ValueError as error:
            raise CommandError(f"{project} is not JSON: {error}") from None
        try:
            prepared = get_simulator(sim_type).prepare(
                input_type=InputType.EDITOR, input_json=editor_project_of(document), input_files=None, ntasks=ntasks
            )
        except InvalidInput as error:
            raise CommandError(f"{project} cannot be converted for {sim_type}: {error.message}") from None
        outdir.mkdir(parents=True, exist_ok=True)
        for name, text in prepared.files.items():
            (outdir / name).write_text(text, encoding="utf-8", newline="\n")
            self.stdout.write(str(outdir / name))
