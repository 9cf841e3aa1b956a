from django.utils.translation import gettext_noop as N_

NAV = [
    ("cases:case_list", N_("Cases"), "view"),
    ("cases:disclosure_list", N_("Disclosure review"), "view"),
]
