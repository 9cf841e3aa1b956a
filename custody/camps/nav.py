from django.utils.translation import gettext_noop

NAV = [
    ("camps:camp_list", gettext_noop("Camps"), "view"),
    ("camps:children", gettext_noop("Children approaching 15 and 18"), "protection"),
]
