from django.utils.translation import gettext_noop as N_

NAV = [
    ("coordination:dashboard", N_("Common picture"), "view"),
    ("coordination:sitrep", N_("Situation report"), "view"),
    ("coordination:meeting_list", N_("Working group"), "view"),
    ("coordination:warnings", N_("Site warnings"), "view"),
]
