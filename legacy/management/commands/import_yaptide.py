"""manage.py import_yaptide --source postgres://...: import a yaptide (Flask) database, see README."""

from django.contrib.admin.models import CHANGE
from django.core.management.base import BaseCommand, CommandError

from legacy.load import Importer
from legacy.source import LegacySource, SourceError
from yaptide_site.audit import audit_command


class Command(BaseCommand):
    help = "Imports users, clusters and simulations from a yaptide (Flask) PostgreSQL database, read-only."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="URL of the yaptide database: postgres://user@host/db")
        parser.add_argument("--dry-run", action="store_true", help="Read and check everything, write nothing.")
        parser.add_argument("--report", metavar="FILE", help="Write the report here as JSON (with the summary).")
        parser.add_argument("--batch-size", type=int, default=200, help="Simulations (and users) per transaction.")
        parser.add_argument(
            "--max-batches", type=int, default=None, help="Stop after this many simulation batches (resume later)."
        )

    def handle(self, *args, source, dry_run, report, batch_size, max_batches, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if not source.startswith(("postgres://", "postgresql://")):
            raise CommandError("--source must be a postgres:// or postgresql:// URL")
        try:
            legacy = LegacySource(source)
        except SourceError as error:
            raise CommandError(str(error)) from None
        with legacy:
            importer = Importer(
                source=legacy,
                source_url=source,
                dry_run=dry_run,
                batch_size=batch_size,
                max_batches=max_batches,
                progress_stream=self.stderr._out,  # the bare stream: the bar redraws with \r
            )
            try:
                importer.run()
            except SourceError as error:
                raise CommandError(str(error)) from None
            finally:
                # A run that stopped on an error still says what it did (complete: false); the next run resumes.
                if report:
                    importer.report.write(report)
                if not dry_run and getattr(importer, "state", None) is not None and importer.state.pk:
                    first_line = importer.report.summary_lines()[0]
                    audit_command(command="import_yaptide", obj=importer.state, action=CHANGE, message=first_line)
        self.stdout.write(importer.report.summary())
