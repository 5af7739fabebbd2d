from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portfolio.services import portfolio_initialise


class Command(BaseCommand):
    help = "Create the portfolio state and its opening DEPOSIT (once; later runs change nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--capital", required=True, help="Opening capital in rupees, e.g. 5000000")
        parser.add_argument("--actor", default="init_portfolio", help="Recorded as the ledger author")

    def handle(self, *args, capital, actor, **options):
        try:
            state, created = portfolio_initialise(capital=capital, actor=actor)
        except ValidationError as exc:
            raise CommandError("; ".join(f"--{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()))
        if created:
            self.stdout.write(self.style.SUCCESS(f"Portfolio initialised with capital ₹{state.initial_capital:,}."))
        else:
            self.stdout.write(
                f"Portfolio already initialised (initial capital ₹{state.initial_capital:,}, "
                f"closed equity ₹{state.closed_equity:,}); nothing changed."
            )
