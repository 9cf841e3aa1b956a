from django.utils.translation import gettext_noop as N_

NAV = [
    ("matching:queue", N_("Matches"), "adjudicate"),
]
