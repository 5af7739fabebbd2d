from django.core.management.base import BaseCommand

from recovery.schedule import periodic_tasks_sync


class Command(BaseCommand):
    help = "Write the leader jobs' schedule (defined in recovery/jobs.py) to the beat tables."

    def handle(self, *args, **options):
        for name in periodic_tasks_sync():
            self.stdout.write(f"scheduled {name}")
