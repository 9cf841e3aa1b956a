from django.utils.translation import gettext_noop as N_

NAV = [
    ("ledger:overview", N_("Custody ledger"), "view"),
    ("ledger:discrepancy_board", N_("Discrepancies"), "change"),
    ("ledger:handover", N_("Handovers"), "change"),
]
