from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print the webhook secret of the embedded demo (never prints a production secret)."

    def handle(self, *args, **options):
        if settings.PM_MODE != "embedded":
            self.stdout.write("Not the embedded demo: the webhook secret is WEBHOOK_SECRET in your environment.")
            return
        self.stdout.write(f'Demo webhook secret: {settings.PM_WEBHOOK_SECRET}  (send it as "secret" in the JSON)')
