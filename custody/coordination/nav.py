from django.utils.translation import gettext_noop

NAV = [
    ("coordination:dashboard", gettext_noop("Common picture"), "view"),
    ("coordination:sitrep", gettext_noop("Situation report"), "view"),
    ("coordination:meeting_list", gettext_noop("Working group"), "view"),
    ("coordination:warnings", gettext_noop("Site warnings"), "view"),
]
