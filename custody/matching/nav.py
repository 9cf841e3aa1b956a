from django.utils.translation import gettext_noop

NAV = [
    ("matching:queue", gettext_noop("Matches"), "adjudicate"),
]
