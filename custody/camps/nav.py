from django.utils.translation import gettext_noop as N_

NAV = [
    ("camps:camp_list", N_("Camps"), "view"),
    ("camps:children", N_("Children approaching 15 and 18"), "protection"),
]
